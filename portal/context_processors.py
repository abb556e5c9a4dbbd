def tenancy(request):
    """The active tenant and membership, and the others the user can switch to."""
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": getattr(request, "membership", None),
        "memberships": getattr(request, "memberships", []),
    }

"""Demo numbers: each demo company gets a few real subscriptions through the sandbox.

Run by the ``callflows.demo`` task once the worker is up (the sandbox carrier is a server of its
own, so the task retries until that answers), which then gives the numbers their demo flows;
the demo companies' tasks run side by side. Idempotent: a company that has numbers gets none
added.
"""

from dins import selectors
from dins.models import Subscription
from dins.subscriptions.request import subscription_request
from portal.models import Membership, Role
from portal.services import ServiceError

# (business choice, trial?) per demo number; the first one is a running trial.
DEMO_NUMBERS = [("jp-050", True), ("jp-050", False), ("jp-0120", False)]


def demo_numbers_subscribe() -> int:
    """Subscribe the active tenant's demo numbers; answers how many were requested."""
    if Subscription.objects.exists():
        return 0
    owner = Membership.objects.filter(role=Role.OWNER).select_related("user").first()
    if owner is None:
        return 0
    requested = 0
    taken: set[str] = set()
    for key, is_trial in DEMO_NUMBERS:
        choice = next(c for c in selectors.PREFIX_CHOICES if c.key == key)
        for offer in selectors.din_search(choice=choice):
            if offer.din.din_uid in taken:
                continue
            taken.add(offer.din.din_uid)
            try:
                subscription_request(din_uid=offer.din.din_uid, is_trial=is_trial, by=owner.user)
            except ServiceError:  # another demo company took it a moment ago: the next one
                continue
            requested += 1
            break
    return requested

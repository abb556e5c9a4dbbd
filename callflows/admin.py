"""Operators' read-only view of call flows, their versions and the call log (every tenant)."""

from django.contrib import admin

from callflows.models import CallFlow, CallLog, FlowVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changed only through the portal, where every change is versioned and audited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CallFlow)
class CallFlowAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "tenant", "version", "override_until", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["subscription__din"]


@admin.register(FlowVersion)
class FlowVersionAdmin(ReadOnlyAdmin):
    list_display = ["flow", "number", "created_by", "note", "created_at"]
    list_filter = ["tenant"]


@admin.register(CallLog)
class CallLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "tenant", "subscription", "caller", "rule", "source", "command"]
    list_filter = ["source", "tenant"]
    search_fields = ["caller", "subscription__din"]
    date_hierarchy = "at"

"""Operators' read-only view of call flows, their versions and the call log (every tenant)."""

from django.contrib import admin

from callflows.models import CallFlow, CallLog, FlowVersion
from portal.admin import ReadOnlyAdmin


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

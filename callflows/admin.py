"""Operators' read-only view of call flows, their versions and the call log (every tenant).

The call log holds every company's calls (millions): its changelist is ordered by an index
(the primary key, or a company's newest calls), counted up to a cap
(``portal.admin.LargeTableAdmin``), filtered by fixed choices (no DISTINCT over the log) and
searched by caller through the call log's own indexes.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from callflows.calllog.selectors import SOURCE_CHOICES, call_log_search
from callflows.models import CallFlow, CallLog, FlowVersion, OutboundCall
from portal.admin import ReadOnlyAdmin
from portal.models import Tenant
from portal.phone import number_search


@admin.register(CallFlow)
class CallFlowAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "tenant", "version", "override_until", "updated_at"]
    list_filter = ["tenant"]
    list_select_related = ["subscription", "tenant"]
    search_fields = ["subscription__din"]
    ordering = ["-id"]


@admin.register(FlowVersion)
class FlowVersionAdmin(ReadOnlyAdmin):
    list_display = ["flow", "number", "created_by", "note", "created_at"]
    list_filter = ["tenant"]
    # "flow" shows its number: one join, not a query a row.
    list_select_related = ["flow__subscription", "created_by", "tenant"]
    ordering = ["-id"]  # the primary key's index: every flow's versions, newest first
    sortable_by = ["created_at"]


class SourceFilter(admin.SimpleListFilter):
    """Who answered, from the fixed list (a DISTINCT over the log would read all of it)."""

    title = _("Answered by")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return SOURCE_CHOICES

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(CallLog)
class CallLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "tenant", "subscription", "caller", "rule", "source", "command"]
    list_filter = [SourceFilter, "tenant"]
    list_select_related = ["tenant", "subscription"]
    search_fields = ["caller"]
    search_help_text = _("The caller's last digits, or the number from its start (090-1234…).")
    sortable_by = ["at"]

    def get_ordering(self, request):
        # With a company chosen: its newest calls (calllog_tenant_recent). Across companies:
        # the newest written (the primary key), which is the order of time within the
        # writers' second; an index on the time of every company's calls would cost every
        # call's write more than it saves operators.
        if request.GET.get("tenant__id__exact"):
            return ["-at", "-id"]
        return ["-id"]

    def get_search_results(self, request, queryset, search_term):
        """A caller by its last digits or its start, through the log's caller indexes."""
        if not search_term.strip():
            return queryset, False
        search = number_search(search_term)
        if search is None:
            return queryset.none(), False
        # The caller indexes lead with the company: naming every company lets PostgreSQL walk
        # them company by company instead of reading every company's calls.
        tenants = list(Tenant.objects.order_by("pk").values_list("pk", flat=True))
        return call_log_search(queryset.filter(tenant_id__in=tenants), search=search), False


@admin.register(OutboundCall)
class OutboundCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "subscription", "recipient", "status", "duration"]
    list_filter = ["status", "tenant"]
    list_select_related = ["tenant", "subscription"]
    ordering = ["-id"]
    search_fields = ["recipient", "callid"]
    exclude = ["callback_token"]

"""Django admin for the sandbox carrier's books (operators only, as all of admin).

Balances change only through ``sandbox.accounts.balance_change``, which writes the ledger: the
admin shows money read-only.
"""

from django.contrib import admin
from django.db import models

from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxFault,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
    SandboxVoicemail,
)


@admin.register(SandboxAccount)
class SandboxAccountAdmin(admin.ModelAdmin):
    list_display = ["sid", "balance", "created_at"]
    search_fields = ["sid"]
    readonly_fields = ["balance", "created_at", "updated_at"]


@admin.register(SandboxDin)
class SandboxDinAdmin(admin.ModelAdmin):
    list_display = ["din", "din_uid", "country", "prefix", "monthly_cost", "minute_cost"]
    list_filter = ["country", "prefix"]
    search_fields = ["din", "din_uid"]


@admin.register(SandboxSubscription)
class SandboxSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["din", "account", "action_url", "subscribed_at", "released_at"]
    list_filter = ["released_at"]
    search_fields = ["din__din", "din__din_uid", "account__sid"]
    list_select_related = ["din", "account"]
    readonly_fields = ["account", "din", "subscribed_at", "released_at", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(SandboxCall)
class SandboxCallAdmin(admin.ModelAdmin):
    list_display = ["callid", "caller", "recipient", "status", "start_time", "duration", "cost"]
    list_filter = ["status", "is_local_caller_id"]
    search_fields = ["callid", "caller", "recipient"]
    readonly_fields = [field.name for field in SandboxCall._meta.fields]


@admin.register(SandboxLedgerEntry)
class SandboxLedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "description"]
    list_filter = ["kind"]
    search_fields = ["account__sid", "description"]
    readonly_fields = [field.name for field in SandboxLedgerEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SandboxIncomingCall)
class SandboxIncomingCallAdmin(admin.ModelAdmin):
    list_display = ["started_at", "caller", "recipient", "outcome", "billed_minutes", "cost"]
    list_filter = ["outcome"]
    search_fields = ["call_id", "caller", "recipient", "failure_reason"]
    readonly_fields = [field.name for field in SandboxIncomingCall._meta.fields]


@admin.register(SandboxVoicemail)
class SandboxVoicemailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "caller", "recipient", "greeting", "duration_seconds"]
    search_fields = ["caller", "recipient"]
    # The recording is bytes: the operators' page plays it; admin shows everything else.
    exclude = ["recording"]
    readonly_fields = [
        field.name for field in SandboxVoicemail._meta.fields if field.name != "recording"
    ]


@admin.register(SandboxFault)
class SandboxFaultAdmin(admin.ModelAdmin):
    """Faults can be written here too; the operators' page and sandbox_fault_add validate."""

    list_display = [
        "created_at",
        "method",
        "path_pattern",
        "status",
        "when",
        "delay_seconds",
        "remaining",
    ]
    list_filter = ["method", "when", "status"]

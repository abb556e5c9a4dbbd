"""Operators' view of every tenant's numbers, and of carrier numbers nobody here owns."""

from django.contrib import admin

from dins.models import CarrierOrphan, Subscription, TrialReminder


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["din", "tenant", "status", "is_trial", "release_at", "carrier_missing_since"]
    list_filter = ["status", "is_trial", "tenant"]
    search_fields = ["din", "din_uid", "label"]
    exclude = ["action_token"]
    readonly_fields = [
        "din_uid",
        "din",
        "country_code",
        "prefix",
        "status",
        "carrier_accepted_at",
        "trial_deadline",
        "release_at",
        "released_at",
        "release_attempts",
        "release_error",
    ]


@admin.register(TrialReminder)
class TrialReminderAdmin(admin.ModelAdmin):
    list_display = ["subscription", "minutes_before", "sent_at"]


@admin.register(CarrierOrphan)
class CarrierOrphanAdmin(admin.ModelAdmin):
    list_display = ["din", "din_uid", "action_url", "first_seen_at", "last_seen_at"]
    search_fields = ["din", "din_uid"]

    def has_add_permission(self, request):
        return False

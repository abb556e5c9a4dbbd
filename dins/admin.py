"""Operators' view of every tenant's numbers, calls and carrier numbers nobody here owns.

Subscriptions are never deleted here (a row is the record of what the carrier billed); the
actions hand work to the same services and tasks the portal itself uses: retry a failed
subscribe, release, send the action URL to the carrier again.
"""

import uuid

from django.contrib import admin, messages
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dins.models import CarrierOrphan, Subscription, SubscriptionStatus, TrialReminder
from dins.subscriptions.common import enqueue_push_action_url, enqueue_subscribe
from dins.subscriptions.release import subscription_release_request
from portal.admin import LargeTableAdmin
from portal.phone import display
from portal.scoping import tenant_scope
from portal.services import ServiceError, audit_record


@admin.register(Subscription)
class SubscriptionAdmin(LargeTableAdmin):
    list_display = [
        "number",
        "tenant",
        "status",
        "is_trial",
        "release_at",
        "carrier_missing_since",
        "updated_at",
    ]
    list_filter = ["status", "is_trial", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["din", "din_uid", "label"]
    exclude = ["action_token"]
    readonly_fields = [
        "din_uid",
        "din",
        "country_code",
        "prefix",
        "status",
        "failure_reason",
        "carrier_accepted_at",
        "trial_deadline",
        "release_at",
        "released_at",
        "release_attempts",
        "release_error",
        "action_url_pushed",
    ]
    actions = ["retry_subscribe", "release", "push_action_url"]

    @admin.display(description=_("number"), ordering="din")
    def number(self, subscription):
        return display(subscription.e164)

    def has_delete_permission(self, request, obj=None):
        # The row is the record of a number the carrier may have billed: release, never delete.
        return False

    @admin.action(description=_("Retry the subscription (failed numbers)"))
    def retry_subscribe(self, request, queryset):
        retried = 0
        for subscription in queryset.filter(status=SubscriptionStatus.FAILED):
            claim = uuid.uuid4().hex
            try:
                with transaction.atomic(), tenant_scope(subscription.tenant):
                    changed = Subscription.objects.filter(
                        pk=subscription.pk, status=SubscriptionStatus.FAILED
                    ).update(
                        status=SubscriptionStatus.PENDING,
                        failure_reason="",
                        claim=claim,
                        claimed_at=timezone.now(),
                        # A new attempt: the failed one's request did not take effect.
                        sent_at=None,
                        last_sent_at=None,
                        updated_at=timezone.now(),
                    )
                    if not changed:
                        continue
                    audit_record(
                        action="subscription.request",
                        obj=subscription,
                        request=request,
                        after={"din": subscription.din, "retry": True},
                    )
                    enqueue_subscribe(subscription, claim=claim)
            except IntegrityError:
                self.message_user(
                    request,
                    _("%(number)s is being subscribed by someone else already.")
                    % {"number": display(subscription.e164)},
                    messages.WARNING,
                )
                continue
            retried += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d subscription will be tried again.",
                "%(count)d subscriptions will be tried again.",
                retried,
            )
            % {"count": retried},
        )

    @admin.action(description=_("Release the number at the carrier (active numbers)"))
    def release(self, request, queryset):
        released = 0
        for subscription in queryset.filter(status=SubscriptionStatus.ACTIVE):
            with tenant_scope(subscription.tenant):
                try:
                    # The operator's choice in this admin action is the confirmation.
                    subscription_release_request(
                        subscription=subscription,
                        typed_number=subscription.e164,
                        request=request,
                    )
                except ServiceError as error:
                    self.message_user(request, str(error), messages.WARNING)
                    continue
            released += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d number is being released.",
                "%(count)d numbers are being released.",
                released,
            )
            % {"count": released},
        )

    @admin.action(description=_("Send the action URL to the carrier again (active numbers)"))
    def push_action_url(self, request, queryset):
        pushed = 0
        for subscription in queryset.filter(status=SubscriptionStatus.ACTIVE):
            enqueue_push_action_url(subscription)
            pushed += 1
        self.message_user(
            request,
            ngettext(
                "The action URL of %(count)d number is being sent again.",
                "The action URLs of %(count)d numbers are being sent again.",
                pushed,
            )
            % {"count": pushed},
        )


@admin.register(TrialReminder)
class TrialReminderAdmin(admin.ModelAdmin):
    list_display = ["subscription", "minutes_before", "sent_at"]


@admin.register(CarrierOrphan)
class CarrierOrphanAdmin(admin.ModelAdmin):
    list_display = ["din", "din_uid", "action_url", "first_seen_at", "last_seen_at"]
    search_fields = ["din", "din_uid"]

    def has_add_permission(self, request):
        return False

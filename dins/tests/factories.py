"""Rows of the numbers app for tests (registered for the tenant-isolation walk)."""

from decimal import Decimal

import factory
from django.utils import timezone

from dins.models import Subscription, SubscriptionStatus, TestCall, TrialReminder
from dins.signals import subscription_answering_changed
from dins.subscriptions.common import trial_times
from testing.scaffolding import TenantOwnedFactory, tenant_object_factory


class SubscriptionFactory(TenantOwnedFactory):
    class Meta:
        model = Subscription
        skip_postgeneration_save = True

    din_uid = factory.Sequence(lambda n: f"JPtest{n:010d}")
    din = factory.Sequence(lambda n: f"8150{n:08d}")
    country_code = "81"
    prefix = "50"
    monthly_cost = Decimal("650")
    minute_cost = Decimal("1")
    trial_price = Decimal("32.50")
    status = SubscriptionStatus.ACTIVE
    carrier_accepted_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def published(obj, create, extracted, **kwargs):
        """An active number answers what was published for it, as the services arrange."""
        if create and obj.status == SubscriptionStatus.ACTIVE and extracted is not False:
            subscription_answering_changed.send(sender=Subscription, subscriptions=[obj])

    class Params:
        trial = factory.Trait(
            is_trial=True,
            trial_deadline=factory.LazyAttribute(lambda o: trial_times(o.carrier_accepted_at)[0]),
            release_at=factory.LazyAttribute(lambda o: trial_times(o.carrier_accepted_at)[1]),
        )


@tenant_object_factory(Subscription)
def make_subscription(tenant, **related):
    return SubscriptionFactory(tenant=tenant, trial=True)


@tenant_object_factory(TrialReminder)
def make_trial_reminder(tenant, **related):
    subscription = SubscriptionFactory(tenant=tenant, trial=True)
    return TrialReminder.objects.create(tenant=tenant, subscription=subscription, minutes_before=60)


@tenant_object_factory(TestCall)
def make_test_call(tenant, **related):
    subscription = related.get("subscription") or SubscriptionFactory(tenant=tenant)
    return TestCall.objects.create(
        tenant=tenant,
        subscription=subscription,
        caller="+819012345678",
        status=TestCall.Status.DONE,
        transcript={"outcome": "completed"},
        text="completed",
    )

"""Publish every active number's call flow that needs it (run after each deployment).

Idempotent: numbers whose publication is current are left alone unless ``--all`` is given.
"""

from django.core.management.base import BaseCommand

from callflows.flows import publishing
from dins.models import Subscription, SubscriptionStatus
from portal.scoping import scopes_disabled


class Command(BaseCommand):
    help = "Publish active numbers' call flows that are missing or run out soon (--all: every one)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="republish every active number")

    def handle(self, *args, all: bool, **options):
        if all:
            with scopes_disabled():
                subscriptions = list(Subscription.objects.filter(status=SubscriptionStatus.ACTIVE))
            count = publishing.flows_publish(subscriptions=subscriptions)
            self.stdout.write(f"published {count} call flow(s)")
            return
        result = publishing.flows_republish_due()
        self.stdout.write(", ".join(f"{key} {value}" for key, value in result.items()))

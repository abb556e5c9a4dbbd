"""Put the sandbox's number inventory in place (the API also does it on first use)."""

from django.core.management.base import BaseCommand

from sandbox import subscriptions


class Command(BaseCommand):
    help = "Create the sandbox carrier's deterministic number inventory if it is missing."

    def handle(self, *args, **options):
        added = subscriptions.sandbox_inventory_ensure()
        self.stdout.write(f"Sandbox inventory: {added} numbers added.")

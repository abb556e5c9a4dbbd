from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Create the demo tenants, people and data (idempotent)."

    def handle(self, *args, **options):
        for tenant, email, role in demo_seed():
            self.stdout.write(f"  {email:<28} {role:<10} {tenant}")
        self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")

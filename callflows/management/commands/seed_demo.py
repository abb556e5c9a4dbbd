"""Create the demo companies and people, then have the worker subscribe their numbers and give
them realistic flows (``callflows.demo``). Idempotent: `make run` runs it every time."""

from django.core.management.base import BaseCommand

from callflows import tasks
from portal.demo import DEMO_PASSWORD, DEMO_TENANTS, demo_seed
from portal.models import Tenant


class Command(BaseCommand):
    help = "Create the demo tenants, people and numbers (idempotent)."

    def handle(self, *args, **options):
        for tenant_name, email, role in demo_seed():
            self.stdout.write(f"  {email:<28} {role:<10} {tenant_name}")
        self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")
        # The worker subscribes the demo numbers through the sandbox once it is up; a company
        # that already has numbers gets none added.
        names = [name for name, _language in DEMO_TENANTS]
        for tenant in Tenant.objects.filter(name__in=names):
            tasks.demo_seed.delay(tenant_id=tenant.pk)

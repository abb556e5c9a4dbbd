from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD, DEMO_TENANTS, demo_seed
from portal.models import Tenant


class Command(BaseCommand):
    help = "Create the demo tenants, people and numbers (idempotent)."

    def handle(self, *args, **options):
        from dins.tasks import demo_numbers

        for tenant, email, role in demo_seed():
            self.stdout.write(f"  {email:<28} {role:<10} {tenant}")
        self.stdout.write(f"  password for every demo login: {DEMO_PASSWORD}")
        # The worker subscribes the demo numbers through the sandbox once web is up; a
        # company that already has numbers gets none added.
        names = [name for name, _language in DEMO_TENANTS]
        for tenant in Tenant.objects.filter(name__in=names):
            demo_numbers.delay(tenant_id=tenant.pk)

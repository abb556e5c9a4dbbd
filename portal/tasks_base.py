"""Base class for Celery tasks that work on one tenant's data."""

from celery import Task
from django.utils import timezone, translation

from portal.models import Tenant
from portal.scoping import tenant_scope


class TenantTask(Task):
    """Runs the task body inside the scope of the tenant named by its ``tenant_id`` argument.

    Bodies declare a keyword-only ``tenant_id`` and read the tenant's rows through the scoped
    managers as usual; the tenant's time zone and language are active too, so e-mails and dates
    come out as the tenant expects. ``tenant_id`` stays in the task's own arguments (rather
    than being stripped here) so that Celery's retries re-send it in every execution path.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        tenant = Tenant.objects.get(pk=kwargs["tenant_id"])
        with (
            tenant_scope(tenant),
            timezone.override(tenant.zone),
            translation.override(tenant.language),
        ):
            return super().__call__(*args, **kwargs)

"""Base class for Celery tasks that work on one tenant's data."""

from celery import Task
from django.utils import timezone, translation

from portal.scoping import tenant_scope


class TenantTask(Task):
    """Runs the task body inside the scope of the tenant named by ``tenant_id``.

    Enqueue with ``task.delay(..., tenant_id=tenant.pk)``; the body receives the other
    arguments and reads the tenant through ``portal.scoping.current_tenant()``. The tenant's
    time zone and language are active too, so e-mails and dates come out as the tenant expects.
    Retries re-send the original keyword arguments, ``tenant_id`` included.
    """

    abstract = True

    def __call__(self, *args, tenant_id: int, **kwargs):
        from portal.models import Tenant

        tenant = Tenant.objects.get(pk=tenant_id)
        with (
            tenant_scope(tenant),
            timezone.override(tenant.zone),
            translation.override(tenant.language),
        ):
            return super().__call__(*args, **kwargs)

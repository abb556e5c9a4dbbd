"""The one scoping path for tenant-owned data.

Every tenant-owned model uses ``TenantManager``: its queries are filtered to the tenant of the
active scope, and a query made with no scope at all raises ``TenantScopeError`` instead of
returning every tenant's rows (fail closed). Requests get their scope from
``portal.middleware.TenantMiddleware``, Celery tasks from ``portal.tasks_base.TenantTask``.
Code that really works across tenants (the trial sweep, Django admin, migrations, the demo
seed) says so visibly with ``scopes_disabled()``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, cast

from django.db import models

if TYPE_CHECKING:
    from portal.models import Tenant


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried outside any tenant scope."""


_DISABLED = object()
_scope: ContextVar[object | None] = ContextVar("tenant_scope", default=None)


@contextmanager
def tenant_scope(tenant: Tenant):
    """Run the block with tenant-owned queries restricted to ``tenant``."""
    token = _scope.set(tenant)
    try:
        yield tenant
    finally:
        _scope.reset(token)


@contextmanager
def scopes_disabled():
    """Run the block with tenant-owned queries across all tenants (operators, sweeps)."""
    token = _scope.set(_DISABLED)
    try:
        yield
    finally:
        _scope.reset(token)


def current_tenant() -> Tenant:
    """The tenant of the active scope; raises when there is none."""
    value = _scope.get()
    if value is None or value is _DISABLED:
        raise TenantScopeError("No tenant scope is active.")
    return value  # type: ignore[return-value]


class TenantManager(models.Manager):
    """Manager that only ever returns the active tenant's rows."""

    def get_queryset(self):
        queryset = super().get_queryset()
        value = _scope.get()
        if value is _DISABLED:
            return queryset
        if value is None:
            raise TenantScopeError(
                f"{self.model.__name__} is tenant-owned: query it inside tenant_scope() "
                "or, for cross-tenant work, scopes_disabled()."
            )
        return queryset.filter(tenant_id=cast("Tenant", value).pk)

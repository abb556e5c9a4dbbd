import pytest

from portal.models import Membership
from portal.scoping import TenantScopeError, current_tenant, scopes_disabled, tenant_scope


def test_it_refuses_a_tenant_query_without_a_scope(personas):
    with pytest.raises(TenantScopeError):
        list(Membership.objects.all())


def test_it_returns_only_the_scoped_tenants_rows(personas):
    with tenant_scope(personas.tenant_b):
        emails = {m.user.email for m in Membership.objects.all()}
    assert emails == {"owner.b@example.com", "both@example.com"}


def test_it_reaches_every_tenant_only_when_scopes_are_disabled_visibly(personas):
    with scopes_disabled():
        assert Membership.objects.count() == 7


def test_it_restores_the_outer_scope_after_a_nested_one(personas):
    with tenant_scope(personas.tenant_a):
        with tenant_scope(personas.tenant_b):
            assert current_tenant() == personas.tenant_b
        assert current_tenant() == personas.tenant_a
    with pytest.raises(TenantScopeError):
        current_tenant()


def test_it_does_not_find_another_tenants_row_by_primary_key(personas):
    foreign = personas.membership(personas.owner_b, personas.tenant_b)
    with tenant_scope(personas.tenant_a), pytest.raises(Membership.DoesNotExist):
        Membership.objects.get(pk=foreign.pk)

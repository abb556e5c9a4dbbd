"""Objects of the API app for tests, and how the URL-walking tests make them."""

from api.keys import api_key_create
from api.models import ApiKey, WebhookEndpoint
from portal.models import Membership, Role
from portal.scoping import scopes_disabled, tenant_scope
from testing.scaffolding import MembershipFactory, UserFactory, tenant_object_factory


def make_key(tenant, *, role: str = "admin", name: str = "Test key") -> tuple[ApiKey, str]:
    """A key of ``tenant`` created by one of its admins; returns the row and the secret."""
    with scopes_disabled():
        admin = (
            Membership.objects.filter(tenant=tenant, role__in=[Role.ADMIN, Role.OWNER])
            .select_related("user")
            .first()
        )
    if admin is None:
        admin = MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ADMIN)
    with tenant_scope(tenant):
        created = api_key_create(name=name, role=role, expires_at=None, by=admin, request=None)
    return created.key, created.token


@tenant_object_factory(ApiKey)
def make_key_for_url(tenant, **related):
    return make_key(tenant)[0]


@tenant_object_factory(WebhookEndpoint)
def make_endpoint_for_url(tenant, **related):
    with tenant_scope(tenant):
        return WebhookEndpoint.objects.create(
            tenant=tenant,
            url="https://hooks.example.com/din",
            secret="whsec_test",
            events=["call.answered"],
        )

"""Keys are bounded by people: a key acts with at most the current role of the member whose
rights it uses (its creator, or an owner they named), and stops when that member leaves."""

import datetime

import pytest
from django.utils import timezone

from api.keys import api_key_create
from api.tests.conftest import ApiClient
from dins.models import SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.models import Role
from portal.scoping import tenant_scope
from portal.services import ServiceError, membership_change_role, membership_remove


def _key(personas, client, *, creator, role: str = "admin", holder=None) -> ApiClient:
    by = personas.membership(creator, personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        named = {"holder": holder} if holder is not None else {}
        created = api_key_create(
            name="CRM", role=role, expires_at=None, by=by, request=None, **named
        )
    return ApiClient(client, created.token)


@pytest.fixture
def trial(personas):
    now = timezone.now()
    return SubscriptionFactory(
        tenant=personas.tenant_a,
        status=SubscriptionStatus.ACTIVE,
        is_trial=True,
        carrier_accepted_at=now,
        trial_deadline=now + datetime.timedelta(hours=24),
        release_at=now + datetime.timedelta(hours=23, minutes=30),
    )


def _change_role(personas, user, role):
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        membership_change_role(
            membership=personas.membership(user, personas.tenant_a),
            role=role,
            by=owner,
            request=None,
        )


def test_a_demoted_members_key_is_refused_writes_at_the_next_request(personas, client, trial):
    # given an admin key made by an admin, which can write
    api = _key(personas, client, creator=personas.admin_a)
    assert api.post(f"/api/v1/numbers/{trial.code}/keep").status_code == 200

    # when the admin is demoted to viewer
    _change_role(personas, personas.admin_a, Role.VIEWER)

    # then the key still reads, but every write is 403 naming whose rights it uses
    assert api.get("/api/v1/numbers").status_code == 200
    response = api.put(f"/api/v1/numbers/{trial.code}/override", {})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert f"rights of {personas.admin_a}, who is Viewer now" in response.json()["detail"]


def test_a_key_whose_member_was_demoted_to_staff_keeps_staff_writes_only(personas, client, trial):
    api = _key(personas, client, creator=personas.admin_a)
    _change_role(personas, personas.admin_a, Role.STAFF)
    assert api.put(f"/api/v1/numbers/{trial.code}/override", {}).status_code == 200
    assert api.post(f"/api/v1/numbers/{trial.code}/keep").status_code == 403


def test_a_removed_members_key_is_refused_at_the_next_request(personas, client, trial):
    api = _key(personas, client, creator=personas.admin_a)
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        membership_remove(
            membership=personas.membership(personas.admin_a, personas.tenant_a),
            by=owner,
            request=None,
        )

    for response in (
        api.get("/api/v1/numbers"),
        api.put(f"/api/v1/numbers/{trial.code}/override", {}),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "key_holder_removed"


def test_a_key_that_uses_an_owners_rights_outlives_its_creators_membership(personas, client, trial):
    owner = personas.membership(personas.owner_a, personas.tenant_a)
    api = _key(personas, client, creator=personas.admin_a, holder=owner)
    with tenant_scope(personas.tenant_a):
        membership_remove(
            membership=personas.membership(personas.admin_a, personas.tenant_a),
            by=owner,
            request=None,
        )
    assert api.post(f"/api/v1/numbers/{trial.code}/keep").status_code == 200


def test_a_key_is_never_above_its_holders_role_nor_for_someone_else(personas):
    staff = personas.membership(personas.staff_a, personas.tenant_a)
    admin = personas.membership(personas.admin_a, personas.tenant_a)
    with tenant_scope(personas.tenant_a), pytest.raises(ServiceError):
        api_key_create(  # a staff member is not an owner: no key may use their rights
            name="x", role="viewer", expires_at=None, by=admin, holder=staff, request=None
        )


def test_settings_show_whose_rights_each_key_uses(personas, client):
    _key(personas, client, creator=personas.admin_a)
    _change_role(personas, personas.admin_a, Role.VIEWER)
    client.force_login(personas.owner_a)
    page = client.get("/settings/api/").content.decode()
    start = page.index("<tbody>")
    row = page[start : page.index("</tr>", start)]
    assert f"{personas.admin_a} · acts as Viewer at most" in row, row

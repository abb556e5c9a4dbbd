"""A second factor for people (TOTP with recovery codes, django-otp): required for owners and
admins when their company turns it on, for operators in production; API keys unaffected."""

import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from api.tests.factories import make_key
from portal.models import Tenant
from portal.scoping import tenant_scope
from portal.second_factor import RECOVERY_CODES
from portal.services import tenant_update
from testing.scaffolding import PASSWORD


def _code(device: TOTPDevice, *, ahead: int = 0) -> str:
    """What the person's app shows (``ahead`` steps later: a code not used yet)."""
    return f"{totp(device.bin_key, device.step, device.t0 - ahead * device.step, device.digits, device.drift):06d}"  # noqa: E501


def _require(tenant: Tenant) -> None:
    with tenant_scope(tenant):
        tenant_update(tenant=tenant, request=None, require_second_factor=True)


def _enrol(client, user) -> TOTPDevice:
    """``user`` sets the app up through the pages; returns the confirmed device."""
    client.force_login(user)
    client.get("/account/second-factor/setup/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/account/second-factor/setup/", {"code": _code(device)})
    assert response.status_code == 200, response.content
    device.refresh_from_db()
    assert device.confirmed
    return device


def _sign_in(client, email: str):
    client.logout()
    return client.post("/account/login/", {"username": email, "password": PASSWORD})


def test_a_company_that_requires_it_sends_an_owner_without_one_to_set_it_up_first(client, personas):
    _require(personas.tenant_a)
    client.force_login(personas.owner_a)
    for page in ("/", "/numbers/", "/settings/", "/members/", "/settings/api/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/account/second-factor/setup/?next="), page
    setup = client.get("/account/second-factor/setup/")
    assert setup.status_code == 200
    assert "Your company requires a second factor" in setup.content.decode()
    assert "<svg" in setup.content.decode()


def test_staff_and_other_companies_are_not_asked(client, personas):
    _require(personas.tenant_a)
    client.force_login(personas.staff_a)
    assert client.get("/").status_code == 200
    client.force_login(personas.owner_b)
    assert client.get("/").status_code == 200


def test_setting_it_up_shows_recovery_codes_once_and_lets_the_owner_in(client, personas):
    _require(personas.tenant_a)
    _enrol(client, personas.owner_a)

    assert client.get("/").status_code == 200
    recovery = StaticDevice.objects.get(user=personas.owner_a)
    assert recovery.token_set.count() == RECOVERY_CODES


def test_a_wrong_code_sets_nothing_up(client, personas):
    client.force_login(personas.owner_a)
    client.get("/account/second-factor/setup/")
    response = client.post("/account/second-factor/setup/", {"code": "000000"})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=personas.owner_a, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=personas.owner_a).exists()


def test_sign_in_asks_for_the_code_after_the_password(client, personas):
    # given an owner who set the app up
    device = _enrol(client, personas.owner_a)

    # when they sign in again with their password
    signed = _sign_in(client, personas.owner_a.email)
    assert signed.status_code == 302

    # then every page asks for the code first; a wrong one is refused, the app's lets them in
    page = client.get("/numbers/")
    assert page["Location"] == "/account/second-factor/code/?next=%2Fnumbers%2F"
    wrong = client.post("/account/second-factor/code/", {"code": "123456", "next": "/numbers/"})
    assert wrong.status_code == 400
    device.throttling_failure_count = 0  # the next try would wait a second otherwise
    device.throttling_failure_timestamp = None
    device.save()
    right = client.post(
        "/account/second-factor/code/", {"code": _code(device, ahead=1), "next": "/numbers/"}
    )
    assert right.status_code == 302 and right["Location"] == "/numbers/"
    assert client.get("/numbers/").status_code == 200


def test_a_recovery_code_signs_in_once(client, personas):
    client.force_login(personas.owner_a)
    client.get("/account/second-factor/setup/")
    device = TOTPDevice.objects.get(user=personas.owner_a)
    shown = client.post("/account/second-factor/setup/", {"code": _code(device)})
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", shown.content.decode())
    assert len(codes) == RECOVERY_CODES

    _sign_in(client, personas.owner_a.email)
    used = client.post("/account/second-factor/code/", {"code": codes[0], "next": "/"})
    assert used.status_code == 302
    _sign_in(client, personas.owner_a.email)
    again = client.post("/account/second-factor/code/", {"code": codes[0], "next": "/"})
    assert again.status_code == 400


def test_api_keys_are_not_asked(client, personas):
    _require(personas.tenant_a)
    _key, token = make_key(personas.tenant_a, role="viewer")
    response = client.get("/api/v1/numbers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_operators_need_it_in_production(client, personas, settings):
    from testing.scaffolding import UserFactory

    operator = UserFactory(email="ops@example.com", is_superuser=True, is_staff=True)
    client.force_login(operator)
    settings.SECOND_FACTOR_FOR_OPERATORS = False  # the embedded default
    assert client.get("/admin/").status_code == 200
    settings.SECOND_FACTOR_FOR_OPERATORS = True  # production's
    for page in ("/admin/", "/operator/"):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/second-factor/setup/")


def test_it_cannot_be_turned_off_while_required_but_can_otherwise(client, personas):
    _enrol(client, personas.owner_a)
    _require(personas.tenant_a)
    client.post("/account/second-factor/off/")
    assert TOTPDevice.objects.filter(user=personas.owner_a).exists()

    with tenant_scope(personas.tenant_a):
        tenant_update(tenant=personas.tenant_a, request=None, require_second_factor=False)
    client.post("/account/second-factor/off/")
    assert not TOTPDevice.objects.filter(user=personas.owner_a).exists()
    assert client.get("/").status_code == 200


def test_the_check_costs_no_query_per_page_once_the_session_knows(client, personas):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(personas.owner_a)
    client.get("/alerts/")  # the session learns the member has no device
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/alerts/").status_code == 200
    assert not [q for q in captured.captured_queries if "otp_" in q["sql"]]


@pytest.mark.parametrize("page", ["/account/second-factor/", "/account/second-factor/setup/"])
def test_the_pages_speak_japanese(client, personas, settings, page):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    client.force_login(personas.owner_a)
    text = client.get(page).content.decode()
    assert "二段階認証" in text

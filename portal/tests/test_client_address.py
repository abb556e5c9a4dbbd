"""The client's address behind trusted proxies, and the sign-in lockout that keys on it."""

import ipaddress

import pytest
from django.conf import settings
from django.urls import reverse

from portal.client_address import client_address_from
from portal.models import AuditEvent
from portal.scoping import tenant_scope
from testing.scaffolding import PASSWORD

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


@pytest.mark.parametrize(
    "remote,forwarded,networks,client",
    [
        # no trusted proxy: the header is ignored, whoever wrote it
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),
        # a client that is not a trusted proxy cannot speak for another
        ("203.0.113.7", "198.51.100.1", PROXIES, "203.0.113.7"),
        # the proxy's word is taken for the hop it added
        ("10.0.0.2", "198.51.100.1", PROXIES, "198.51.100.1"),
        # a forged first entry: only the hop the proxy appended counts
        ("10.0.0.2", "1.2.3.4, 198.51.100.1", PROXIES, "198.51.100.1"),
        # two trusted proxies in a row
        ("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.9", PROXIES, "198.51.100.1"),
        # garbage written by the client: stop at the last hop a proxy vouched for
        ("10.0.0.2", "198.51.100.1, not-an-address", PROXIES, "10.0.0.2"),
        # everything trusted: the leftmost address
        ("10.0.0.2", "10.0.0.3", PROXIES, "10.0.0.3"),
        # ports and IPv6
        ("10.0.0.2", "[2001:db8::1]:443", PROXIES, "2001:db8::1"),
        ("10.0.0.2", "198.51.100.1:51234", PROXIES, "198.51.100.1"),
        ("::ffff:10.0.0.2", "198.51.100.1", PROXIES, "198.51.100.1"),
        # a trusted proxy without the header
        ("10.0.0.2", "", PROXIES, "10.0.0.2"),
        ("", "198.51.100.1", PROXIES, None),
    ],
)
def test_it_believes_x_forwarded_for_only_from_trusted_proxies(remote, forwarded, networks, client):
    assert client_address_from(remote, forwarded, networks) == client


def _login(client, email, password, **address):
    return client.post(reverse("login"), {"username": email, "password": password}, **address)


PROXY = {"REMOTE_ADDR": "10.0.0.2"}
STRANGER = {**PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.66"}
USER = {**PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.10"}


def test_a_strangers_wrong_passwords_do_not_lock_out_the_user_behind_the_same_proxy(
    client, personas, settings
):
    # given the portal behind a TLS proxy it trusts
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    # when a stranger types wrong passwords for the owner until locked out
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "owner.a@example.com", "wrong", **STRANGER)
    assert _login(client, "owner.a@example.com", PASSWORD, **STRANGER).status_code == 429

    # then the owner, connecting through the same proxy from elsewhere, still signs in
    assert _login(client, "owner.a@example.com", PASSWORD, **USER).status_code == 302


def test_without_trusted_proxies_a_forged_header_does_not_dodge_the_lockout(
    client, personas, settings
):
    settings.TRUSTED_PROXIES = []
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        forged = {"REMOTE_ADDR": "198.51.100.66", "HTTP_X_FORWARDED_FOR": f"192.0.2.{attempt}"}
        _login(client, "owner.a@example.com", "wrong", **forged)
    forged = {"REMOTE_ADDR": "198.51.100.66", "HTTP_X_FORWARDED_FOR": "192.0.2.200"}
    assert _login(client, "owner.a@example.com", PASSWORD, **forged).status_code == 429


def test_the_lockout_counts_an_address_in_any_case_together(client, personas):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        email = "Owner.A@Example.com" if attempt % 2 else "owner.a@example.com"
        _login(client, email, "wrong")
    assert _login(client, "owner.a@example.com", PASSWORD).status_code == 429


def test_the_audit_log_records_the_client_not_the_proxy(client, personas, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client.force_login(personas.admin_a)

    client.post(
        reverse("tenant_settings"),
        {"name": "Renamed", "timezone": "Asia/Tokyo", "language": "en"},
        **USER,
    )

    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="tenant.update")
    assert event.ip_address == "203.0.113.10"

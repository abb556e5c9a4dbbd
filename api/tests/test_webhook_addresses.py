"""The webhook fetcher connects only where it checked (issue 19): every bypass seen refused at
save time and again at delivery time, and the POST pinned to the checked address with the
URL's own host name in ``Host`` and as the TLS name.

Receivers are real HTTP(S) servers on loopback; only name resolution is replaced
(``webhooks.resolve``), since a test cannot own a public DNS name."""

import http.server
import shutil
import ssl
import subprocess
import threading

import pytest

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.tests.test_webhooks import Receiver
from portal.scoping import tenant_scope
from portal.services import ServiceError

BYPASSES = [
    "http://127.0.0.1\\@1.1.1.1/",  # urlsplit reads 1.1.1.1, requests connected to 127.0.0.1
    "http://1.1.1.1@127.0.0.1/",
    "http://user:pw@93.184.215.14/",
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.5/",
    "http://172.16.3.4:8080/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://127.0.0.1:6379/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://[::7f00:1]/",  # IPv4-compatible
    "http://[fe80::1]/",
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://0.0.0.0/",
    "http://255.255.255.255/",
    "ftp://93.184.215.14/",
    "http:///no-host",
    "http://93.184.215.14 /",
]


@pytest.fixture
def public_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


@pytest.mark.parametrize("url", BYPASSES)
def test_every_bypass_is_refused_at_save_time(personas, public_only, url):
    membership = personas.membership(personas.owner_a, personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        with pytest.raises(ServiceError):
            webhooks.webhook_create(url=url, events=["call.answered"], by=membership, request=None)
        assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("url", BYPASSES)
def test_every_bypass_is_refused_at_delivery_time_without_a_connection(
    personas, public_only, url, monkeypatch
):
    # given an endpoint stored before the check knew better (written straight to the table),
    # and no connection possible from this test but to be counted (none leaves the machine)
    connections = _no_connections(monkeypatch)
    delivery = _delivery(personas.tenant_a, url)

    # when it is delivered
    outcome = _deliver(personas.tenant_a, delivery, final=True)

    # then nothing connected, and the log says why without a status (no port scanner)
    delivery.refresh_from_db()
    assert outcome == "failed" and delivery.last_status_code is None
    assert delivery.last_error and connections == []


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]
)
def test_public_addresses_pass(address):
    import ipaddress

    assert webhooks.address_is_public(ipaddress.ip_address(address))


def test_a_name_with_one_private_address_among_public_ones_is_refused(public_only, monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14", "10.0.0.1"])
    with pytest.raises(webhooks.AddressRefused, match=r"10\.0\.0\.1"):
        webhooks.webhook_address_check("https://hooks.example.com/din")


def test_a_dns_answer_that_changes_after_saving_is_refused_at_delivery(
    personas, public_only, monkeypatch
):
    # given a name that resolved to a public address when the webhook was saved
    answers = {"hooks.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: answers[host])
    membership = personas.membership(personas.owner_a, personas.tenant_a)
    with tenant_scope(personas.tenant_a):
        endpoint = webhooks.webhook_create(
            url="http://hooks.example.com/din",
            events=["call.answered"],
            by=membership,
            request=None,
        )
        webhooks.webhook_emit(tenant_id=personas.tenant_a.pk, event="call.answered", data={})
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    # when it resolves to loopback by the time of the delivery (DNS rebinding)
    answers["hooks.example.com"] = ["127.0.0.1"]
    with tenant_scope(personas.tenant_a):
        outcome = _deliver(personas.tenant_a, delivery, final=False)
        delivery.refresh_from_db()

    # then it is refused before any connection
    assert outcome == "retry" and delivery.last_status_code is None
    assert "127.0.0.1" in delivery.last_error


def test_the_post_goes_to_the_checked_address_with_the_urls_host(personas, settings, monkeypatch):
    # given a receiver on loopback and a name only our resolver knows (.test never resolves)
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    receiver = Receiver()
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(webhooks, "resolve", resolver)
    url = f"http://hooks.example.test:{receiver.server.server_port}/din?x=1"
    try:
        delivery = _delivery(personas.tenant_a, url)
        outcome = _deliver(personas.tenant_a, delivery, final=True)
    finally:
        receiver.close()

    # then the one lookup's address was used, with the name in Host
    assert outcome == "delivered"
    assert lookups == ["hooks.example.test"]
    assert (
        receiver.received[0]["headers"]["Host"]
        == f"hooks.example.test:{receiver.server.server_port}"
    )


def test_redirects_are_not_followed(personas, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    receiver = Receiver()
    receiver.answers = [302]
    try:
        delivery = _delivery(personas.tenant_a, receiver.url)
        outcome = _deliver(personas.tenant_a, delivery, final=True)
    finally:
        receiver.close()
    delivery.refresh_from_db()
    assert outcome == "failed" and delivery.last_status_code == 302
    assert len(receiver.received) == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_tls_is_checked_for_the_urls_name_and_sent_as_sni(
    personas, settings, monkeypatch, tmp_path
):
    # given an HTTPS receiver on loopback whose certificate names hooks.example.test, signed
    # by an authority the fetcher trusts
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    cert, key = _certificate(tmp_path, "hooks.example.test")
    monkeypatch.setattr(webhooks, "TLS_VERIFY", str(tmp_path / "ca.pem"))
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["127.0.0.1"])
    names, server = _tls_receiver(cert, key)
    port = server.server_address[1]
    try:
        good = _delivery(personas.tenant_a, f"https://hooks.example.test:{port}/din")
        assert _deliver(personas.tenant_a, good, final=True) == "delivered"
        # the same address under another name fails the certificate check
        other = _delivery(personas.tenant_a, f"https://other.example.test:{port}/din")
        assert _deliver(personas.tenant_a, other, final=True) == "failed"
    finally:
        server.shutdown()
        server.server_close()
    assert names[0] == "hooks.example.test"
    other.refresh_from_db()
    assert "SSLError" in other.last_error


# --- Helpers ----------------------------------------------------------------------------------


def _no_connections(monkeypatch) -> list:
    """Count every connection the fetcher opens, and open none: a check that regressed shows
    here as a counted attempt, never as traffic to the address it let through."""
    import socket

    from urllib3.util import connection

    attempts: list = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError(f"test: no connection to {address}")

    monkeypatch.setattr(connection, "create_connection", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def _delivery(tenant, url: str) -> WebhookDelivery:
    with tenant_scope(tenant):
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant, url=url, secret="whsec_test", events=["call.answered"]
        )
        return WebhookDelivery.objects.create(
            tenant=tenant, endpoint=endpoint, event="call.answered", body="{}"
        )


def _deliver(tenant, delivery: WebhookDelivery, *, final: bool) -> str:
    with tenant_scope(tenant):
        return webhooks.webhook_deliver(delivery_id=delivery.pk, final_attempt=final)


def _certificate(folder, name: str) -> tuple[str, str]:
    def openssl(*args):
        program = shutil.which("openssl") or "openssl"
        subprocess.run([program, *args], check=True, capture_output=True, cwd=folder)  # noqa: S603

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", "server.key", "-out", "server.csr",
    )  # fmt: skip
    (folder / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "ext.cnf",
    )  # fmt: skip
    return str(folder / "server.pem"), str(folder / "server.key")


def _tls_receiver(cert: str, key: str):
    names: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return names, server

"""Factories and personas shared by every app's tests.

``tenant_object_factory`` registers, for each tenant-owned model, how to make one row of it
in a given tenant: ``factory(tenant, **related)``, where ``related`` holds the objects already
made for the same URL by model name (e.g. ``subscription``), for rows that belong to them.
The tenant-isolation test walks every URL that takes an object code and uses this registry to
create the object in another tenant, so a new model with a URL but no factory fails that test
loudly instead of going unchecked.
"""

import contextlib
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta

import factory
from django.test import Client
from django.test.client import ClientHandler
from django.urls import reverse
from django.utils import timezone

from portal.models import (
    Alert,
    AlertKind,
    AuditEvent,
    Invitation,
    Membership,
    Role,
    Tenant,
    User,
)
from portal.scoping import tenant_scope
from portal.tests.relay import TcpRelay

PASSWORD = "correct horse battery"
TENANT_OBJECT_FACTORIES: dict[type, Callable[[Tenant], object]] = {}


def tenant_object_factory(model):
    def register(func):
        TENANT_OBJECT_FACTORIES[model] = func
        return func

    return register


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Company {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Sequence(lambda n: f"Person {n}")
    language = "en"
    password = factory.django.Password(PASSWORD)


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    """Creates rows inside the scope of their own tenant, as the services do."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with tenant_scope(kwargs["tenant"]):
            return super()._create(model_class, *args, **kwargs)


class MembershipFactory(TenantOwnedFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.STAFF


class InvitationFactory(TenantOwnedFactory):
    class Meta:
        model = Invitation

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.STAFF
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


@tenant_object_factory(Membership)
def make_membership(tenant, **related):
    return MembershipFactory(tenant=tenant)


@tenant_object_factory(Invitation)
def make_invitation(tenant, **related):
    return InvitationFactory(tenant=tenant)


@tenant_object_factory(AuditEvent)
def make_audit_event(tenant, **related):
    with tenant_scope(tenant):
        return AuditEvent.objects.create(
            tenant=tenant, actor_label="system", action="test.event", object_type="tenant"
        )


@tenant_object_factory(Alert)
def make_alert(tenant, **related):
    with tenant_scope(tenant):
        return Alert.objects.create(
            tenant=tenant,
            kind=AlertKind.CARRIER_CREDENTIALS,
            dedup_key=f"test:{Alert.objects.count()}",
            context={"operation": "release"},
        )


# --- Each server as it runs ---------------------------------------------------------------------
#
# Three servers share one settings module and one database, each with its own URLconf: the
# portal's pages (``config.wsgi.portal``, ``ROOT_URLCONF``), the edge (``config.wsgi.edge``)
# and the sandbox carrier (``config.wsgi.sandbox``). Tests reach each one through its own WSGI
# entry point, so a URL that only another server resolves fails here as it fails in production.

EDGE_URLCONF = "config.urls.edge"
SANDBOX_URLCONF = "config.urls.sandbox"


class EdgeClientHandler:
    """Runs a request through ``config.wsgi.edge.application``, as the edge's server does.

    Like Django's test client, it keeps the test's transaction open across the request.
    """

    def __call__(self, environ):
        from django.core.handlers.wsgi import WSGIRequest
        from django.core.signals import request_finished, request_started
        from django.db import close_old_connections
        from django.http import HttpResponse

        from config.wsgi.edge import application

        seen: dict = {}

        def start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers

        request = WSGIRequest(dict(environ))
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            body = application(environ, start_response)
            try:
                content = b"".join(body)
            finally:
                if hasattr(body, "close"):
                    body.close()  # as a WSGI server does: request_finished resets the URLconf
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        code, _, reason = seen["status"].partition(" ")
        response = HttpResponse(content, status=int(code), reason=reason or None)
        for name in list(response.headers):
            del response.headers[name]
        for name, value in seen["headers"]:
            response.headers[name] = value
        # Both as Django sets them; django-stubs declares neither (request.urlconf is documented
        # Django, wsgi_request is typed on the test client's own response class only).
        request.urlconf = EDGE_URLCONF  # type: ignore[attr-defined]
        response.wsgi_request = request  # type: ignore[attr-defined]
        return response


class EdgeClient(Client):
    """Django's test client pointed at the edge's WSGI app (the action URL, MP3s, callbacks)."""

    def __init__(self, **defaults):
        super().__init__(**defaults)
        # The client only calls its handler with a WSGI environ; the stub asks for ClientHandler.
        self.handler = EdgeClientHandler()  # type: ignore[assignment]


class SandboxClientHandler(ClientHandler):
    """The sandbox server's handler (``config/wsgi/sandbox.py``) under the test client."""

    def get_response(self, request):
        request.urlconf = SANDBOX_URLCONF
        return super().get_response(request)


class SandboxClient(Client):
    """Django's test client pointed at the sandbox carrier's server (paths under /sandbox/)."""

    def __init__(self, enforce_csrf_checks: bool = False, **defaults):
        super().__init__(enforce_csrf_checks=enforce_csrf_checks, **defaults)
        self.handler = SandboxClientHandler(enforce_csrf_checks=enforce_csrf_checks)


def sandbox_path(name: str, *args, **kwargs) -> str:
    """A path of the sandbox carrier's server (its own URLconf)."""
    return reverse(name, args=args or None, kwargs=kwargs or None, urlconf=SANDBOX_URLCONF)


def edge_get(path: str, params: dict | None = None, **extra):
    """GET ``path`` from the edge, as the carrier does."""
    return EdgeClient().get(path, params or {}, **extra)


@contextlib.contextmanager
def broker_hung(app) -> Iterator[TcpRelay]:
    """The Celery app's broker (Redis) as if it hung: reached through a relay that accepts
    connections and forwards nothing. Yields the relay (``resume()`` it to let Redis answer)."""
    from urllib.parse import urlsplit

    saved = app.conf.broker_write_url
    broker = urlsplit(saved)
    relay = TcpRelay(broker.hostname or "127.0.0.1", broker.port or 6379)
    hung = broker._replace(netloc=f"{broker.hostname}:{relay.port}").geturl()

    def forget_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_write_url = hung
    forget_pools()
    relay.pause()
    try:
        yield relay
    finally:
        app.conf.broker_write_url = saved
        forget_pools()
        relay.close()


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def broker_unreachable(app) -> Iterator[str]:
    """The Celery app's broker as if it were down: a loopback port that refuses connections.

    The app's connection pools are dropped on the way in and out, so that every publish in
    between really connects to the dead port, and afterwards to the real broker again.
    """
    # Publishing connects to the write URL (``broker_url`` itself prefers the environment's
    # CELERY_BROKER_URL, whatever the configuration says).
    saved = app.conf.broker_write_url
    dead = f"redis://127.0.0.1:{free_port()}/0"

    def forget_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_write_url = dead
    forget_pools()
    try:
        yield dead
    finally:
        app.conf.broker_write_url = saved
        forget_pools()

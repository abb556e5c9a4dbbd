"""Benchmark of the API: read throughput against a constant view, django-ninja against Django
REST Framework on the same endpoint and key, and the webhook fan-out rate.

Everything runs in this process through Django's WSGI handler (the whole middleware stack, no
network), one request at a time, so the figures compare the work per request:

- ``constant``: a plain Django view answering a fixed JSON body (the ceiling);
- ``ninja-list`` / ``drf-list``: the same tiny list endpoint (a company's numbers, 20 rows)
  in each framework, authenticated with the same API key check (``api.keys``);
- ``api-numbers``: the real ``GET /api/v1/numbers``;
- webhooks: N events queued and delivered by ``api.webhooks.webhook_deliver`` to a receiver
  on loopback (a threaded http.server), sequentially and with 8 threads.

    .venv/bin/python bench/api.py [--seconds 3] [--events 300]
    DATABASE_URL=postgres://… .venv/bin/python bench/api.py
"""

import argparse
import io
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testing.settings")
os.environ["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = "true"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    from testing.run_dir import make_run_dir, remove_run_dir

    made = make_run_dir()  # as the test suite's conftest.py does: media, journal, test database
    try:
        _measure(args)
    finally:
        if made:
            remove_run_dir()


def _measure(args):
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.API_RATE_LIMIT_PER_MINUTE = 10**9
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _urls():
    """A URLconf for this run: the portal's, plus the constant view and the DRF variant."""
    import types

    from django.http import JsonResponse
    from django.urls import include, path
    from rest_framework import authentication, exceptions, serializers
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from api.keys import KeyRefused, api_key_authenticate
    from dins.models import Subscription
    from portal.scoping import tenant_scope

    def constant(request):
        return JsonResponse({"items": []})

    class KeyAuthentication(authentication.BaseAuthentication):
        def authenticate(self, request):
            _scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
            try:
                key = api_key_authenticate(token)
            except KeyRefused as refused:
                raise exceptions.AuthenticationFailed(refused.detail) from None
            return (key.created_by, key)

    class NumberSerializer(serializers.Serializer):
        code = serializers.UUIDField()
        number = serializers.CharField(source="e164")
        label = serializers.CharField()
        status = serializers.CharField()

    class DrfNumbers(APIView):
        authentication_classes = [KeyAuthentication]
        permission_classes = []

        def get(self, request):
            with tenant_scope(request.auth.tenant):
                rows = list(Subscription.objects.order_by("din")[:50])
                return Response({"items": NumberSerializer(rows, many=True).data})

    from ninja import NinjaAPI, Schema
    from ninja.security import HttpBearer

    class NinjaKey(HttpBearer):
        def authenticate(self, request, token):
            try:
                return api_key_authenticate(token)
            except KeyRefused:
                return None

    class NumberOut(Schema):
        code: str
        number: str
        label: str
        status: str

    class NumberList(Schema):
        items: list[NumberOut]

    bench_api = NinjaAPI(urls_namespace="bench-ninja", auth=NinjaKey())

    @bench_api.get("/numbers", response=NumberList)
    def ninja_numbers(request):
        with tenant_scope(request.auth.tenant):
            rows = list(Subscription.objects.order_by("din")[:50])
            return {
                "items": [
                    {"code": str(s.code), "number": s.e164, "label": s.label, "status": s.status}
                    for s in rows
                ]
            }

    module = types.ModuleType("bench_api_urls")
    module.urlpatterns = [
        path("bench/constant", constant),
        path("bench/drf/numbers", DrfNumbers.as_view()),
        path("bench/ninja/", bench_api.urls),
        path("", include(settings_root())),
    ]
    sys.modules["bench_api_urls"] = module
    return "bench_api_urls"


def settings_root():
    from django.conf import settings

    return settings.ROOT_URLCONF


def _drive(handler, path: str, token: str, seconds: float) -> tuple[float, int]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    status_seen = []

    def start_response(status, headers, exc_info=None):
        status_seen.append(status)

    for _ in range(50):  # warm up
        b"".join(handler(dict(environ), start_response))
    assert status_seen[-1].startswith("200"), (path, status_seen[-1])
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        b"".join(handler(dict(environ, **{"wsgi.input": io.BytesIO(b"")}), start_response))
        count += 1
    return count / (time.perf_counter() - started), count


def run(args):
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from api import webhooks
    from api.models import WebhookDelivery, WebhookEndpoint
    from api.tests.factories import make_key
    from dins.tests.factories import SubscriptionFactory
    from portal.models import Role
    from portal.scoping import scopes_disabled, tenant_scope
    from testing.scaffolding import MembershipFactory, TenantFactory, UserFactory

    tenant = TenantFactory(name="Bench")
    MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.OWNER)
    for _ in range(20):
        SubscriptionFactory(tenant=tenant)
    _key, token = make_key(tenant, role="viewer")

    settings.ROOT_URLCONF = _urls()
    handler = WSGIHandler()
    print(
        f"database: {connection.vendor}; in-process WSGI, one request at a time, "
        f"{args.seconds:.0f} s each; {os.cpu_count()} CPUs"
    )
    results = {}
    for name, path in [
        ("constant", "/bench/constant"),
        ("ninja-list", "/bench/ninja/numbers"),
        ("drf-list", "/bench/drf/numbers"),
        ("api-numbers", "/api/v1/numbers"),
    ]:
        rps, count = _drive(handler, path, token, args.seconds)
        results[name] = rps
        print(f"{name:12s} {rps:8.0f} req/s  ({count} requests)")
    print(
        f"ninja/drf: {results['ninja-list'] / results['drf-list']:.2f}x; "
        f"api-numbers/constant: {results['api-numbers'] / results['constant']:.2f}"
    )

    # --- webhook fan-out ---
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(1)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tenant_scope(tenant):
        WebhookEndpoint.objects.create(
            tenant=tenant,
            url=f"http://127.0.0.1:{server.server_port}/hook",
            secret="whsec_bench",  # noqa: S106 (a benchmark's receiver)
            events=["call.answered"],
        )
    for workers in (1, 8):
        with scopes_disabled():
            WebhookDelivery.objects.all().delete()
        started = time.perf_counter()
        webhooks.webhook_emit_many(
            [(tenant.pk, "call.answered", {"n": n}) for n in range(args.events)]
        )
        queued = time.perf_counter() - started
        with scopes_disabled():
            ids = list(WebhookDelivery.objects.values_list("pk", flat=True))
        received.clear()

        def deliver(pk, threaded=workers > 1):
            with tenant_scope(tenant):
                outcome = webhooks.webhook_deliver(delivery_id=pk, final_attempt=True)
            if threaded:
                connection.close()
            return outcome

        started = time.perf_counter()
        if workers == 1:
            outcomes = [deliver(pk) for pk in ids]
        else:
            with ThreadPoolExecutor(workers) as pool:
                outcomes = list(pool.map(deliver, ids))
        elapsed = time.perf_counter() - started
        assert outcomes.count("delivered") == len(ids) == len(received), outcomes[:3]
        print(
            f"webhooks, {workers} worker(s): {len(ids)} events queued in {queued * 1000:.0f} ms "
            f"({len(ids) / queued:.0f}/s), delivered {len(ids) / elapsed:.0f} events/s"
        )
    server.shutdown()


if __name__ == "__main__":
    main()

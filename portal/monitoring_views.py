"""What a load balancer and a monitoring system read: the installation's checks.

``/healthz/platform`` answers JSON (200 when every check passes, else 503) and ``/metrics`` the
same figures for Prometheus (``prometheus_client``). Both answer clients from
``MONITORING_NETWORKS`` (loopback by default) or with ``Authorization: Bearer <MONITORING_TOKEN>``,
anyone else 404, like a page that does not exist.
"""

import hmac
import ipaddress
import json

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from portal.client_address import client_address
from portal.platform import platform_checks


def _allowed(request) -> bool:
    token = settings.MONITORING_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address(request) or "")
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.MONITORING_NETWORKS
    )


def _checks_or_404(request):
    if not _allowed(request):
        raise Http404
    return platform_checks()


@require_GET
def platform_health(request):
    checks = _checks_or_404(request)
    body = {
        "ok": all(check.ok for check in checks),
        "checks": {
            check.name: {"ok": check.ok, "value": check.value, "detail": check.detail}
            for check in checks
        },
    }
    response = HttpResponse(
        json.dumps(body, indent=2),
        content_type="application/json",
        status=200 if body["ok"] else 503,
    )
    response["Cache-Control"] = "no-store"
    return response


class _ChecksCollector:
    def __init__(self, checks):
        self.checks = checks

    def collect(self):
        healthy = GaugeMetricFamily(
            "dinportal_check_ok", "1 when the check passes, else 0", labels=["check"]
        )
        values = GaugeMetricFamily(
            "dinportal_check_value",
            "The figure a check looks at (seconds since a run, tasks waiting, open alerts)",
            labels=["check"],
        )
        for check in self.checks:
            healthy.add_metric([check.name], 1.0 if check.ok else 0.0)
            if check.value is not None:
                values.add_metric([check.name], float(check.value))
        yield healthy
        yield values


@require_GET
def metrics(request):
    registry = CollectorRegistry()
    registry.register(_ChecksCollector(_checks_or_404(request)))
    response = HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4")
    response["Cache-Control"] = "no-store"
    return response

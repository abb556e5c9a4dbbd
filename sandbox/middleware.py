"""The sandbox carrier answers only on this machine unless it is exposed on purpose.

Its API moves (fake) money, lists every number's action URL and rings numbers; in the
embedded default nothing but the portal itself, on the same machine, needs it. A request from
another address, or one relayed by a proxy, gets 403 unless ``SANDBOX_EXPOSED`` is set.
"""

import ipaddress

from django.conf import settings
from django.http import HttpResponseForbidden

RELAY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def is_local(request) -> bool:
    """A request from this machine that no proxy relayed (a proxy on this machine connects
    from loopback too, but says whom it relays for)."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback and not any(request.META.get(h) for h in RELAY_HEADERS)


class SandboxLocalOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.app_name != "sandbox" or settings.SANDBOX_EXPOSED:
            return None
        if is_local(request):
            return None
        return HttpResponseForbidden(
            "The sandbox carrier answers only on this machine (SANDBOX_EXPOSED is off).\n",
            content_type="text/plain; charset=utf-8",
        )

"""Who is asking: the client's address, taken from trusted proxies only.

Behind a TLS proxy every request connects from the proxy, so ``REMOTE_ADDR`` names the proxy,
not the person. The proxy reports the client in ``X-Forwarded-For``, but anyone can send that
header too. So the header is believed only as far as it was written by proxies listed in
``TRUSTED_PROXIES`` (addresses or networks): walking it from the right (the hop nearest to
us), the first address that is not a trusted proxy is the client. Without trusted proxies the
header is ignored and the connecting address is the client.

The sign-in lockout (django-axes, ``AXES_CLIENT_IP_CALLABLE``) and the audit log both use
``client_address``, so neither can be steered by a forged header.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in configured)


def trusted_proxy_networks() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_address_from(remote_addr: str, forwarded_for: str, networks) -> str | None:
    """The client's address given the connecting address and the ``X-Forwarded-For`` header.

    Pure, for the tests: ``networks`` are the trusted proxies.
    """
    connecting = _address(remote_addr or "")
    if connecting is None:
        return None
    if not networks or not _is_trusted(connecting, networks) or not forwarded_for:
        return str(connecting)
    client = connecting
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage a client wrote: stop at the last hop a trusted proxy vouched for
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def client_address(request) -> str | None:
    """The address of the person behind ``request`` (see the module docstring)."""
    if hasattr(request, "_client_address"):  # worked out once per request
        return request._client_address
    meta = request.META
    address = client_address_from(
        meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""), trusted_proxy_networks()
    )
    request._client_address = address
    return address


def lockout_username(request, credentials: dict | None) -> str:
    """The e-mail address the sign-in lockout counts failures under.

    Lower-cased and bounded, so ``Owner@…`` and ``owner@…`` count together and a megabyte
    typed into the field is not stored as a lockout key.
    """
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
    if username is None and request is not None:
        username = request.POST.get(settings.AXES_USERNAME_FORM_FIELD, "")
    return str(username or "").strip().lower()[:254]

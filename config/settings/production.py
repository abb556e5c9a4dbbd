"""Settings: What production refuses to start with."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from config.settings.accounts import SECOND_FACTOR_FOR_OPERATORS, TRUSTED_PROXIES
from config.settings.api import WEBHOOK_ALLOW_PRIVATE_ADDRESSES
from config.settings.benchmarks import BENCH_VIEWS_ENABLED
from config.settings.carrier import SANDBOX_ENABLED
from config.settings.deployment import ALLOWED_HOSTS, DEBUG, IS_PRODUCTION, SECRET_KEY, env

# Production refuses to start with a setting that exposes it; naming the setting here starts
# it anyway (e.g. a staging copy: ALLOW_UNSAFE_SETTINGS=SANDBOX_ENABLED). [choice]
ALLOW_UNSAFE_SETTINGS = env.list("ALLOW_UNSAFE_SETTINGS", default=[])


def _wide_proxy_networks(entries: list[str]) -> list[str]:
    """The entries of ``TRUSTED_PROXIES`` that reach beyond loopback and private networks
    (a public proxy of your own is named in ALLOW_UNSAFE_SETTINGS), or that do not parse."""
    wide = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            wide.append(entry)
            continue
        if not (network.is_private or network.is_loopback) or network.prefixlen == 0:
            wide.append(str(network))
    return wide


def unsafe_production_settings() -> dict[str, str]:
    """Settings production must not run with, and why (checked below at start)."""
    unsafe = {}
    if DEBUG:
        unsafe["DEBUG"] = "DEBUG=true shows settings and source code on every error page"
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-"):
        unsafe["SECRET_KEY"] = (
            "SECRET_KEY must be at least 50 random characters "  # noqa: S105 (a message)
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if SANDBOX_ENABLED:
        unsafe["SANDBOX_ENABLED"] = (
            "SANDBOX_ENABLED=true serves a fake carrier whose API answers to the portal's "
            "credentials and fakes calls and bills"
        )
    if BENCH_VIEWS_ENABLED:
        unsafe["BENCH_VIEWS_ENABLED"] = "BENCH_VIEWS_ENABLED=true serves benchmark-only views"
    if any(host == "*" or (host.startswith(".") and host.count(".") < 2) for host in ALLOWED_HOSTS):
        unsafe["ALLOWED_HOSTS"] = (
            "ALLOWED_HOSTS=* (or a whole top-level domain such as .com) answers any Host "
            "header, which the portal's absolute links and CSRF checks trust; name its hosts"
        )
    wide_proxies = _wide_proxy_networks(TRUSTED_PROXIES)
    if wide_proxies:
        unsafe["TRUSTED_PROXIES"] = (
            f"TRUSTED_PROXIES holds {', '.join(wide_proxies)}, wider than loopback and private "
            "networks: anyone there could write X-Forwarded-For and pick the address the "
            "sign-in lockout and the audit log see"
        )
    if not SECOND_FACTOR_FOR_OPERATORS:
        unsafe["SECOND_FACTOR_FOR_OPERATORS"] = (
            "SECOND_FACTOR_FOR_OPERATORS=false lets operators (superusers), who see every "
            "company, sign in with a password alone"
        )
    if WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        unsafe["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = (
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true lets companies make the portal POST into "
            "private networks"
        )
    return unsafe


if IS_PRODUCTION:
    _refused = {
        name: why
        for name, why in unsafe_production_settings().items()
        if name not in ALLOW_UNSAFE_SETTINGS
    }
    if _refused:
        raise ImproperlyConfigured(
            "DEPLOYMENT=production refuses to start with unsafe settings: "
            + "; ".join(_refused.values())
            + ". Fix them, or name them in ALLOW_UNSAFE_SETTINGS to start anyway."
        )

"""Absolute addresses, by who follows them.

One installation answers on several servers, each with a URLconf of its own: people use the
portal's pages (``PORTAL_BASE_URL``, ``config.urls.portal``); the carrier reaches the edge
(``PUBLIC_BASE_URL``, ``config.urls.edge`` and the bare action URL ``/a/<token>/``). A
plain ``reverse()`` resolves the URLconf of the process it runs in: a worker has the portal's,
the edge has its own. Code that writes down an address for someone else (an e-mail, the
carrier, a webhook payload) builds it here, by audience, so it resolves in every process.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

PEOPLE_URLCONF = "config.urls.portal"
CARRIER_URLCONF = "config.urls.edge"


def people_path(name: str, *args) -> str:
    """The path of the portal's page ``name``, from any process (stored with alerts)."""
    return reverse(name, args=args, urlconf=PEOPLE_URLCONF)


def people_url(name: str, *args, query: str = "") -> str:
    """Where a person opens the portal's page ``name`` (e-mails, alerts, webhook links)."""
    return settings.PORTAL_BASE_URL + people_path(name, *args) + (f"?{query}" if query else "")


def carrier_url(name: str, *args) -> str:
    """Where the carrier reaches the edge's path ``name`` (MP3s, call callbacks)."""
    return settings.PUBLIC_BASE_URL + reverse(name, args=args, urlconf=CARRIER_URLCONF)


def action_url(token: str) -> str:
    """The number's action URL: what the carrier requests on every incoming call.

    Served by the edge's bare WSGI app (``callflows.edge.action_app``), not by a URLconf.
    """
    return f"{settings.PUBLIC_BASE_URL}/a/{token}/"

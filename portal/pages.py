"""Pages of a lower app that show what the apps above it know, without importing them.

The dashboard (portal) shows the company's numbers (dins) and today's calls (callflows); a
number's page (dins) shows its day/night switch and recent calls (callflows). Such a page asks
``page_context(name, **about)`` and renders what it gets; each app above contributes with
``provide(name, provider)`` in its ``AppConfig.ready``. A provider returns template context.

Pages and what they pass: ``dashboard`` (``request``), ``number`` (``request``,
``subscription``; also the live status fragment), ``number_detail`` and ``number_release``
(``request``, ``subscription``); the costs pages' ``costs_calls`` (``tenant_ids``, ``start``:
the outbound calls' sums by tenant id), the operators' page's ``operators_stuck`` (``now``:
``{"stuck": [...]}``) and an alert's e-mail, ``alert_email`` (``alert``: the number it is about).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

_providers: dict[str, list[Callable[..., dict]]] = defaultdict(list)


def provide(page: str, provider: Callable[..., dict]) -> None:
    if provider not in _providers[page]:
        _providers[page].append(provider)


def page_context(page: str, **about) -> dict:
    context: dict = {}
    for provider in _providers[page]:
        context.update(provider(**about))
    return context

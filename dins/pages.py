"""What the numbers app shows on the portal's pages (``portal.pages``).

Imported by ``DinsConfig.ready``, once every model is loaded.
"""

from dins.selectors import numbers_figures
from portal.pages import provide


def _dashboard(*, request) -> dict:
    return {"numbers": numbers_figures()}


def connect() -> None:
    provide("dashboard", _dashboard)

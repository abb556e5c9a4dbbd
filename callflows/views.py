"""The action URL: what the carrier fetches on every incoming call."""

import logging

from django.http import HttpResponse
from django.views.decorators.http import require_safe

from callflows import commands, runtime
from portal.headers import with_carrier_headers

logger = logging.getLogger(__name__)


@require_safe
def action_url(request, token):
    """``GET /a/<token>/?caller=…&recipient=…`` → one line of the carrier's grammar.

    Never a 5xx: whatever fails below, the caller reaches voicemail. An unknown or released
    token is a 404 with an empty body, the same whether it ever existed or not.
    """
    try:
        result = runtime.answer(token, request.GET.get("caller"), request.GET.get("recipient"))
    except Exception:  # the last line of defence of a live phone call
        logger.exception("action URL failed; answering the fallback")
        response = HttpResponse(commands.FALLBACK + "\n", content_type="text/plain; charset=utf-8")
        return with_carrier_headers(response)
    if result is None:
        return with_carrier_headers(HttpResponse(b"", status=404, content_type="text/plain"))
    response = HttpResponse(result.command + "\n", content_type="text/plain; charset=utf-8")
    return with_carrier_headers(response)

"""Benchmark-only views, served by the edge beside the action URL (no middleware).

Only routed when ``BENCH_VIEWS_ENABLED`` is on (``config.wsgi.edge``); ``bench/action_url.py``
starts its own server with it. The request shape is the action URL's
(``/bench/…/<token>/?caller=…``) so that only the work of the view differs.
"""

from django.conf import settings
from django.http import HttpResponse

from callflows.edge import call_log
from dins.models import Subscription, SubscriptionStatus
from portal.scoping import scopes_disabled

CONSTANT = b"voicemail\n"

if settings.BENCH_CALL_LOG_DISABLED:
    # The "call log off" variant: answers are computed as usual but never buffered.
    call_log.call_log_buffer.append = lambda *args, **kwargs: None


def constant(request, token):
    """The ceiling: a Django view answering a fixed line (reads nothing)."""
    return HttpResponse(CONSTANT, content_type="text/plain; charset=utf-8")


def lookup(request, token):
    """Xoxzo's sample action server: one database lookup per call, answer the stored command.

    The benchmark stores each number's command in ``Subscription.label`` (benchmark data only).
    """
    with scopes_disabled():
        command = (
            Subscription.objects.filter(action_token=token, status=SubscriptionStatus.ACTIVE)
            .values_list("label", flat=True)
            .first()
        )
    if command is None:
        return HttpResponse(b"", status=404, content_type="text/plain")
    return HttpResponse(command + "\n", content_type="text/plain; charset=utf-8")

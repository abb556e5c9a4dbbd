"""Hooks call flows offer to the apps above it (they connect in their ``AppConfig.ready``)."""

from django.dispatch import Signal

# Sent by the call-log writer after it stored a batch, off the request path, with ``calls``:
# the rows written (dicts with tenant_id, subscription_id, at, caller, rule, source, …), of
# many tenants. Receivers must be quick and must not raise into the writer (it logs and
# carries on if they do).
calls_logged = Signal()

# Sent after an outbound call reached its final status (answered, no_answer, failed), with
# ``call``; once per call (only the compare-and-set that settled it sends). Receivers run inside
# the transaction and defer their own work with ``on_commit``.
outbound_call_finished = Signal()

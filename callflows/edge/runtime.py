"""The edge's hot path: the line to answer for one incoming call.

Finds the published flow for the token (``callflows.edge.published``: memory first, the
database on a miss within a budget), evaluates it (``callflows.flows.rules.evaluate``) and
appends the answer to the call log's buffer (``callflows.edge.call_log``). Whatever fails, a
call gets an answer: what memory holds, else the safe fallback (voicemail; the published flows
answer ``FALLBACK`` when none could be read in time). Only an unknown or released token answers
"not found".
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from django.conf import settings

from callflows import grammar
from callflows.edge.call_log import call_log_buffer
from callflows.edge.published import compiled_for, watcher
from callflows.flows.documents import Fallback
from callflows.flows.rules import Answer, caller_digits, evaluate
from dins.call_marks import marks_test_call

logger = logging.getLogger(__name__)

# What a call hears while no flow can be read (``callflows.flows.documents.FALLBACK``).
FALLBACK_ANSWER = Answer(grammar.FALLBACK, "fallback", "fallback")


def answer(
    token: str,
    caller: str | None,
    recipient: str | None,
    *,
    test_mark: str | None = None,
    request_id: str | None = None,
) -> Answer | None:
    """The line to answer for one incoming call, or None when the token is unknown.

    ``test_mark``: the portal's mark of a "Test call" (``dins.call_marks``); a valid one logs
    the call as a test. It never changes the answer.
    """
    started = time.perf_counter_ns()
    if settings.EDGE_WATCHER_ENABLED:
        watcher.ensure_running()
    compiled, found = compiled_for(token)
    if compiled is None:
        return None
    now = datetime.now(UTC)
    flow = None if isinstance(compiled, Fallback) else compiled
    if flow is None:  # no flow could be read in time
        result = FALLBACK_ANSWER
    else:
        try:
            result = evaluate(flow, now, caller)
        except Exception:  # a flow that cannot be evaluated still answers
            logger.exception("action URL: flow evaluation failed")
            result = Answer(flow.get("default") or grammar.FALLBACK, "fallback", "fallback")
        if result.source == "flow" and (
            found == "stale" or now.timestamp() > flow.get("expires", float("inf"))
        ):
            result = Answer(result.command, result.rule, "stale")
    call_log_buffer.append(
        flow,
        token=token,
        at=now,
        caller=caller_digits(caller),
        # NUL dropped: PostgreSQL refuses it, and one such row would hold back the whole batch.
        recipient=(recipient or "").replace("\x00", "")[:32],
        answer=result,
        latency_us=(time.perf_counter_ns() - started) // 1000,
        is_test=flow is not None
        and test_mark is not None
        and marks_test_call(test_mark, flow.get("tenant_id")),
        request_id=request_id,
    )
    return result

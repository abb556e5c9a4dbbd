"""Test calls: the sandbox carrier rings a number as a caller would, for the flow page.

A page asks (``test_call_request``), a worker places it (``test_call_place``, the
``dins.test_call`` task) and the page follows the row live. Only the sandbox can place such a
call; with the real carrier the request is refused with a message.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from dins import xoxzo
from dins.call_marks import mark_for_test_call
from dins.models import Subscription, SubscriptionStatus, TestCall
from portal.outbox import outbox_enqueue, outbox_gave_up
from portal.scoping import scopes_disabled
from portal.services import ServiceError, audit_record

logger = logging.getLogger(__name__)

# The sandbox answers a test call once the whole simulated call ran (action URL, MP3s, speech,
# transfers), each step with its own 5 s budget: the worker waits this long for it.
TEST_CALL_READ_TIMEOUT_SECONDS = 60
TEST_CALL_TASK = "dins.test_call"
# A test call the task queue could not take within this is not placed late, but told.
TEST_CALL_QUEUE_EXPIRY = timedelta(minutes=2)


def test_call_request(*, subscription: Subscription, caller: str, by) -> TestCall:
    """Queue a test call to ``subscription`` from ``caller`` ("" rings as anonymous)."""
    if not settings.SANDBOX_ENABLED:
        raise ServiceError(_("Test calls need the sandbox carrier, which is off here."))
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise ServiceError(_("Only an active number can be called."))
    with transaction.atomic():
        test_call = TestCall.objects.create(
            tenant=subscription.tenant,
            subscription=subscription,
            caller=(caller or "").strip()[:32],
            requested_by=by,
        )
        audit_record(
            action="subscription.test_call", obj=subscription, actor=by, after={"caller": caller}
        )
        # Saved with the call: a broker that is down delays it a little or says why it gave up.
        outbox_enqueue(
            TEST_CALL_TASK,
            kwargs={"tenant_id": subscription.tenant_id, "test_call_id": test_call.pk},
            expires_after=TEST_CALL_QUEUE_EXPIRY,
        )
    return test_call


@receiver(outbox_gave_up, dispatch_uid="dins.test_call.gave_up")
def test_call_given_up(sender, *, task_name: str, kwargs: dict, **extra) -> None:
    """The broker never took the test call in time: it was not placed, and the page says why."""
    if task_name != TEST_CALL_TASK:
        return
    with scopes_disabled():
        TestCall.objects.filter(pk=kwargs["test_call_id"], status=TestCall.Status.QUEUED).update(
            status=TestCall.Status.FAILED,
            failure_reason="queue_unreachable",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )


def test_call_place(*, test_call_id: int) -> None:
    """Place a queued test call once (the task body). A redelivered task finds it claimed.

    A call claimed but never finished (the worker died in the middle) is reported as
    interrupted rather than placed again: ringing someone's number twice is not a retry.
    """
    claimed = TestCall.objects.filter(pk=test_call_id, status=TestCall.Status.QUEUED).update(
        status=TestCall.Status.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        TestCall.objects.filter(pk=test_call_id, status=TestCall.Status.RUNNING).update(
            status=TestCall.Status.FAILED,
            failure_reason="interrupted",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return
    test_call = TestCall.objects.select_related("subscription").get(pk=test_call_id)
    values: dict[str, object] = {"finished_at": timezone.now()}
    try:
        result = xoxzo.get_client().sandbox_test_call(
            to=test_call.subscription.e164,
            caller=test_call.caller or "anonymous",
            read_timeout=TEST_CALL_READ_TIMEOUT_SECONDS,
            # The edge logs the call as a test, not as a caller's call (dins.call_marks).
            mark=mark_for_test_call(test_call.tenant_id),
        )
    except xoxzo.XoxzoValidationError as error:
        values.update(
            status=TestCall.Status.FAILED,
            failure_reason="; ".join(" ".join(m) for m in error.errors.values())[:300],
        )
    except xoxzo.XoxzoError as error:
        logger.warning("test call %s failed: %s", test_call_id, error)
        values.update(status=TestCall.Status.FAILED, failure_reason=xoxzo.error_kind(error))
    else:
        values.update(
            status=TestCall.Status.DONE, transcript=result["transcript"], text=result["text"]
        )
    values["finished_at"] = timezone.now()
    TestCall.objects.filter(pk=test_call_id).update(updated_at=timezone.now(), **values)

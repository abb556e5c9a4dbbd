"""Webhooks over real HTTP: a receiver on loopback verifies the signature as docs/api.md
tells, answers 500 then 200, and sees the retry; failures in a row turn a webhook off.

Ordering: deliveries are independent tasks, so a receiver may see events out of order when a
retry interleaves; each body carries ``id`` (to drop duplicates) and ``occurred_at``.
"""

import datetime
import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.tasks import deliver_webhook
from callflows.edge import call_log
from callflows.models import CallLog
from callflows.outbound.services import call_fail
from callflows.signals import calls_logged
from callflows.tests.factories import OutboundCallFactory
from dins.subscriptions.subscribe import fail
from dins.tests.factories import SubscriptionFactory
from portal.alerts import alert_raise
from portal.models import Alert, AlertKind
from portal.scoping import scopes_disabled, tenant_scope

MAX_AGE_SECONDS = 300


def verify(secret: str, headers, body: bytes) -> bool:
    """The receiver's check, as documented in docs/api.md."""
    timestamp = headers["X-DinPortal-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    given = headers["X-DinPortal-Signature"].removeprefix("v1=")
    fresh = abs(int(timezone.now().timestamp()) - int(timestamp)) <= MAX_AGE_SECONDS
    return fresh and hmac.compare_digest(expected.hexdigest(), given)


class Receiver:
    """An HTTP server on loopback answering the statuses queued in ``answers`` (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/din"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True  # the receiver is on loopback
    found = Receiver()
    yield found
    found.close()


def _endpoint(tenant, url, events=("call.answered", "trial.released", "outbound_call.finished")):
    with tenant_scope(tenant):
        return WebhookEndpoint.objects.create(
            tenant=tenant, url=url, secret="whsec_test-secret", events=list(events)
        )


def _call_entry(subscription, *, source="flow", rule="Opening hours"):
    return {
        "tenant_id": subscription.tenant_id,
        "subscription_id": subscription.pk,
        "flow_version": 1,
        "at": timezone.now(),
        "caller": "819012345678",
        "recipient": subscription.din,
        "rule": rule,
        "command": "voicemail",
        "source": source,
        "latency_us": 900,
        "is_test": False,
        "request_id": uuid.uuid4().hex,
    }


def test_it_signs_what_it_sends_and_retries_after_a_500(
    personas, receiver, task_queue, django_capture_on_commit_callbacks
):
    # given a webhook of company A and a call logged by the edge's writer
    endpoint = _endpoint(personas.tenant_a, receiver.url)
    number = SubscriptionFactory(tenant=personas.tenant_a)
    call_log.call_log_buffer._entries.append(_call_entry(number, source="fallback", rule=""))
    receiver.answers = [500]

    # when the call log is flushed, a delivery is queued; the first attempt meets a 500
    with django_capture_on_commit_callbacks(execute=True):
        assert call_log.call_log_buffer.flush() == 1
    # (the fallback answer also raised its alert e-mail)
    assert task_queue.names() == ["portal.send_alert_email", "api.deliver_webhook"]
    _task, _args, kwargs = task_queue.sent.pop()
    with tenant_scope(personas.tenant_a):
        first = webhooks.webhook_deliver(delivery_id=kwargs["delivery_id"], final_attempt=False)
        # then it is kept for another attempt, with the receiver's answer in the log
        delivery = WebhookDelivery.objects.get(pk=kwargs["delivery_id"])
        assert (first, delivery.status, delivery.last_status_code) == ("retry", "pending", 500)

        # and the task, meeting a 500 again, asks Celery for a retry with backoff
        receiver.answers = [500]
        with pytest.raises(Retry):
            deliver_webhook.run(tenant_id=personas.tenant_a.pk, delivery_id=delivery.pk)

    # when the receiver recovers, the next attempt is delivered
    with tenant_scope(personas.tenant_a):
        second = webhooks.webhook_deliver(delivery_id=delivery.pk, final_attempt=False)
        delivery.refresh_from_db()
    assert (second, delivery.status, delivery.attempts, delivery.last_status_code) == (
        "delivered",
        "delivered",
        3,
        200,
    )
    # then every request the receiver saw verifies with the secret, and says what happened
    assert len(receiver.received) == 3
    for request in receiver.received:
        assert verify(endpoint.secret, request["headers"], request["body"])
        assert not verify("whsec_other", request["headers"], request["body"])
    body = json.loads(receiver.received[-1]["body"])
    assert (
        body["id"] == str(delivery.code) == receiver.received[-1]["headers"]["X-DinPortal-Delivery"]
    )
    assert body["event"] == "call.answered"
    assert body["data"]["number"] == str(number.code)
    assert body["data"]["fallback"] is True
    # a tampered body does not verify
    assert not verify(endpoint.secret, receiver.received[-1]["headers"], body_tampered(body))


def body_tampered(body: dict) -> bytes:
    return json.dumps({**body, "event": "trial.released"}, separators=(",", ":")).encode()


def test_it_sends_a_released_trial_and_nothing_to_another_company(
    personas, receiver, task_queue, django_capture_on_commit_callbacks
):
    _endpoint(personas.tenant_a, receiver.url)
    _endpoint(personas.tenant_b, receiver.url + "/b")
    trial = SubscriptionFactory(tenant=personas.tenant_a)

    # when the release service raises the "trial released" alert
    with tenant_scope(personas.tenant_a), django_capture_on_commit_callbacks(execute=True):
        Alert.objects.create(
            tenant=personas.tenant_a,
            kind=AlertKind.TRIAL_RELEASED,
            number_id=trial.pk,
            number_code=trial.code,
            dedup_key="trial_released:x",
            context={"number": trial.e164, "saved": "617.50"},
        )
    task_queue.run_all_named("api.deliver_webhook")

    assert [r["headers"]["X-DinPortal-Event"] for r in receiver.received] == ["trial.released"]
    assert json.loads(receiver.received[0]["body"])["data"]["saved"] == "617.50"
    assert receiver.received[0]["headers"]["Host"].endswith(str(receiver.server.server_port))


def test_it_turns_a_failing_webhook_off_with_an_alert(personas, receiver, settings, task_queue):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    endpoint = _endpoint(personas.tenant_a, receiver.url)
    receiver.answers = [503, 503]
    with tenant_scope(personas.tenant_a):
        for _ in range(2):
            webhooks.webhook_emit(
                tenant_id=personas.tenant_a.pk, event="call.answered", data={"n": 1}
            )
        deliveries = list(WebhookDelivery.objects.order_by("id"))
        outcomes = [
            webhooks.webhook_deliver(delivery_id=d.pk, final_attempt=True) for d in deliveries
        ]
        endpoint.refresh_from_db()
        alert = Alert.objects.get(kind=AlertKind.WEBHOOK_DISABLED)
        # and nothing more is queued for it
        assert (
            webhooks.webhook_emit(tenant_id=personas.tenant_a.pk, event="call.answered", data={})
            == []
        )
    assert outcomes == ["failed", "failed"]
    assert not endpoint.is_active and endpoint.consecutive_failures == 2
    assert alert.context["url"] == receiver.url


def test_it_refuses_private_addresses_unless_allowed(personas, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    for url in (
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ):
        with pytest.raises(webhooks.AddressRefused):
            webhooks.webhook_address_check(url)
    webhooks.webhook_address_check("https://93.184.215.14/hook")  # a global address


def test_it_does_not_post_to_an_address_that_became_private(personas, settings, task_queue):
    # given a webhook saved while allowed, then the policy is back to public only
    endpoint = _endpoint(personas.tenant_a, "http://127.0.0.1:9/hook")
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with tenant_scope(personas.tenant_a):
        webhooks.webhook_emit(tenant_id=personas.tenant_a.pk, event="call.answered", data={})
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert webhooks.webhook_deliver(delivery_id=delivery.pk, final_attempt=True) == "failed"
        delivery.refresh_from_db()
    assert delivery.last_status_code is None and "public" in delivery.last_error


def test_it_sends_an_outbound_call_once_finished(
    personas, receiver, task_queue, django_capture_on_commit_callbacks
):
    _endpoint(personas.tenant_a, receiver.url, events=["outbound_call.finished"])
    call = OutboundCallFactory(tenant=personas.tenant_a, status="queued")
    with tenant_scope(personas.tenant_a), django_capture_on_commit_callbacks(execute=True):
        assert call_fail(call, reason="carrier down", from_statuses=["queued"])
        assert not call_fail(call, reason="again", from_statuses=["queued"])  # settled once
    task_queue.run_all_named("api.deliver_webhook")
    assert len(receiver.received) == 1
    data = json.loads(receiver.received[0]["body"])["data"]
    assert (data["call"], data["status"]) == (str(call.code), "failed")


def test_deliveries_keep_the_time_of_the_event(
    personas, receiver, task_queue, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC))
    _endpoint(personas.tenant_a, receiver.url)
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_emit(tenant_id=personas.tenant_a.pk, event="call.answered", data={})
    time_machine.move_to(datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC))
    task_queue.run_all_named("api.deliver_webhook")
    body = json.loads(receiver.received[0]["body"])
    assert body["occurred_at"] == "2026-12-01T18:00:00+09:00"  # the company's zone (Tokyo)


def test_it_sends_a_trial_reminder_and_a_failed_subscription_where_their_alerts_are_raised(
    personas, receiver, task_queue, django_capture_on_commit_callbacks
):
    _endpoint(personas.tenant_a, receiver.url, events=("trial.reminder", "subscription.failed"))
    trial = SubscriptionFactory(tenant=personas.tenant_a)
    failing = SubscriptionFactory(tenant=personas.tenant_a, status="subscribing", is_trial=False)

    with tenant_scope(personas.tenant_a), django_capture_on_commit_callbacks(execute=True):
        # what the trial sweep raises an hour before the release
        alert_raise(
            kind=AlertKind.TRIAL_REMINDER,
            subscription=trial,
            context={"minutes_before": 60, "hours_before": 1},
        )
        # the subscribe task: the carrier refused the number
        assert fail(failing, "The number is no longer available.")
        # a released trial is not asked for by this webhook
        Alert.objects.create(
            tenant=personas.tenant_a,
            kind=AlertKind.TRIAL_RELEASED,
            number_id=trial.pk,
            number_code=trial.code,
            dedup_key="trial_released:y",
            context={"number": trial.e164},
        )
    task_queue.run_all_named("api.deliver_webhook")

    bodies = {r["headers"]["X-DinPortal-Event"]: json.loads(r["body"]) for r in receiver.received}
    assert set(bodies) == {"trial.reminder", "subscription.failed"}
    reminder = bodies["trial.reminder"]["data"]
    assert reminder["number"] == str(trial.code) and reminder["minutes_before"] == 60
    assert reminder["e164"] == trial.e164
    failed = bodies["subscription.failed"]["data"]
    assert failed["number"] == str(failing.code)
    assert failed["reason"] == "The number is no longer available."
    assert failed["cause"] == "carrier"


@pytest.mark.django_db
def test_a_call_log_batch_of_companies_without_webhooks_costs_one_query(
    django_assert_num_queries,
):
    # given a big batch from the edge's call-log writer, and no company listening
    batch = [
        {"tenant_id": 10_000 + n % 50, "subscription_id": n, "at": "", "source": "flow"}
        for n in range(5_000)
    ]
    # when the writer tells its receivers, then only the listeners are looked up
    with django_assert_num_queries(1):
        calls_logged.send(sender=CallLog, calls=batch)

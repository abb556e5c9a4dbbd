"""Outbound calls against the sandbox carrier over real HTTP.

The user's steps go through the pages (test client); the tasks they enqueue run as functions
(``task_queue``) and talk to the sandbox served by the live server; the sandbox's own
completion task (``enqueued_completions``) ends each call and POSTs the callback back to the
portal through the live server.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callflows.flows.compiler import audio_public_url
from callflows.models import OutboundCall
from callflows.outbound import follow
from callflows.outbound import services as outbound
from callflows.outbound.tasks import place_call
from callflows.tests.factories import make_audio, make_script
from dins.models import Subscription
from dins.tests.factories import SubscriptionFactory
from portal import phone
from portal.models import AuditEvent, Tenant
from portal.phone import display
from portal.scoping import scopes_disabled
from sandbox import faults as sandbox_faults
from sandbox.models import SandboxCall
from sandbox.tasks import complete_call

pytestmark = pytest.mark.django_db(transaction=True)

State = OutboundCall.Status
PLAYBACKS = r"^/voice/simple/playbacks/?$"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connections fail


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    settings.OUTBOUND_RATE_LIMIT_PER_MINUTE = 50
    settings.OUTBOUND_DAILY_CAP = 100
    return sandbox_url


@pytest.fixture
def staff(client, personas, carrier):
    client.force_login(personas.staff_a)
    return client


def _subscribe(client, personas, task_queue, xoxzo, *, prefix="8150") -> Subscription:
    """A number the sandbox account really holds (subscribed through the portal's own flow)."""
    din = xoxzo.search_dins(prefix=prefix)[0]
    client.force_login(personas.owner_a)
    response = client.post(reverse("number_subscribe"), {"din_uid": din.din_uid, "mode": "keep"})
    assert response.status_code == 302
    task_queue.run_all()
    client.force_login(personas.staff_a)
    with scopes_disabled():
        return Subscription.objects.get(din_uid=din.din_uid, status="active")


@pytest.fixture
def jp_number(staff, personas, task_queue, xoxzo) -> Subscription:
    return _subscribe(staff, personas, task_queue, xoxzo, prefix="8150")


def _call_form(**values) -> dict:
    form = {
        "recipient": "+818012345678",
        "message_kind": "text",
        "text": "本日のご予約を確認いたしました。",
        "tts_lang": "ja",
    }
    form.update(values)
    return {key: value for key, value in form.items() if value is not None}


def _request_call(client, subscription, **values) -> OutboundCall:
    response = client.post(
        reverse("outbound_call_new", args=[subscription.code]), _call_form(**values)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("outbound_call_list", args=[subscription.code])
    with scopes_disabled():
        return OutboundCall.objects.latest("id")


def _reload(call: OutboundCall) -> OutboundCall:
    with scopes_disabled():
        return OutboundCall.objects.select_related("tenant").get(pk=call.pk)


def _complete_at_carrier(enqueued_completions) -> None:
    """The sandbox ends every call it placed (its task, run now) and calls the callbacks."""
    while enqueued_completions:
        complete_call(**enqueued_completions.pop(0)["kwargs"])


def _carrier_call(call: OutboundCall) -> SandboxCall:
    return SandboxCall.objects.get(callid=call.callid)


def _history(client, subscription) -> str:
    response = client.get(reverse("outbound_call_list", args=[subscription.code]))
    assert response.status_code == 200
    return response.content.decode()


# --- The lifecycle --------------------------------------------------------------------------


def test_it_places_a_call_with_local_caller_id_and_the_callback_records_it_answered(
    staff, jp_number, task_queue, enqueued_completions, personas
):
    # given the form, which shows both per-minute estimates
    page = staff.get(reverse("outbound_call_new", args=[jp_number.code])).content.decode()
    assert "10 credits per started minute" in page
    assert "15 credits per started minute with local caller ID" in page
    assert 'name="local_caller_id"' in page

    # when staff calls with "show this number as caller ID"
    call = _request_call(staff, jp_number, local_caller_id="on")
    assert (call.status, call.caller_id_used, call.local_caller_id) == (
        State.QUEUED,
        jp_number.e164,
        True,
    )
    assert task_queue.names() == ["callflows.place_call"]
    task_queue.run_all()

    # then the carrier took it with the DIN as caller and the option set
    call = _reload(call)
    assert call.status == State.IN_PROGRESS and call.callid
    at_carrier = _carrier_call(call)
    assert at_carrier.caller == jp_number.e164
    assert at_carrier.is_local_caller_id
    assert at_carrier.tts_message == "本日のご予約を確認いたしました。"
    assert at_carrier.tts_lang == "ja"
    assert at_carrier.callbackurl == f"{outbound.callback_url_for(call)}"
    assert f"/c/{call.callback_token}/" in at_carrier.callbackurl
    assert 'data-call-status="in_progress"' in _history(staff, jp_number)

    # when the carrier ends it, its callback reaches the portal over HTTP
    _complete_at_carrier(enqueued_completions)

    # then the call is answered, with the carrier's duration and cost (local caller ID rate)
    call = _reload(call)
    assert call.status == State.ANSWERED
    assert (call.duration, call.cost) == (42, 15)
    assert call.callback_received_at is not None and call.ended_at is not None
    assert _carrier_call(call).callback_result == "HTTP 200"
    history = _history(staff, jp_number)
    assert 'data-call-status="answered"' in history
    shown_values = ("080-1234-5678", display(jp_number.e164), "Answered", "42 seconds", "15")
    for shown in (*shown_values, "staff.a@example"):
        assert shown in history, shown
    detail = staff.get(reverse("outbound_call_detail", args=[call.code])).content.decode()
    assert "local caller ID" in detail and call.callid in detail
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="outbound_call.request", actor=personas.staff_a)


def test_it_calls_without_caller_id_when_unticked_and_records_no_answer(
    staff, jp_number, task_queue, enqueued_completions, settings
):
    call = _request_call(staff, jp_number, recipient="080-1234-0000")
    assert call.recipient == "+818012340000"
    task_queue.run_all()

    call = _reload(call)
    at_carrier = _carrier_call(call)
    # Not the Japanese DIN: the carrier would refuse it without the option.
    assert at_carrier.caller == settings.OUTBOUND_CALLER_WITHOUT_LOCAL_ID
    assert not at_carrier.is_local_caller_id
    assert call.caller_id_used == ""
    assert call.estimated_minute_cost == 10

    _complete_at_carrier(enqueued_completions)
    call = _reload(call)
    assert (call.status, call.duration, call.cost) == (State.NO_ANSWER, 0, 0)
    history = _history(staff, jp_number)
    assert "No answer" in history and ">none<" in history


def test_it_records_a_failed_call(staff, jp_number, task_queue, enqueued_completions):
    call = _request_call(staff, jp_number, recipient="+818012349999")
    task_queue.run_all()
    _complete_at_carrier(enqueued_completions)

    call = _reload(call)
    assert call.status == State.FAILED
    assert "The carrier could not connect the call." in _history(staff, jp_number)


def test_it_plays_an_mp3_from_the_library(staff, jp_number, task_queue, personas):
    audio = make_audio(personas.tenant_a, label="Reminder")

    call = _request_call(staff, jp_number, message_kind="audio", audio=str(audio.code), text=None)
    task_queue.run_all()

    call = _reload(call)
    assert call.status == State.IN_PROGRESS
    assert _carrier_call(call).recording_url == audio_public_url(audio)
    assert "MP3: Reminder" in _history(staff, jp_number)


def test_it_reads_a_tts_script(staff, jp_number, task_queue, personas):
    script = make_script(personas.tenant_a, language="en", text="Your order has shipped.")

    call = _request_call(
        staff, jp_number, message_kind="script", script=str(script.code), text=None
    )
    task_queue.run_all()

    at_carrier = _carrier_call(_reload(call))
    assert (at_carrier.tts_message, at_carrier.tts_lang) == ("Your order has shipped.", "en")


def test_it_refuses_another_tenants_audio(staff, jp_number, personas):
    foreign = make_audio(personas.tenant_b, label="Theirs")
    response = staff.post(
        reverse("outbound_call_new", args=[jp_number.code]),
        _call_form(message_kind="audio", audio=str(foreign.code), text=None),
    )
    assert response.status_code == 400
    with scopes_disabled():
        assert not OutboundCall.objects.exists()


def test_it_settles_a_call_whose_callback_was_lost_by_polling(
    staff, jp_number, task_queue, enqueued_completions, settings
):
    # given a call whose callback URL cannot be reached (the public base points nowhere)
    settings.PUBLIC_BASE_URL = CLOSED_PORT_URL
    call = _request_call(staff, jp_number)
    task_queue.run_all()
    _complete_at_carrier(enqueued_completions)
    call = _reload(call)
    assert call.status == State.IN_PROGRESS  # the callback never arrived
    assert _carrier_call(call).callback_result.startswith("ConnectionError")

    # when the sweep runs before the callback is overdue, nothing is asked
    assert follow.outbound_calls_poll_due().polled == []

    # when it runs after OUTBOUND_POLL_AFTER_SECONDS, the call-status API settles it
    later = timezone.now() + timedelta(seconds=settings.OUTBOUND_POLL_AFTER_SECONDS + 1)
    assert follow.outbound_calls_poll_due(now=later).polled == [call.pk]
    assert task_queue.names() == ["callflows.poll_call"]
    task_queue.run_all()

    call = _reload(call)
    assert (call.status, call.duration, call.cost) == (State.ANSWERED, 42, 10)
    assert call.last_polled_at is not None and call.callback_received_at is None
    assert follow.outbound_calls_poll_due(now=later + timedelta(hours=1)).polled == []


def test_it_keeps_polling_a_call_the_carrier_still_has_in_progress(
    staff, jp_number, task_queue, settings
):
    call = _request_call(staff, jp_number)
    task_queue.run_all()

    later = timezone.now() + timedelta(seconds=settings.OUTBOUND_POLL_AFTER_SECONDS + 1)
    assert follow.outbound_calls_poll_due(now=later).polled == [call.pk]
    task_queue.run_all()
    assert _reload(call).status == State.IN_PROGRESS  # the carrier says IN PROGRESS

    # polled a moment ago: not again before the interval, again after it
    assert follow.outbound_calls_poll_due(now=timezone.now()).polled == []
    after_interval = timezone.now() + timedelta(seconds=settings.OUTBOUND_POLL_INTERVAL_SECONDS + 1)
    assert follow.outbound_calls_poll_due(now=after_interval).polled == [call.pk]


# --- Caller ID ------------------------------------------------------------------------------


def test_it_refuses_a_local_caller_id_the_carrier_does_not_hold(
    staff, carrier, task_queue, personas
):
    # given a Japanese number the portal has but the carrier account does not hold
    number = SubscriptionFactory(tenant=personas.tenant_a, din="815099998888")

    call = _request_call(staff, number, local_caller_id="on")
    task_queue.run_all()

    call = _reload(call)
    assert call.status == State.FAILED and call.callid is None
    # in the company's words (Japanese here), then the carrier's own after "carrier: "
    assert call.failure_reason.startswith(
        "キャリアがこの発信を受け付けませんでした。\ncarrier: caller: "
    )
    assert "not one of your subscribed Japanese numbers" in call.failure_reason
    assert not SandboxCall.objects.exists()
    assert "not one of your subscribed Japanese numbers" in _history(staff, number)


def test_it_shows_the_carriers_refusal_of_a_japanese_caller_id_without_the_option(
    staff, jp_number, task_queue, settings
):
    # given a misconfigured placeholder: a Japanese number, sent without the option
    settings.OUTBOUND_CALLER_WITHOUT_LOCAL_ID = jp_number.e164

    call = _request_call(staff, jp_number)
    task_queue.run_all()

    call = _reload(call)
    assert call.status == State.FAILED
    assert "caller: Japanese caller IDs" in call.failure_reason
    assert "only allowed with the local caller ID option" in call.failure_reason
    assert not SandboxCall.objects.exists()
    assert task_queue.sent == []  # a refusal is final: no retry
    detail = staff.get(reverse("outbound_call_detail", args=[call.code])).content.decode()
    assert "only allowed with the local caller ID option" in detail


def test_it_calls_from_a_non_japanese_number_without_the_option(staff, personas, task_queue, xoxzo):
    us_number = _subscribe(staff, personas, task_queue, xoxzo, prefix="1415")
    form = staff.get(reverse("outbound_call_new", args=[us_number.code])).content.decode()
    assert 'name="local_caller_id"' not in form

    # a forged tick is ignored: the field does not exist for this number
    call = _request_call(staff, us_number, local_caller_id="on")
    task_queue.run_all()

    call = _reload(call)
    at_carrier = _carrier_call(call)
    assert at_carrier.caller == us_number.e164 and not at_carrier.is_local_caller_id
    assert (call.caller_id_used, call.local_caller_id) == (us_number.e164, False)


# --- Placement failures ---------------------------------------------------------------------


def test_it_settles_an_unknown_placement_through_the_callback_and_the_call_status_api(
    staff, jp_number, task_queue, enqueued_completions
):
    # given a placement the carrier carried out but whose answer was lost (HTTP 500 after)
    sandbox_faults.sandbox_fault_add(
        method="POST", path_pattern=PLAYBACKS, status=500, when="after"
    )
    call = _request_call(staff, jp_number)
    task_queue.run_all()

    # then the call is "unknown", without callid, and nothing was retried
    call = _reload(call)
    assert (call.status, call.callid) == (State.UNKNOWN, None)
    assert task_queue.sent == []
    assert SandboxCall.objects.count() == 1
    assert "will not be placed twice" in _history(staff, jp_number)

    # when the carrier's callback arrives, its callid is adopted but not yet trusted
    _complete_at_carrier(enqueued_completions)
    call = _reload(call)
    assert call.status == State.UNKNOWN
    assert call.callid == str(SandboxCall.objects.get().callid)
    assert task_queue.names() == ["callflows.poll_call"]

    # then the call-status API confirms it and settles the call
    task_queue.run_all()
    call = _reload(call)
    assert (call.status, call.duration) == (State.ANSWERED, 42)
    assert SandboxCall.objects.count() == 1
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="outbound_call.settle", object_code=call.code)


def test_it_gives_up_an_unknown_placement_that_never_reports(
    staff, jp_number, task_queue, enqueued_completions, settings, personas
):
    # (the reason is stored in the tenant's language, read here in English)
    Tenant.objects.filter(pk=personas.tenant_a.pk).update(language="en")
    # given a lost answer and a lost callback
    settings.PUBLIC_BASE_URL = CLOSED_PORT_URL
    sandbox_faults.sandbox_fault_add(
        method="POST", path_pattern=PLAYBACKS, status=500, when="after"
    )
    call = _request_call(staff, jp_number)
    task_queue.run_all()
    _complete_at_carrier(enqueued_completions)
    assert _reload(call).status == State.UNKNOWN

    # within the grace period it waits
    assert follow.outbound_calls_poll_due().given_up == []

    # after it, the call is failed with a reason that says what happened
    later = timezone.now() + timedelta(minutes=settings.OUTBOUND_UNKNOWN_GRACE_MINUTES + 1)
    assert follow.outbound_calls_poll_due(now=later).given_up == [call.pk]
    call = _reload(call)
    assert call.status == State.FAILED
    assert "never reported" in call.failure_reason and "not retried" in call.failure_reason
    assert SandboxCall.objects.count() == 1  # placed once, never again


def test_it_retries_only_when_the_carrier_provably_did_not_get_the_call(
    staff, jp_number, task_queue
):
    from dins.xoxzo import XoxzoRateLimited

    # given the carrier answering 429 (rate limited: it did not look at the request) once
    sandbox_faults.sandbox_fault_add(method="POST", path_pattern=PLAYBACKS, status=429, times=1)
    call = _request_call(staff, jp_number)
    (task, _args, kwargs) = task_queue.sent.pop()

    # when the task runs, the error propagates for Celery's retry and the row is queued again
    with pytest.raises(XoxzoRateLimited):
        task(**kwargs)
    assert _reload(call).status == State.QUEUED
    assert not SandboxCall.objects.exists()

    # when the retry runs, the call is placed (once)
    task(**kwargs)
    assert _reload(call).status == State.IN_PROGRESS
    assert SandboxCall.objects.count() == 1
    # a redelivered task finds the row moved on
    task(**kwargs)
    assert SandboxCall.objects.count() == 1


def test_it_fails_a_call_when_the_carrier_stays_unreachable(
    staff, jp_number, task_queue, monkeypatch
):
    sandbox_faults.sandbox_fault_add(method="POST", path_pattern=PLAYBACKS, status=429, times=1)
    call = _request_call(staff, jp_number)
    task_queue.sent.clear()
    monkeypatch.setattr(place_call, "max_retries", 0)  # this is the last attempt

    place_call(tenant_id=call.tenant_id, call_id=call.pk)

    call = _reload(call)
    assert call.status == State.FAILED and "429" in call.failure_reason
    assert not SandboxCall.objects.exists()


def test_it_never_places_a_call_again_after_a_503(staff, jp_number, task_queue):
    # the carrier placed the call, then answered 503: the call exists, the answer says nothing
    sandbox_faults.sandbox_fault_add(
        method="POST", path_pattern=PLAYBACKS, status=503, when="after"
    )
    call = _request_call(staff, jp_number)
    (task, _args, kwargs) = task_queue.sent.pop()

    task(**kwargs)
    task(**kwargs)  # redelivered

    assert _reload(call).status == State.UNKNOWN
    assert SandboxCall.objects.count() == 1


def test_it_turns_a_placement_whose_worker_died_into_unknown(personas, settings):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    call = _placing_call(number)
    later = timezone.now() + timedelta(minutes=settings.OUTBOUND_PLACING_LEASE_MINUTES + 1)

    result = follow.outbound_calls_poll_due(now=later)

    assert result.unknown == [call.pk]
    assert _reload(call).status == State.UNKNOWN


def test_it_expires_a_call_that_stayed_queued(personas, settings):
    from callflows.tests.factories import OutboundCallFactory

    number = SubscriptionFactory(tenant=personas.tenant_a)
    call = OutboundCallFactory(
        tenant=personas.tenant_a, subscription=number, status=State.QUEUED, callid=None
    )
    later = timezone.now() + timedelta(minutes=settings.OUTBOUND_QUEUED_EXPIRY_MINUTES + 1)

    assert follow.outbound_calls_poll_due(now=later).expired == [call.pk]
    call = _reload(call)
    assert call.status == State.FAILED and call.failure_reason


def _placing_call(number):
    from callflows.tests.factories import OutboundCallFactory

    return OutboundCallFactory(
        tenant=number.tenant,
        subscription=number,
        status=State.PLACING,
        callid=None,
        placing_at=timezone.now(),
    )


# --- The callback URL -----------------------------------------------------------------------


def test_the_callback_is_idempotent_and_checks_the_callid(
    staff, jp_number, task_queue, enqueued_completions, edge_server
):
    import requests

    call = _request_call(staff, jp_number)
    task_queue.run_all()
    _complete_at_carrier(enqueued_completions)
    call = _reload(call)
    assert call.status == State.ANSWERED
    url = outbound.callback_url_for(call)  # on the edge, where the carrier reaches us
    assert url.startswith(edge_server.url + "/c/")
    with scopes_disabled():
        events = AuditEvent.objects.count()

    # the same report again: 200, nothing changes
    body = {"callid": call.callid, "status": "NO ANSWER", "duration": "0", "cost": "0"}
    assert requests.post(url, data=body, timeout=5).status_code == 200
    again = _reload(call)
    assert (again.status, again.duration, again.ended_at) == (State.ANSWERED, 42, call.ended_at)

    # another call's id under this token: refused, nothing changes
    forged = {**body, "callid": "00000000-0000-0000-0000-000000000000"}
    assert requests.post(url, data=forged, timeout=5).status_code == 400
    assert requests.post(url, data={"status": "ANSWERED"}, timeout=5).status_code == 400
    assert _reload(call).status == State.ANSWERED
    with scopes_disabled():
        assert AuditEvent.objects.count() == events


def test_the_callback_answers_404_for_unknown_tokens_and_405_for_get(carrier, edge_server):
    import requests

    for token in ("x" * 32, "not a token!", "a"):
        url = f"{edge_server.url}/c/{token}/"
        response = requests.post(url, data={"callid": "1", "status": "ANSWERED"}, timeout=5)
        assert response.status_code == 404, token
    assert requests.get(f"{edge_server.url}/c/{'x' * 32}/", timeout=5).status_code == 405


# --- Input, limits and roles ----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,e164",
    [
        ("+818012345678", "+818012345678"),
        ("080-1234-5678", "+818012345678"),
        ("\uff10\uff18\uff10 \uff11\uff12\uff13\uff14 5678", "+818012345678"),  # full width
        ("03 1234 5678", "+81312345678"),
        ("+1 415 555 0123", "+14155550123"),
    ],
)
def test_it_normalises_recipients_to_e164(typed, e164):
    assert phone.parse(typed) == e164


@pytest.mark.parametrize(
    "typed,message",
    [
        ("+8108012345678", "Remove the 0 after the country code: write +818012345678"),
        ("+81 03 1234 5678", "write +81312345678 (or 03-1234-5678 as dialled"),
        ("12", "12 does not exist"),
        ("+81 80 1234", "does not exist: check the digits"),
        ("call me", "is not a phone number: use digits"),
        ("", "Enter a phone number."),
    ],
)
def test_it_explains_wrong_recipients(typed, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        phone.parse(typed)


def test_the_form_explains_a_trunk_zero_and_places_nothing(staff, jp_number, task_queue):
    response = staff.post(
        reverse("outbound_call_new", args=[jp_number.code]),
        _call_form(recipient="+8108012345678"),
    )
    assert response.status_code == 400
    assert "Remove the 0 after the country code: write +818012345678" in response.content.decode()
    with scopes_disabled():
        assert not OutboundCall.objects.exists()
    assert task_queue.sent == []


@pytest.mark.parametrize(
    "recipient,reason",
    [
        ("0990-123-456", "is a premium-rate number"),
        ("0570-064-556", "is a shared-cost or nationwide access number"),
        ("+1 900 234 5678", "is outside Japan, and calls abroad are off"),
        ("+1 415 555 0123", "is outside Japan, and calls abroad are off"),
    ],
)
def test_it_refuses_costly_destinations_with_the_reason_and_places_nothing(
    client, personas, task_queue, recipient, reason
):
    # given a company that allowed neither calls abroad nor premium-rate numbers
    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(personas.staff_a)

    # when staff try to call such a number
    response = client.post(
        reverse("outbound_call_new", args=[number.code]), _call_form(recipient=recipient)
    )

    # then the form says why, and nothing is queued
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert "An admin can change this in Settings." in response.content.decode()
    with scopes_disabled():
        assert not OutboundCall.objects.exists()
    assert task_queue.sent == []


def test_the_service_applies_the_destination_policy_whatever_the_form_did(personas):
    from portal.scoping import tenant_scope
    from portal.services import ServiceError

    number = SubscriptionFactory(tenant=personas.tenant_a)
    with tenant_scope(personas.tenant_a), pytest.raises(ServiceError, match="premium-rate"):
        outbound.outbound_call_request(
            subscription=number,
            order=outbound.CallOrder(
                recipient="+81990123456", message_kind="text", text="hello", tts_lang="en"
            ),
            by=personas.staff_a,
        )
    with scopes_disabled():
        assert not OutboundCall.objects.exists()


def test_it_calls_premium_and_foreign_numbers_once_an_admin_allowed_them(
    client, personas, task_queue
):
    Tenant.objects.filter(pk=personas.tenant_a.pk).update(
        allow_international_transfer=True, allow_premium_destinations=True
    )
    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(personas.staff_a)
    for recipient in ("0990-123-456", "+1 900 234 5678"):
        response = client.post(
            reverse("outbound_call_new", args=[number.code]), _call_form(recipient=recipient)
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        assert sorted(OutboundCall.objects.values_list("recipient", flat=True)) == [
            "+19002345678",
            "+81990123456",
        ]


def test_it_enforces_the_rate_limit_per_tenant(staff, personas, settings, task_queue):
    settings.OUTBOUND_RATE_LIMIT_PER_MINUTE = 2
    number = SubscriptionFactory(tenant=personas.tenant_a)
    url = reverse("outbound_call_new", args=[number.code])
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert staff.post(url, _call_form()).status_code == 302
        assert staff.post(url, _call_form()).status_code == 302
        refused = staff.post(url, _call_form())
    assert refused.status_code == 429
    assert "Too many calls: your company may place 2 calls per minute" in refused.content.decode()
    with scopes_disabled():
        assert OutboundCall.objects.count() == 2
    assert task_queue.names() == ["callflows.place_call"] * 2

    # another tenant is not affected
    other = SubscriptionFactory(tenant=personas.tenant_b)
    other_client = Client()
    other_client.force_login(personas.owner_b)
    with time_machine.travel(start, tick=False):
        other_url = reverse("outbound_call_new", args=[other.code])
        assert other_client.post(other_url, _call_form()).status_code == 302

    # a minute later the tenant may call again
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert staff.post(url, _call_form()).status_code == 302


def test_it_enforces_the_daily_cap_in_the_tenants_time_zone(staff, personas, settings):
    import zoneinfo
    from datetime import datetime

    settings.OUTBOUND_DAILY_CAP = 3
    settings.OUTBOUND_RATE_LIMIT_PER_MINUTE = 100
    number = SubscriptionFactory(tenant=personas.tenant_a)
    url = reverse("outbound_call_new", args=[number.code])
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    assert personas.tenant_a.timezone == "Asia/Tokyo"

    # 3 calls at 23:50 Tokyo (14:50 UTC, same UTC day as the next ones)
    with time_machine.travel(datetime(2026, 3, 2, 23, 50, tzinfo=tokyo), tick=False):
        for _ in range(3):
            assert staff.post(url, _call_form()).status_code == 302
        refused = staff.post(url, _call_form())
    assert refused.status_code == 429
    assert "reached its limit of 3 calls today" in refused.content.decode()
    with scopes_disabled():
        assert OutboundCall.objects.count() == 3

    # after midnight in Tokyo the cap starts again
    with time_machine.travel(datetime(2026, 3, 3, 0, 5, tzinfo=tokyo), tick=False):
        assert staff.post(url, _call_form()).status_code == 302


def test_viewers_cannot_call_but_see_the_history(client, personas, task_queue):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    client.force_login(personas.viewer_a)
    url = reverse("outbound_call_new", args=[number.code])

    assert client.get(url).status_code == 403
    assert client.post(url, _call_form()).status_code == 403
    with scopes_disabled():
        assert not OutboundCall.objects.exists()
    assert task_queue.sent == []

    history = client.get(reverse("outbound_call_list", args=[number.code])).content.decode()
    assert "No outbound calls yet" in history and url not in history
    page = client.get(reverse("number_detail", args=[number.code])).content.decode()
    assert url not in page and reverse("outbound_call_list", args=[number.code]) in page


def test_staff_see_the_place_a_call_link_on_the_number_page(staff, personas):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    page = staff.get(reverse("number_detail", args=[number.code])).content.decode()
    assert reverse("outbound_call_new", args=[number.code]) in page


def test_a_released_number_cannot_call(staff, personas, task_queue):
    number = SubscriptionFactory(tenant=personas.tenant_a, status="released")
    response = staff.post(reverse("outbound_call_new", args=[number.code]), _call_form())
    assert response.status_code == 400
    assert "only be placed from an active number" in response.content.decode()
    with scopes_disabled():
        assert not OutboundCall.objects.exists()


def test_the_history_page_has_a_constant_number_of_queries(
    staff, personas, django_assert_max_num_queries
):
    from callflows.tests.factories import OutboundCallFactory

    number = SubscriptionFactory(tenant=personas.tenant_a)
    for _ in range(15):
        OutboundCallFactory(tenant=personas.tenant_a, subscription=number)
    staff.get(reverse("outbound_call_list", args=[number.code]))  # warm the session
    with django_assert_max_num_queries(12):
        response = staff.get(reverse("outbound_call_list", args=[number.code]))
    assert response.content.decode().count('data-call-status="in_progress"') == 15

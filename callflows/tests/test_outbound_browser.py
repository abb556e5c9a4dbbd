"""Placing a call as staff do it, in real Chromium against the sandbox carrier."""

import pytest

from callflows.models import OutboundCall
from dins.models import Subscription
from portal.phone import display
from portal.scoping import scopes_disabled
from sandbox.models import SandboxCall
from sandbox.tasks import complete_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    return sandbox_url


def test_it_places_a_call_with_local_caller_id_and_watches_it_get_answered(
    page, personas, sign_in, carrier, task_queue, enqueued_completions, client, xoxzo
):
    # given a Japanese number the company holds at the carrier
    din = xoxzo.search_dins(prefix="8150")[0]
    client.force_login(personas.owner_a)
    client.post("/numbers/subscribe/", {"din_uid": din.din_uid, "mode": "keep"})
    task_queue.run_all()
    with scopes_disabled():
        number = Subscription.objects.get(din_uid=din.din_uid, status="active")

    # staff open the number and the call form, which shows both estimates
    sign_in("staff.a@example.com")
    page.goto(f"/numbers/{number.code}/")
    page.click("#outbound >> text=Place a call")
    estimate = page.inner_text("#cost-estimate")
    assert "10 credits per started minute" in estimate
    assert "15 credits per started minute with local caller ID" in estimate

    # a +8108… mistake is explained, and nothing is placed
    page.fill("input[name=recipient]", "+8108012345678")
    page.check("input[name=message_kind][value=text]")
    page.fill("textarea[name=text]", "ご予約ありがとうございます。")
    page.check("input[name=local_caller_id]")
    page.click("#outbound-call-form button[type=submit]")
    assert "Remove the 0 after the country code" in page.inner_text("main")
    assert task_queue.sent == []

    # corrected, the call is queued and the history shows it
    page.fill("input[name=recipient]", "080-1234-5678")
    page.click("#outbound-call-form button[type=submit]")
    page.wait_for_selector("text=Calling 080-1234-5678")
    row = page.locator("tr[data-call-status]").first
    assert row.get_attribute("data-call-status") == "queued"
    assert display(number.e164) in row.inner_text()

    # the worker places it: the row follows by itself, without a reload
    task_queue.run_all()
    page.wait_for_selector("tr[data-call-status=in_progress]", timeout=10_000)
    with scopes_disabled():
        call = OutboundCall.objects.get()
    at_carrier = SandboxCall.objects.get(callid=call.callid)
    assert at_carrier.is_local_caller_id and at_carrier.caller == number.e164

    # the carrier ends the call and calls back: the row turns Answered
    complete_call(**enqueued_completions.pop()["kwargs"])
    page.wait_for_selector("tr[data-call-status=answered]", timeout=10_000)
    text = page.locator("tr[data-call-status=answered]").inner_text()
    assert "Answered" in text and "42 s" in text and "15" in text
    assert "local caller ID" in text

"""A new clinic owner sets up a number alone, in real Chromium, as the screen reads to them.

In Japanese and English, on a desktop and on a 390x844 phone: a VIP list typed the way people
write numbers, the New Year holidays as one period, a flow built from starting points (clinic
hours with a lunch break, closed on holidays, VIP transfer), the week at a glance before
saving, a preview of the VIP caller typed in domestic format, one save, a test call. Clicks and
checks go by the text on the screen.
"""

import pytest
from django.utils import timezone

from callflows.edge import call_log
from callflows.models import CallFlow, FlowVersion
from portal.models import User
from portal.scoping import scopes_disabled
from testing.scaffolding import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
TEXT = {
    "en": {
        "save": "Save",
        "add": "Add",
        "open_flow": "Open the call flow",
        "clinic": "Clinic hours with a lunch break",
        "holidays": "Closed on holidays",
        "vip": "VIP transfer",
        "lunch": "Lunch break",
        "clinic_hours": "Clinic hours",
        "weekdays": "Mon–Fri",  # noqa: RUF001
        "preview": "Preview",
        "vip_rule": "VIP callers",
        "transfer": "Transfer to 03-1234-5678",
        "save_flow": "Save call flow",
        "saved": "Call flow saved",
        "test_call": "Place a test call",
        "put_through": "The call was put through to 03-1234-5678.",
    },
    "ja": {
        "save": "保存",
        "add": "追加",
        "open_flow": "着信フローを開く",
        "clinic": "昼休みのある診療時間",
        "holidays": "祝日は休業",
        "vip": "VIPは転送",
        "lunch": "昼休み",
        "clinic_hours": "診療時間",
        "weekdays": "月〜金",
        "preview": "プレビュー",
        "vip_rule": "VIPの発信者",
        "transfer": "03-1234-5678 に転送",
        "save_flow": "着信フローを保存",
        "saved": "着信フローを保存しました",
        "test_call": "テスト発信する",
        "put_through": "03-1234-5678 に転送されました。",
    },
}


@pytest.mark.parametrize("screen", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_new_owner_sets_up_a_number_alone(
    chromium,
    live_server,
    client,
    personas,
    sandbox_url,
    settings,
    task_queue,
    xoxzo,
    language,
    screen,
):
    from dins.tests.test_lifecycle import _free_din, _subscribe

    text = TEXT[language]
    client.force_login(personas.owner_a)
    number = _subscribe(client, task_queue, _free_din(xoxzo).din_uid, trial=False)
    User.objects.filter(pk=personas.owner_a.pk).update(language=language)
    context = chromium.new_context(
        base_url=live_server.url, viewport=SCREENS[screen], locale=f"{language}-JP"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/account/login/")
    page.fill("input[name=username]", personas.owner_a.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")

    # a VIP list, typed the way the caller's number is written on a card
    page.goto("/callflows/lists/new/")
    page.fill("input[name=name]", "VIP")
    page.fill("textarea[name=numbers]", "090-1234-5678")
    page.click(f"main button:has-text('{text['save']}')")
    page.wait_for_selector("tr[data-list=VIP]")

    # the New Year holidays as one period
    year = timezone.localdate().year
    page.goto("/callflows/closed-dates/")
    page.fill("input[name=date]", f"{year}-12-29")
    page.fill("input[name=end_date]", f"{year + 1}-01-03")
    page.fill("input[name=note]", "年末年始")
    page.click(f"main button:has-text('{text['add']}')")
    page.wait_for_selector(f"tr[data-date='{year}-12-29']")

    # the flow, from three starting points
    page.goto(f"/numbers/{number.code}/")
    page.click(f"text={text['open_flow']}")
    for starting_point in ("clinic", "holidays", "vip"):
        page.click(f"button:has-text('{text[starting_point]}')")
        page.wait_for_load_state()
    labels = page.eval_on_selector_all(
        "input[name$='-label']", "inputs => inputs.map(i => i.value)"
    )
    assert labels[0] == text["vip_rule"] and text["lunch"] in labels
    # what the starting points cannot know: where to transfer
    for index in (0, 3, 4):  # VIP, clinic hours, Saturday morning
        page.fill(f"input[name=rules-{index}-number]", "03-1234-5678")
    page.locator("input[name=rules-4-number]").dispatch_event("change")

    # the week at a glance, before saving
    summary = page.locator("[data-week-summary]")
    summary.get_by_text(text["lunch"]).first.wait_for()
    week = summary.inner_text()
    assert text["weekdays"] in week
    assert "12:00–13:00" in week and text["clinic_hours"] in week  # noqa: RUF001

    # a VIP caller, typed in domestic format, on a Monday evening
    page.fill("input[name=preview-at]", f"{year}-12-07T20:00")
    page.fill("input[name=preview-caller]", "090-1234-5678")
    page.click(f"button:has-text('{text['preview']}')")
    page.wait_for_selector("[data-preview-words]")
    assert page.inner_text("[data-preview-rule]") == text["vip_rule"]
    assert page.inner_text("[data-preview-words]") == text["transfer"]

    # save once
    page.click(f"button:has-text('{text['save_flow']}')")
    page.wait_for_selector(f"text={text['saved']}")
    with scopes_disabled():
        flow = CallFlow.objects.get(subscription=number)
        assert FlowVersion.objects.filter(flow=flow).count() == 1
    assert [rule["when"]["type"] for rule in flow.document["rules"]] == [
        "caller_list",
        "holiday",
        "hours",
        "hours",
        "hours",
    ]

    # a test call from the VIP's phone reaches the front desk
    page.fill("input[name=caller]", "090-1234-5678")
    page.click(f"button:has-text('{text['test_call']}')")
    page.wait_for_selector("[data-test-call-status=queued]")
    assert task_queue.run_all_named("dins.test_call") == 1  # what the worker does
    page.wait_for_selector("[data-test-call-status=done]")
    assert page.inner_text("[data-test-call-ending]") == text["put_through"]
    call_log.call_log_buffer.flush()
    if screen == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()

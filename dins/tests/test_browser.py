"""Numbers as an admin uses them, in real Chromium against the sandbox carrier."""

import pytest

from dins.models import Subscription, SubscriptionStatus
from portal.scoping import scopes_disabled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    return sandbox_url


def test_it_searches_subscribes_a_trial_keeps_it_and_releases_another(
    page, personas, sign_in, carrier, task_queue
):
    sign_in("owner.a@example.com")

    # search 050 numbers: results arrive without a page reload
    page.click("nav.mainnav >> text=Numbers")
    page.click("text=Find a number")
    page.select_option("select[name=kind]", "jp-050")
    page.wait_for_selector("#search-results tr[data-din]")
    first = page.locator("#search-results tr[data-din]").first
    din = first.get_attribute("data-din")

    # subscribe as a 24-hour trial, after seeing what it costs
    first.locator("text=Try for 24 hours").click()
    confirm = page.inner_text("[data-confirm=subscribe]")
    assert "Charged now" in confirm and "The trial costs" in confirm and " credits" in confirm
    page.click("button:has-text('Start the trial')")
    # the page shows it pending, then active by itself
    page.wait_for_selector("[data-status=pending]")
    task_queue.run_all()  # the worker subscribes at the carrier and sets the action URL
    page.wait_for_selector("[data-status=active]", timeout=10_000)
    assert "Released automatically in" in page.inner_text("#number-status")
    countdown = page.locator("#number-status time[data-countdown]").inner_text()
    assert countdown.startswith("23h ")

    # keep it, after seeing the month's price
    page.click("text=Keep this number")
    assert "This month costs" in page.inner_text("[data-confirm=keep]")
    page.click("button:has-text('Keep it')")
    page.wait_for_selector("text=It is no longer a trial")
    with scopes_disabled():
        kept = Subscription.objects.get(din=din)
    assert (kept.status, kept.is_trial) == (SubscriptionStatus.ACTIVE, False)

    # subscribe another one outright, then release it with the typed confirmation
    page.goto("/numbers/search/?kind=jp-0120")
    second = page.locator("#search-results tr[data-din]").first
    other = second.get_attribute("data-din")
    second.locator("a:has-text('Keep')").click()
    page.click("button:has-text('Subscribe (')")
    task_queue.run_all()
    page.wait_for_selector("[data-status=active]", timeout=10_000)
    page.click("text=Release this number")
    page.fill("input[name=typed_number]", "+81 00 0000 0000")
    page.click("main button.danger")
    assert "Type the number exactly" in page.inner_text("main")
    national = "0" + other[2:]
    page.fill("input[name=typed_number]", f"{national}x")  # one character too many
    page.click("main button.danger")
    assert "Type the number exactly" in page.inner_text("main")
    page.fill("input[name=typed_number]", f"+{other}")
    page.click("main button.danger")
    page.wait_for_selector("[data-status=releasing]")
    task_queue.run_all()
    page.wait_for_selector("[data-status=released]", timeout=10_000)

"""Numbers as an admin uses them, in real Chromium against the sandbox carrier."""

import pytest

from dins.models import Status, Subscription
from portal.scoping import scopes_disabled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def carrier(sandbox_url, settings, live_server):
    settings.PUBLIC_BASE_URL = live_server.url
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

    # subscribe as a 24-hour trial: the page shows it pending, then active by itself
    first.locator("button[value=trial]").click()
    page.wait_for_selector("[data-status=pending]")
    task_queue.run_all()  # the worker subscribes at the carrier and sets the action URL
    page.wait_for_selector("[data-status=active]", timeout=10_000)
    assert "Released automatically in" in page.inner_text("#number-status")
    countdown = page.locator("#number-status time[data-countdown]").inner_text()
    assert countdown.startswith("23h ")

    # keep it
    page.click("text=Keep this number")
    page.wait_for_selector("text=It is no longer a trial")
    with scopes_disabled():
        kept = Subscription.objects.get(din=din)
    assert (kept.status, kept.is_trial) == (Status.ACTIVE, False)

    # subscribe another one outright, then release it with the typed confirmation
    page.goto("/numbers/search/?kind=jp-0120")
    second = page.locator("#search-results tr[data-din]").first
    other = second.get_attribute("data-din")
    second.locator("button[value=keep]").click()
    task_queue.run_all()
    page.wait_for_selector("[data-status=active]", timeout=10_000)
    page.click("text=Release this number")
    page.fill("input[name=typed_number]", "+81 00 0000 0000")
    page.click("main button.danger")
    assert "Type the number exactly" in page.inner_text("main")
    page.fill("input[name=typed_number]", f"+{other}")
    page.click("main button.danger")
    page.wait_for_selector("[data-status=releasing]")
    task_queue.run_all()
    page.wait_for_selector("[data-status=released]", timeout=10_000)

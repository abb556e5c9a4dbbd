"""The browsable API documentation, in real Chromium under the portal's security headers."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_browsable_docs_list_every_resource_without_a_blocked_script(page):
    refused = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Security Policy" in message.text else None,
    )
    page.goto("/api/v1/docs")
    page.wait_for_selector(".opblock-tag", timeout=15_000)
    tags = {
        t.strip().split("\n")[0].lower() for t in page.locator(".opblock-tag").all_inner_texts()
    }
    assert tags >= {"numbers", "call log", "alerts", "assets", "outbound calls"}, tags
    assert page.locator(".opblock").count() >= 20
    assert refused == [], refused

"""Phone-sized screens, in real Chromium at 390x844: no page scrolls sideways, taps are big.

Every main page is opened in Japanese and English with a company that has something on each
of them (a flow with many rules, calls, outbound calls, alerts, members, closed dates).
"""

import pytest
from django.urls import reverse

from portal.tests.companies import japanese_clinic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
MIN_TAP = 43.5  # px; 44 px is the usual minimum for a finger


def main_pages(company) -> list[str]:
    number, trial = company["subscription"], company["trial"]
    return [
        reverse("dashboard"),
        reverse("number_list"),
        reverse("number_search"),
        reverse("costs"),
        reverse("number_detail", args=[number.code]),
        reverse("number_detail", args=[trial.code]),
        reverse("number_keep", args=[trial.code]),
        reverse("number_release", args=[number.code]),
        reverse("flow_edit", args=[number.code]),
        reverse("flow_history", args=[number.code]),
        reverse("number_calls", args=[number.code]),
        reverse("outbound_call_new", args=[number.code]),
        reverse("outbound_call_list", args=[number.code]),
        reverse("outbound_call_detail", args=[company["outboundcall"].code]),
        reverse("call_log"),
        reverse("audio_list"),
        reverse("script_list"),
        reverse("caller_lists"),
        reverse("caller_list_edit", args=[company["callerlist"].code]),
        reverse("closed_dates"),
        reverse("members"),
        reverse("alert_list"),
        reverse("audit_log"),
        reverse("tenant_settings"),
        reverse("notification_settings"),
    ]


@pytest.fixture
def phone(chromium, live_server):
    def open_phone(language: str):
        context = chromium.new_context(
            base_url=live_server.url,
            viewport=PHONE,
            locale="ja-JP" if language == "ja" else "en-US",
        )
        context.set_default_timeout(10_000)
        return context

    return open_phone


def _sign_in(context, email: str, language: str):
    """Sign in; the portal then speaks the language the person chose (kept on the account)."""
    from portal.models import User
    from testing.scaffolding import PASSWORD

    User.objects.filter(email=email).update(language=language)
    page = context.new_page()
    page.goto("/account/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")
    return page


SMALL_TAPS = """() => Array.from(document.querySelectorAll(
    'main button, main a.button, main select, main input:not([type=checkbox]):not([type=radio])'
    + ':not([type=hidden]), header button, header a, header summary'))
  .filter(e => e.checkVisibility() && !e.closest('.visually-hidden'))
  .map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.height < %s)
  .map(([e, r]) => e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 30)
       + ' ' + Math.round(r.height))"""


@pytest.mark.parametrize("language", ["ja", "en"])
def test_it_fits_every_main_page_on_a_phone(phone, personas, settings, live_server, language):
    company = japanese_clinic(personas)
    context = phone(language)
    page = _sign_in(context, "owner.a@example.com", language)
    assert page.evaluate("document.documentElement.lang") == language
    wide, small = {}, {}
    for url in main_pages(company):
        response = page.goto(url)
        assert response.status == 200, url
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[url] = width
        taps = page.evaluate(SMALL_TAPS % MIN_TAP)
        if taps:
            small[url] = taps
    context.close()
    assert wide == {}, f"pages wider than the phone ({PHONE['width']} px): {wide}"
    assert small == {}, f"tap targets under {MIN_TAP} px: {small}"


def test_it_folds_the_menu_behind_a_button_on_a_phone(phone, personas):
    context = phone("ja")
    page = _sign_in(context, "owner.a@example.com", "ja")
    assert not page.is_visible("nav.mainnav")
    page.click("button.menu-toggle")
    page.wait_for_selector("nav.mainnav >> text=着信履歴")
    page.click("nav.mainnav >> text=着信履歴")
    page.wait_for_url("**/calls/")
    context.close()


# Every piece of text shown, with its size on the screen: an SVG's text shrinks with its
# drawing (font size times the drawing's scale).
TEXT_SIZES = """(root) => {
  const found = [];
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || !element.checkVisibility() || element.closest('title')) {
      continue;
    }
    let size = parseFloat(getComputedStyle(element).fontSize);
    const svg = element.closest('svg');
    if (svg) size *= svg.getScreenCTM().a;
    found.push([node.textContent.trim().slice(0, 20), Math.round(size * 10) / 10]);
  }
  return found;
}"""


@pytest.mark.parametrize("screen", [PHONE, {"width": 1280, "height": 900}])
def test_the_week_view_is_readable_at_11_px_or_more(chromium, live_server, personas, screen):
    company = japanese_clinic(personas)
    context = chromium.new_context(base_url=live_server.url, viewport=screen, locale="ja-JP")
    context.set_default_timeout(10_000)
    page = _sign_in(context, "owner.a@example.com", "ja")
    page.goto(reverse("flow_edit", args=[company["subscription"].code]))

    sizes = page.evaluate(TEXT_SIZES, "#week")
    fills = page.evaluate(
        "Array.from(document.querySelectorAll('#week .week-row rect'))"
        ".map(rect => getComputedStyle(rect).fill)"
    )
    swatches = page.evaluate(
        "Array.from(document.querySelectorAll('#week .week-legend .swatch'))"
        ".map(swatch => getComputedStyle(swatch).backgroundColor)"
    )
    context.close()

    assert len(sizes) > 20  # day names, hours, the summary…
    assert [text for text, size in sizes if size < 11] == [], sizes
    # each answer its colour, the legend's the bars'
    assert len(set(swatches)) == len(swatches) > 2 and set(fills) == set(swatches)

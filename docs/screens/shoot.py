"""Screenshots of the main pages, in Japanese, at 1280 px and at 390 px (a phone).

Against a running portal with the demo seeded (`make run`), signed in as the Japanese demo
owner; uses Debian's Chromium through Playwright:

    .venv/bin/python docs/screens/shoot.py http://127.0.0.1:8000

Writes docs/screens/<page>-<width>.png (full pages). Two pages are shot after doing something
on them: the upload page while a greeting is recorded from Chromium's fake microphone
("record"), then the recording converted and ready to hear ("recording"); and the flow editor
after the holiday rule was moved below the opening hours, with the warning that follows
("flow-warning").
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
EMAIL, PASSWORD = "owner@sakura.example.com", "din-demo-2026"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # the recording page: a fake microphone, allowed without asking
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# (file name, path, or "number:<suffix>" for a page of the first toll-free number)
PAGES = [
    ("dashboard", "/"),
    ("numbers", "/numbers/"),
    ("search", "/numbers/search/?kind=jp-050"),
    ("number", "number:"),
    ("flow", "number:flow/"),
    ("calls", "/calls/"),
    ("costs", "/numbers/costs/"),
    ("closed-dates", "/callflows/closed-dates/"),
    ("members", "/members/"),
    ("audit", "/audit/"),
]


def shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(HERE / f"{name}-{width}.png"), full_page=True)
    print(f"{name}-{width}.png")


def record(page, width: int) -> None:
    """A greeting recorded on the page, then converted by the worker and ready to hear."""
    page.goto("/callflows/audio/upload/")
    page.fill("input[name=label]", f"臨時休診のご案内 {width}")
    page.click("button[data-recorder-start]")
    page.wait_for_timeout(3000)  # speaking
    page.click("button[data-recorder-stop]")
    page.wait_for_selector("[data-recorder][data-recorded]")
    shot(page, "record", width)
    page.click("main button[type=submit].primary")
    page.wait_for_selector("[data-upload-status=ready]", timeout=60_000)
    shot(page, "recording", width)


def shadowed_rule(page, number: str, width: int) -> None:
    """The holiday rule moved below the opening hours: the editor warns, naming the days."""
    page.goto(number + "flow/")
    holiday = page.locator("fieldset[data-rule]", has=page.locator("input[value^='祝日']"))
    for _ in range(2):
        holiday.locator("button[data-rule-move=down]").click()
    page.wait_for_selector("[data-shadow-warnings]")
    page.wait_for_load_state("networkidle")
    shot(page, "flow-warning", width)


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for width, height in ((1280, 900), (390, 844)):
            context = browser.new_context(
                base_url=base, viewport={"width": width, "height": height}, locale="ja-JP"
            )
            page = context.new_page()
            page.goto("/account/login/")
            page.fill("input[name=username]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url("**/")
            page.goto("/numbers/")
            number = page.locator("tr[data-number^='+81120'] a").first.get_attribute("href")
            for name, path in PAGES:
                url = number + path.removeprefix("number:") if path.startswith("number:") else path
                page.goto(url)
                page.wait_for_load_state("networkidle")
                shot(page, name, width)
            record(page, width)
            shadowed_rule(page, number, width)
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")

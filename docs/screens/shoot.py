"""Screenshots of the main pages, in Japanese, at 1280 px and at 390 px (a phone).

Against a running portal with the demo seeded (`make run`), signed in as the Japanese demo
owner; uses Debian's Chromium through Playwright:

    .venv/bin/python docs/screens/shoot.py http://127.0.0.1:8000

Writes docs/screens/<page>-<width>.png (full pages).
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
                page.screenshot(path=str(HERE / f"{name}-{width}.png"), full_page=True)
                print(f"{name}-{width}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")

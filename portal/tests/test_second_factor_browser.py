"""The second factor in real Chromium, in Japanese: a company that requires it sends its owner
to set it up before anything else; the next sign-in asks for the code after the password."""

import base64
import re

import pytest
from django_otp.oath import totp

from portal.scoping import tenant_scope
from portal.services import tenant_update
from testing.scaffolding import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(key_text: str, *, ahead: int = 0) -> str:
    """The 6 digits an authenticator app shows for the key the page printed."""
    key = base64.b32decode(key_text.replace(" ", ""))
    return f"{totp(key, 30, -ahead * 30, 6, 0):06d}"


@pytest.fixture
def japanese_page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, locale="ja-JP")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def _password_step(page, email: str) -> None:
    page.goto("/account/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")


def test_an_owner_sets_it_up_first_and_signs_in_with_it_in_japanese(japanese_page, personas):
    page = japanese_page
    with tenant_scope(personas.tenant_a):
        tenant_update(tenant=personas.tenant_a, request=None, require_second_factor=True)
    personas.owner_a.language = "ja"
    personas.owner_a.save(update_fields=["language"])

    # the password is right: before anything else, the owner is asked to set a factor up
    _password_step(page, personas.owner_a.email)
    page.wait_for_url("**/account/second-factor/setup/**")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("h1").inner_text() == "二段階認証を設定する"
    assert "この会社ではオーナーと管理者に二段階認証が必須です" in page.inner_text("main")
    assert page.locator(".qr svg").count() == 1
    page.goto("/numbers/")  # any other page sends them back
    page.wait_for_url("**/account/second-factor/setup/**")

    # they type what the app shows for the printed key
    key = page.inner_text("#totp-key")
    page.fill("input[name=code]", _code(key))
    page.click("main form button.primary")
    page.wait_for_selector("text=二段階認証をオンにしました")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z0-9]+", code) for code in codes)
    page.click("text=保管しました。続ける")
    page.wait_for_url(re.compile(r".*/numbers/$"))
    assert "番号" in page.locator("h1").inner_text()

    # next sign-in: password, then the code, in Japanese
    page.click("summary")
    page.click("text=ログアウト")
    _password_step(page, personas.owner_a.email)
    page.wait_for_url("**/account/second-factor/code/**")
    assert page.locator("h1").inner_text() == "認証アプリのコードを入力してください"
    page.fill("input[name=code]", "000000")
    page.click("main form button.primary")
    assert "コードが正しくないか" in page.inner_text("main")
    page.wait_for_timeout(1100)  # a wrong code makes the next try wait a second
    page.fill("input[name=code]", _code(key, ahead=1))
    page.click("main form button.primary")
    page.wait_for_url(re.compile(r".*/$"))
    assert page.locator("nav.mainnav").inner_text().startswith("ダッシュボード")

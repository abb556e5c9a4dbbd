"""The portal as a person uses it, in real Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_signs_in_switches_language_and_back_and_switches_tenant(page, personas, sign_in):
    # given a staff member of two companies signs in (their language is English)
    sign_in("both@example.com")
    assert page.locator("h1").inner_text() == "Alpha Clinic"
    assert page.locator("nav.mainnav").inner_text().startswith("Dashboard")

    # when they switch to Japanese, the whole UI follows
    page.click("button[name=language][value=ja]")
    page.wait_for_selector("html[lang=ja]")
    assert "ダッシュボード" in page.locator("nav.mainnav").inner_text()

    # and back to English
    page.click("button[name=language][value=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Dashboard" in page.locator("nav.mainnav").inner_text()

    # when they pick the other company in the switcher (it submits by itself)
    page.select_option("#tenant-switch", label="Beta Trading")
    page.wait_for_function("document.querySelector('h1').innerText === 'Beta Trading'")

    # then the members page shows that company's people only
    page.click("text=Members")
    members = page.locator("table").first.inner_text()
    assert "owner.b@example.com" in members and "owner.a@example.com" not in members


def test_it_shows_a_viewer_a_clear_403_page(page, personas, sign_in, live_server):
    sign_in("viewer.a@example.com")
    membership = personas.membership(personas.staff_a, personas.tenant_a)
    response = page.goto(f"/members/{membership.code}/remove/")
    assert response.status == 403
    assert "role" in page.locator("main").inner_text().lower()


def test_it_changes_a_role_only_when_save_role_is_pressed(page, personas, sign_in):
    from portal.models import Role

    staff = personas.membership(personas.staff_a, personas.tenant_a)
    sign_in("admin.a@example.com")
    page.click("nav.mainnav >> text=Members")
    row = page.locator("tr[data-member='staff.a@example.com']")

    # browsing the roles with the arrow keys changes nothing
    row.locator("select[name=role]").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.wait_for_timeout(500)
    staff.refresh_from_db()
    assert staff.role == Role.STAFF
    assert page.url.endswith("/members/")

    # choosing one and pressing "Save role" does
    row.locator("select[name=role]").select_option("admin")
    staff.refresh_from_db()
    assert staff.role == Role.STAFF
    row.locator("button:has-text('Save role')").click()
    page.wait_for_selector("text=Role of")
    staff.refresh_from_db()
    assert staff.role == Role.ADMIN

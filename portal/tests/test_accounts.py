import re

from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from testing.scaffolding import PASSWORD


def _login(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


def test_it_signs_in_by_email_in_the_users_language(client, personas):
    response = _login(client, "owner.a@example.com", PASSWORD)
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Members" in client.get(reverse("dashboard")).content.decode()


def test_it_locks_sign_in_after_repeated_failures(client, personas):
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "owner.a@example.com", "wrong").status_code == 200
    assert _login(client, "owner.a@example.com", "wrong").status_code == 429
    # even the right password is refused now, with a page that says why
    response = _login(client, "owner.a@example.com", PASSWORD)
    assert response.status_code == 429
    assert "reset" in response.content.decode().lower() or "パスワード" in response.content.decode()
    # another account from the same address is not locked out by it
    assert _login(client, "owner.b@example.com", PASSWORD).status_code == 302


def test_it_resets_a_forgotten_password_by_email(
    client, personas, task_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "staff.a@example.com"})
    assert mail.outbox == []  # the worker sends it, not the request
    assert task_queue.run_all() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].alternatives  # HTML and text
    # on the people's address, never the Host the request came in with
    link = re.search(rf"{re.escape(settings.PORTAL_BASE_URL)}(\S+)", mail.outbox[0].body)[1]
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand new secret 42", "new_password2": "brand new secret 42"},
    )
    assert response.status_code == 302
    assert _login(client, "staff.a@example.com", "brand new secret 42").status_code == 302


def test_it_does_not_reveal_whether_an_address_has_an_account(
    client, personas, task_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert task_queue.run_all() == 1
    assert mail.outbox == []


def test_it_answers_a_reset_for_an_unknown_address_with_the_same_work(
    client, personas, task_queue, django_capture_on_commit_callbacks
):
    # given one address with an account and one without
    answers, work = [], []
    for email in ("staff.a@example.com", "nobody@example.com"):
        # when each asks for a reset, then the request does the same queries (none of them
        # looks the address up: only the outbox message of its task), answers the same and
        # leaves the same one task
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = client.post(reverse("password_reset"), {"email": email})
        answers.append((response.status_code, response["Location"]))
        work.append([_table_and_verb(query["sql"]) for query in queries.captured_queries])
    assert answers[0] == answers[1]
    assert work[0] == work[1]
    assert all("auth_user" not in table and "portal_user" not in table for table, _ in work[0])
    assert task_queue.names() == ["portal.send_password_reset"] * 2
    assert mail.outbox == []


def test_it_mails_the_reset_link_in_the_users_language(
    client, personas, task_queue, django_capture_on_commit_callbacks
):
    personas.staff_a.language = "ja"
    personas.staff_a.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "staff.a@example.com"})
    task_queue.run_all()
    [message] = mail.outbox
    assert "パスワード" in message.body
    assert f"{settings.PORTAL_BASE_URL}/account/password/reset/" in message.body


def test_it_changes_the_password(client, personas):
    client.force_login(personas.staff_a)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "fresh pass 2026!",
            "new_password2": "fresh pass 2026!",
        },
    )
    assert response.status_code == 302
    personas.staff_a.refresh_from_db()
    assert personas.staff_a.check_password("fresh pass 2026!")


def test_it_switches_language_and_remembers_it_on_the_account(client, personas):
    client.force_login(personas.staff_a)
    response = client.post(reverse("language_switch"), {"language": "ja", "next": "/members/"})
    assert response["Location"] == "/members/"
    assert "メンバー" in client.get("/members/").content.decode()
    personas.staff_a.refresh_from_db()
    assert personas.staff_a.language == "ja"


def test_it_ignores_an_unknown_language_and_a_foreign_next(client, personas):
    client.force_login(personas.staff_a)
    response = client.post(
        reverse("language_switch"), {"language": "xx", "next": "https://evil.example.com/"}
    )
    assert response["Location"] == reverse("dashboard")
    personas.staff_a.refresh_from_db()
    assert personas.staff_a.language == "en"


def test_it_switches_between_the_users_tenants_only(client, personas):
    client.force_login(personas.both)
    assert "Alpha Clinic" in client.get(reverse("dashboard")).content.decode()
    client.post(reverse("tenant_switch"), {"tenant": str(personas.tenant_b.code)})
    assert "<h1>Beta Trading</h1>" in client.get(reverse("dashboard")).content.decode()

    client.force_login(personas.owner_b)
    client.post(reverse("tenant_switch"), {"tenant": str(personas.tenant_a.code)})
    assert "<h1>Beta Trading</h1>" in client.get(reverse("dashboard")).content.decode()


def test_it_tells_a_user_without_a_tenant_what_to_do(client, django_user_model):
    user = django_user_model.objects.create_user(email="lonely@example.com", password="x")
    client.force_login(user)
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("no_tenant")
    assert "invite" in response.content.decode().lower() or "招待" in response.content.decode()


def _table_and_verb(sql: str) -> tuple[str, str]:
    verb = sql.split()[0].upper()
    table = sql.split('"')[1] if '"' in sql else ""
    return table, verb

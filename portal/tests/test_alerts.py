"""Alerts: raised once per event, e-mailed in each recipient's language, listed until seen."""

import datetime
import re
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dins.tests.factories import SubscriptionFactory
from portal import alerts
from portal.models import (
    Alert,
    AlertKind,
    AuditEvent,
    EmailStatus,
    NotificationSetting,
    NotifyLanguage,
    User,
)
from portal.phone import display
from portal.scoping import scopes_disabled, tenant_scope
from portal.tasks import send_alert_email

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
TEN_THIRTY = datetime.datetime(2026, 11, 27, 10, 30, tzinfo=TOKYO)


@pytest.fixture
def number(personas):
    return SubscriptionFactory(tenant=personas.tenant_a, trial=True)


def _raise(kind=AlertKind.TRIAL_OVERDUE, subscription=None, **context):
    return alerts.alert_raise(kind=kind, subscription=subscription, context=context)


def _alerts(tenant):
    with tenant_scope(tenant):
        return list(Alert.objects.order_by("id"))


def _send_all(task_queue):
    return task_queue.run_all_named("portal.send_alert_email")


# --- Once per event ---------------------------------------------------------------------------


def test_it_raises_one_alert_and_one_email_per_kind_and_number_within_the_hour(
    number, personas, task_queue, django_capture_on_commit_callbacks, time_machine
):
    # given an overdue trial alerted at 10:30
    time_machine.move_to(TEN_THIRTY)
    with django_capture_on_commit_callbacks(execute=True):
        first = _raise(subscription=number)
        # when the same event is raised again at 10:50 and 11:20 (a new clock hour)
        time_machine.move_to(TEN_THIRTY + datetime.timedelta(minutes=20))
        again = _raise(subscription=number)
        time_machine.move_to(TEN_THIRTY + datetime.timedelta(minutes=50))
        later_in_the_hour = _raise(subscription=number)
    _send_all(task_queue)

    # then one alert exists and each recipient got one e-mail
    assert first is not None and again is None and later_in_the_hour is None
    assert [a.pk for a in _alerts(personas.tenant_a)] == [first.pk]
    assert sorted(m.to[0] for m in mail.outbox) == ["admin.a@example.com", "owner.a@example.com"]


def test_it_raises_again_after_the_hour(
    number, personas, task_queue, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(TEN_THIRTY)
    with django_capture_on_commit_callbacks(execute=True):
        first = _raise(subscription=number)
        time_machine.move_to(TEN_THIRTY + datetime.timedelta(minutes=61))
        second = _raise(subscription=number)
    _send_all(task_queue)

    assert first is not None and second is not None and first.dedup_key != second.dedup_key
    assert len(_alerts(personas.tenant_a)) == 2
    assert len(mail.outbox) == 4  # two events, owner and admin each


def test_it_keeps_numbers_and_kinds_apart(number, personas):
    other = SubscriptionFactory(tenant=personas.tenant_a, trial=True)

    assert _raise(subscription=number) is not None
    assert _raise(subscription=other) is not None
    assert _raise(kind=AlertKind.RELEASE_FAILED, subscription=number, reason="x") is not None

    kinds = [(a.kind, a.number_id) for a in _alerts(personas.tenant_a)]
    assert kinds == [
        (AlertKind.TRIAL_OVERDUE, number.pk),
        (AlertKind.TRIAL_OVERDUE, other.pk),
        (AlertKind.RELEASE_FAILED, number.pk),
    ]


def test_it_raises_credential_alerts_once_an_hour_for_the_whole_company(number, personas):
    other = SubscriptionFactory(tenant=personas.tenant_a)

    assert _raise(kind=AlertKind.CARRIER_CREDENTIALS, subscription=number) is not None
    assert _raise(kind=AlertKind.CARRIER_CREDENTIALS, subscription=other) is None
    with tenant_scope(personas.tenant_b):
        assert _raise(kind=AlertKind.CARRIER_CREDENTIALS) is not None  # another company


def test_it_lets_the_database_settle_a_race_between_two_writers(number, personas):
    # given another worker's alert for the same hour that this one's look-up did not see
    # (committed between the look-up and the insert: its age here hides it from the look-up)
    first = _raise(subscription=number)
    with scopes_disabled():
        Alert.objects.filter(pk=first.pk).update(
            created_at=first.created_at - datetime.timedelta(hours=2)
        )

    # when this worker inserts, the unique key refuses the second row
    assert _raise(subscription=number) is None
    assert len(_alerts(personas.tenant_a)) == 1
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(tenant=personas.tenant_a, kind=first.kind, dedup_key=first.dedup_key)


def test_it_enqueues_the_email_only_after_commit(number, task_queue):
    with transaction.atomic():
        _raise(subscription=number)
        assert task_queue.sent == []
    # (the test's own transaction never commits, so nothing was sent at all)
    assert task_queue.sent == []


# --- Recipients and language ------------------------------------------------------------------


def _recipients(tenant):
    with tenant_scope(tenant):
        return alerts.alert_recipients()


def test_it_mails_owners_and_admins_in_their_own_language_by_default(personas):
    User.objects.filter(pk=personas.admin_a.pk).update(language="ja")
    assert _recipients(personas.tenant_a) == [
        ("admin.a@example.com", "ja"),
        ("owner.a@example.com", "en"),
    ]


def test_it_mails_the_roles_and_extra_addresses_the_company_chose(personas):
    with tenant_scope(personas.tenant_a):
        NotificationSetting.objects.create(
            tenant=personas.tenant_a,
            notify_owners=False,
            notify_admins=False,
            notify_staff=True,
            extra_addresses="Oncall@Example.com\nowner.a@example.com\n",
        )
    assert personas.tenant_a.language == "ja"

    assert _recipients(personas.tenant_a) == [
        ("both@example.com", "en"),
        ("staff.a@example.com", "en"),
        ("oncall@example.com", "ja"),  # no account: the company's language
        ("owner.a@example.com", "ja"),  # listed as an extra address, not by role
    ]
    # the other company's settings are its own
    assert [email for email, _ in _recipients(personas.tenant_b)] == ["owner.b@example.com"]


def test_it_writes_to_everyone_in_the_chosen_language(personas):
    with tenant_scope(personas.tenant_a):
        NotificationSetting.objects.create(
            tenant=personas.tenant_a, language=NotifyLanguage.JAPANESE
        )
    assert {language for _, language in _recipients(personas.tenant_a)} == {"ja"}


def test_it_sends_text_and_html_in_each_recipients_language(
    number, personas, task_queue, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=personas.admin_a.pk).update(language="ja")
    with django_capture_on_commit_callbacks(execute=True):
        _raise(kind=AlertKind.TRIAL_RELEASED, subscription=number, saved="617.50")
    _send_all(task_queue)

    by_address = {m.to[0]: m for m in mail.outbox}
    english, japanese = by_address["owner.a@example.com"], by_address["admin.a@example.com"]
    assert english.subject == f"Trial number {display(number.e164)} was released"
    assert japanese.subject == f"お試し番号{display(number.e164)}を解約しました"
    for message in (english, japanese):
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html" and display(number.e164) in html and "<p>" in html
        assert "617.5" in message.body and "&quot;" not in message.body
        assert f"/numbers/{number.code}/" in message.body
    assert "credits saved" in english.body


@pytest.mark.parametrize("kind", AlertKind.values)
def test_it_has_an_email_for_every_kind(kind, number, personas, task_queue):
    with tenant_scope(personas.tenant_a):
        alert = _raise(
            kind=kind, subscription=number, reason="refused", calls=2, operation="release"
        )
        sent = alerts.alert_email_send(alert_id=alert.pk)

    assert sent == 2
    message = mail.outbox[0]
    assert message.subject and "\n" not in message.subject
    assert message.alternatives[0][1] == "text/html"
    # Credentials and webhooks are the company's, not a number's.
    if kind not in (AlertKind.CARRIER_CREDENTIALS, AlertKind.WEBHOOK_DISABLED):
        assert display(number.e164) in message.subject
    if kind in (AlertKind.TRIAL_REMINDER, AlertKind.TRIAL_OVERDUE):
        # a time, with the company's offset: the e-mail may be read in another zone
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} \(UTC\+09:00\)", message.body)
    with tenant_scope(personas.tenant_a):
        assert Alert.objects.get(pk=alert.pk).email_status == EmailStatus.SENT


# --- Failed delivery: retried, then visible -----------------------------------------------------


@pytest.fixture
def raised(number, personas, task_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert = _raise(subscription=number)
    (_task, _args, kwargs) = task_queue.sent.pop()
    return alert, kwargs


def _reload(alert):
    with scopes_disabled():
        return Alert.objects.get(pk=alert.pk)


def test_it_retries_a_failed_send_and_mails_each_recipient_once(raised, monkeypatch):
    alert, kwargs = raised
    deliver = EmailBackend.send_messages
    calls = []

    def flaky(self, messages):
        calls.append(messages[0].to[0])
        if len(calls) == 2:  # the second recipient's first try fails
            raise smtplib.SMTPServerDisconnected("connection lost")
        return deliver(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)
    send_alert_email.apply(kwargs=kwargs)  # Celery's own retry path, countdowns skipped

    assert calls == ["admin.a@example.com", "owner.a@example.com", "owner.a@example.com"]
    assert sorted(m.to[0] for m in mail.outbox) == ["admin.a@example.com", "owner.a@example.com"]
    alert = _reload(alert)
    assert (alert.email_status, alert.email_attempts, alert.email_last_error) == (
        EmailStatus.SENT,
        2,
        "",
    )


def test_it_shows_a_send_that_kept_failing_as_failed(raised, monkeypatch, client, personas):
    alert, kwargs = raised

    def down(self, messages):
        raise smtplib.SMTPConnectError(421, "mail server down")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    result = send_alert_email.apply(kwargs=kwargs)

    assert result.failed()
    alert = _reload(alert)
    assert alert.email_status == EmailStatus.FAILED
    assert alert.email_attempts == send_alert_email.max_retries + 1
    assert (
        "SMTPConnectError" in alert.email_last_error
        and "mail server down" in alert.email_last_error
    )
    assert mail.outbox == []
    # visible where people look
    client.force_login(personas.viewer_a)
    page = client.get(reverse("alert_list")).content.decode()
    assert "E-mail failed after 9 attempts" in page and "mail server down" in page
    assert 'data-email-status="failed"' in client.get(reverse("dashboard")).content.decode()


def test_it_shows_a_send_waiting_for_its_retry(raised, monkeypatch):
    alert, _kwargs = raised

    def down(self, messages):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    with tenant_scope(alert.tenant), pytest.raises(smtplib.SMTPServerDisconnected):
        alerts.alert_email_send(alert_id=alert.pk, final_attempt=False)

    alert = _reload(alert)
    assert (alert.email_status, alert.email_attempts) == (EmailStatus.PENDING, 1)
    assert "gone" in alert.email_last_error


def test_it_marks_an_alert_nobody_receives_as_failed(raised, personas):
    alert, kwargs = raised
    with tenant_scope(personas.tenant_a):
        NotificationSetting.objects.create(
            tenant=personas.tenant_a, notify_owners=False, notify_admins=False
        )
    send_alert_email(**kwargs)

    alert = _reload(alert)
    assert alert.email_status == EmailStatus.FAILED and "No recipients" in alert.email_last_error
    assert mail.outbox == []


def test_it_does_not_mail_twice_when_the_task_is_delivered_again(raised):
    _alert, kwargs = raised
    send_alert_email(**kwargs)
    send_alert_email(**kwargs)
    assert len(mail.outbox) == 2


# --- Pages ------------------------------------------------------------------------------------


def test_it_lists_open_alerts_on_the_dashboard_until_acknowledged(client, number, personas):
    with tenant_scope(personas.tenant_a):
        alert = _raise(subscription=number)
    client.force_login(personas.staff_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'data-alert="{alert.code}"' in page
    assert f"ACTION NEEDED: trial {display(number.e164)} could not be released in time" in page

    response = client.post(reverse("alert_acknowledge", args=[alert.code]), {"next": "dashboard"})

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert f'data-alert="{alert.code}"' not in client.get(reverse("dashboard")).content.decode()
    alert = _reload(alert)
    assert alert.acknowledged_by == personas.staff_a and alert.acknowledged_at is not None
    with tenant_scope(personas.tenant_a):
        assert AuditEvent.objects.filter(action="alert.acknowledge").count() == 1
    # the alerts page keeps it among the recent ones
    page = client.get(reverse("alert_list")).content.decode()
    assert "Acknowledged or closed in the last 30 days" in page and str(alert.code) in page


def test_it_refuses_acknowledging_to_a_viewer(client, number, personas):
    with tenant_scope(personas.tenant_a):
        alert = _raise(subscription=number)
    client.force_login(personas.viewer_a)

    page = client.get(reverse("alert_list")).content.decode()
    assert str(alert.code) in page and "Acknowledge</button>" not in page
    response = client.post(reverse("alert_acknowledge", args=[alert.code]))

    assert response.status_code == 403
    assert _reload(alert).acknowledged_at is None
    assert f'data-alert="{alert.code}"' in client.get(reverse("dashboard")).content.decode()


def test_it_keeps_the_dashboards_queries_bounded(client, personas, django_assert_max_num_queries):
    client.force_login(personas.owner_a)
    with tenant_scope(personas.tenant_a):
        _raise(subscription=SubscriptionFactory(tenant=personas.tenant_a))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dashboard"))
    with tenant_scope(personas.tenant_a):
        for _ in range(alerts.DASHBOARD_ALERTS + 5):
            _raise(subscription=SubscriptionFactory(tenant=personas.tenant_a))

    with django_assert_max_num_queries(len(one) + 1):  # + the count of the open alerts
        page = client.get(reverse("dashboard")).content.decode()
    assert "16 open alerts" in page
    assert page.count("data-alert=") == alerts.DASHBOARD_ALERTS


def test_it_lets_admins_choose_who_receives_alerts(client, personas):
    client.force_login(personas.admin_a)
    response = client.post(
        reverse("notification_settings"),
        {
            "notify_owners": "on",
            "notify_staff": "on",
            "extra_addresses": "desk@example.com\n desk@example.com",
            "language": "en",
        },
    )

    assert response.status_code == 302
    assert _recipients(personas.tenant_a) == [
        ("both@example.com", "en"),
        ("owner.a@example.com", "en"),
        ("staff.a@example.com", "en"),
        ("desk@example.com", "en"),
    ]
    with tenant_scope(personas.tenant_a):
        event = AuditEvent.objects.get(action="notification_setting.update")
    assert event.after["extra_addresses"] == "desk@example.com"


def test_it_refuses_an_address_that_is_not_one(client, personas):
    client.force_login(personas.admin_a)
    response = client.post(
        reverse("notification_settings"),
        {"notify_owners": "on", "extra_addresses": "not an address", "language": "member"},
    )
    assert response.status_code == 200
    assert "not an address is not an e-mail address" in response.content.decode()
    with tenant_scope(personas.tenant_a):
        assert not NotificationSetting.objects.exists()


def test_it_shows_the_notification_settings_to_a_viewer_read_only(client, personas):
    client.force_login(personas.viewer_a)
    page = client.get(reverse("notification_settings")).content.decode()
    assert "Only owners and admins can change these settings." in page
    assert 'name="extra_addresses"' not in page
    response = client.post(
        reverse("notification_settings"), {"notify_staff": "on", "language": "en"}
    )
    assert response.status_code == 403
    with tenant_scope(personas.tenant_a):
        assert not NotificationSetting.objects.exists()

import time

import pytest
from django.core import mail
from django.urls import reverse

from config.celery import app as celery_app
from portal.models import Invitation
from portal.scoping import scopes_disabled
from portal.tasks import send_invitation_email


@pytest.fixture
def invitation(client, personas, django_capture_on_commit_callbacks, task_queue):
    client.force_login(personas.owner_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("member_invite"), {"email": "new@example.com", "role": "staff"})
    assert task_queue.names() == ["portal.send_invitation_email"]
    with scopes_disabled():
        return Invitation.objects.get()


def test_it_enqueues_the_email_only_after_commit(client, personas, task_queue):
    client.force_login(personas.owner_a)
    client.post(reverse("member_invite"), {"email": "new@example.com", "role": "staff"})
    # the request's transaction was rolled back by the test case: nothing may be enqueued
    assert task_queue.sent == []


def test_it_runs_a_tenant_task_inside_its_tenants_scope(invitation, task_queue):
    _task, _args, kwargs = task_queue.sent[0]
    assert kwargs["tenant_id"] == invitation.tenant_id
    task_queue.run_all()
    assert mail.outbox[0].to == ["new@example.com"]


def test_it_cannot_reach_another_tenants_row_from_a_task(invitation, personas, task_queue):
    _task, _args, kwargs = task_queue.sent[0]
    send_invitation_email(**{**kwargs, "tenant_id": personas.tenant_b.pk})
    assert mail.outbox == []


def test_it_sends_nothing_for_an_invitation_revoked_before_the_task_ran(invitation, task_queue):
    with scopes_disabled():
        Invitation.objects.filter(pk=invitation.pk).update(revoked_at=invitation.created_at)
    task_queue.run_all()
    assert mail.outbox == []


def test_it_retries_when_the_mail_server_fails_and_sends_once(invitation, task_queue, monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    attempts = []
    deliver = EmailBackend.send_messages

    def flaky(self, messages):
        attempts.append(1)
        if len(attempts) < 3:
            raise smtplib.SMTPServerDisconnected("gone")
        return deliver(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)
    _task, _args, kwargs = task_queue.sent[0]
    # apply() runs the task here with Celery's own retry path (countdowns skipped)
    send_invitation_email.apply(kwargs=kwargs)
    assert len(attempts) == 3
    assert len(mail.outbox) == 1
    assert send_invitation_email.retry_backoff and send_invitation_email.max_retries == 8


@pytest.mark.real_broker
@pytest.mark.django_db(transaction=True)
def test_it_delivers_a_task_through_the_configured_broker_to_a_worker(personas):
    """The broker of this run (Redis in CI, files in the embedded default) really carries it."""
    from celery.contrib.testing.worker import start_worker

    from portal.services import _token_hash
    from testing.scaffolding import InvitationFactory

    invitation = InvitationFactory(tenant=personas.tenant_a, token_hash=_token_hash("t"))
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        send_invitation_email.delay(
            invitation_id=invitation.pk,
            accept_url="http://x/invite/t/",
            tenant_id=invitation.tenant_id,
        )
        deadline = time.monotonic() + 20
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [m.to for m in mail.outbox] == [[invitation.email]]

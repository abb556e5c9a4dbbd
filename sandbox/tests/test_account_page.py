"""The operators' sandbox page and the sandbox models in Django admin."""

import uuid

import pytest
from django.urls import reverse

from portal.models import User
from sandbox import accounts, calls, faults, incoming_calls, subscriptions
from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxFault,
    SandboxIncomingCall,
    SandboxLedgerEntry,
    SandboxSubscription,
    SandboxVoicemail,
)
from testing.scaffolding import SandboxClient, sandbox_path

pytestmark = pytest.mark.django_db

PAGE = "/sandbox/account/"


@pytest.fixture
def operator():
    return User.objects.create_superuser(email="ops@example.com", password="x")


@pytest.fixture
def sandbox_account(settings):
    settings.XOXZO_SID = "PAGESID"
    account = accounts.sandbox_account_get_or_create(sid="PAGESID")
    subscriptions.sandbox_inventory_ensure()
    din = SandboxDin.objects.filter(prefix="50").first()
    subscriptions.sandbox_subscription_create(account=account, din_uid=din.din_uid)
    calls.sandbox_call_start(
        account=account,
        params={
            "caller": "+14155550123",
            "recipient": "+818012345678",
            "tts_message": "hi",
            "tts_lang": "en",
        },
    )
    account.refresh_from_db()
    return account


def test_it_is_served_at_the_documented_path():
    assert sandbox_path("sandbox:account") == PAGE


def test_it_sends_anonymous_visitors_to_its_own_sign_in(sandbox_client, operator):
    response = sandbox_client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(sandbox_path("sandbox:login"))
    signed_in = sandbox_client.post(
        response["Location"], {"username": operator.email, "password": "x"}
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, PAGE)


@pytest.mark.parametrize("is_staff", [False, True])
def test_it_refuses_users_who_are_not_superusers(sandbox_client, is_staff):
    user = User.objects.create_user(email="member@example.com", password="x", is_staff=is_staff)
    sandbox_client.force_login(user)

    assert sandbox_client.get(PAGE).status_code == 403
    assert not SandboxAccount.objects.exists()


def test_it_shows_operators_the_balance_numbers_calls_and_ledger(
    sandbox_client, operator, sandbox_account
):
    sandbox_client.force_login(operator)

    response = sandbox_client.get(PAGE)

    assert response.status_code == 200
    assert response.context["account"] == sandbox_account
    assert response.context["voicemail_records"] == []
    body = response.content.decode()
    assert str(sandbox_account.balance) in body
    subscription = SandboxSubscription.objects.get()
    assert f"+{subscription.din.din}" in body
    assert "+818012345678" in body
    for section in ("sandbox-subscriptions", "sandbox-calls", "sandbox-voicemail-records"):
        assert f'id="{section}"' in body
    assert len(response.context["ledger"]) == 2


@pytest.mark.parametrize(
    "model",
    [SandboxAccount, SandboxDin, SandboxSubscription, SandboxCall, SandboxLedgerEntry],
)
def test_it_lists_sandbox_models_in_admin(client, operator, sandbox_account, model):
    client.force_login(operator)
    meta = model._meta

    changelist = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    change = client.get(
        reverse(
            f"admin:{meta.app_label}_{meta.model_name}_change",
            args=[model.objects.first().pk],
        )
    )

    assert changelist.status_code == 200
    assert change.status_code == 200


def test_it_keeps_the_ledger_read_only_in_admin(client, operator, sandbox_account):
    client.force_login(operator)
    entry = SandboxLedgerEntry.objects.first()

    response = client.post(
        reverse("admin:sandbox_sandboxledgerentry_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert SandboxLedgerEntry.objects.filter(pk=entry.pk).exists()


# --- incoming calls, voicemail and faults on the page --------------------------------------------


@pytest.fixture
def incoming_history(sandbox_account, action_server):
    subscription = SandboxSubscription.objects.get()
    subscriptions.sandbox_subscription_set_action_url(
        account=sandbox_account,
        din_uid=subscription.din.din_uid,
        action_url=action_server.url("/voicemail-say"),
    )
    answered, _ = incoming_calls.sandbox_incoming_call(
        to=f"+{subscription.din.din}", caller="+819011112222"
    )
    failed, _ = incoming_calls.sandbox_incoming_call(to="+815099999999", caller="anonymous")
    return answered, failed


def test_it_shows_incoming_calls_and_voicemail(sandbox_client, operator, incoming_history):
    answered, failed = incoming_history
    sandbox_client.force_login(operator)

    response = sandbox_client.get(PAGE)

    body = response.content.decode()
    assert response.context["incoming_calls"] == [failed, answered]
    assert 'id="sandbox-incoming-calls"' in body
    assert "+819011112222" in body
    assert "+815099999999" in body
    assert "number not in service" in body
    [voicemail] = response.context["voicemail_records"]
    assert voicemail.incoming_call == answered
    audio = sandbox_path("sandbox:account_voicemail_audio", code=voicemail.code)
    assert f'<audio controls preload="none" src="{audio}">' in body


def test_it_plays_a_voicemail_recording_to_operators(sandbox_client, operator, incoming_history):
    voicemail = SandboxVoicemail.objects.get()
    url = sandbox_path("sandbox:account_voicemail_audio", code=voicemail.code)
    sandbox_client.force_login(operator)

    response = sandbox_client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response.content == bytes(voicemail.recording)
    assert response.content[:4] == b"RIFF"


def test_it_refuses_voicemail_recordings_to_everybody_else(sandbox_client, incoming_history):
    voicemail = SandboxVoicemail.objects.get()
    url = sandbox_path("sandbox:account_voicemail_audio", code=voicemail.code)
    member = User.objects.create_user(email="member@example.com", password="x", is_staff=True)

    anonymous = sandbox_client.get(url)
    sandbox_client.force_login(member)
    refused = sandbox_client.get(url)

    assert anonymous.status_code == 302
    assert refused.status_code == 403


def test_it_answers_404_for_an_unknown_recording(sandbox_client, operator):
    sandbox_client.force_login(operator)
    url = sandbox_path("sandbox:account_voicemail_audio", code=uuid.uuid4())

    assert sandbox_client.get(url).status_code == 404


FAULT = {
    "method": "DELETE",
    "path_pattern": r"^/voice/dins/subscriptions/[^/]+/?$",
    "status": "503",
    "when": "before",
    "delay_seconds": "0",
    "times": "2",
}


def test_it_lets_operators_add_and_see_a_fault(sandbox_client, operator, sandbox_account):
    sandbox_client.force_login(operator)

    response = sandbox_client.post(sandbox_path("sandbox:account_fault_add"), FAULT)
    page = sandbox_client.get(PAGE)

    assert response.status_code == 302
    fault = SandboxFault.objects.get()
    assert (fault.method, fault.status, fault.when, fault.remaining) == ("DELETE", 503, "before", 2)
    assert page.context["faults"] == [fault]
    assert "^/voice/dins/subscriptions/[^/]+/?$" in page.content.decode()


@pytest.mark.parametrize(
    "change,field",
    [
        ({"path_pattern": "("}, "path_pattern"),
        ({"status": "", "delay_seconds": "0"}, "status"),
        ({"status": "700"}, "status"),
        ({"method": "FETCH"}, "method"),
    ],
)
def test_it_shows_why_a_fault_is_refused(sandbox_client, operator, sandbox_account, change, field):
    sandbox_client.force_login(operator)

    response = sandbox_client.post(sandbox_path("sandbox:account_fault_add"), {**FAULT, **change})

    assert response.status_code == 400
    assert field in response.context["fault_form"].errors
    assert not SandboxFault.objects.exists()


def test_it_lets_operators_clear_the_faults(sandbox_client, operator, sandbox_account):
    faults.sandbox_fault_add(method="*", path_pattern=".", status=500, times=3)
    sandbox_client.force_login(operator)

    response = sandbox_client.post(sandbox_path("sandbox:account_faults_clear"))

    assert response.status_code == 302
    assert not SandboxFault.objects.exists()


def test_it_hides_used_up_faults(sandbox_client, operator, sandbox_account):
    fault = faults.sandbox_fault_add(method="*", path_pattern=".", status=500)
    SandboxFault.objects.filter(pk=fault.pk).update(remaining=0)
    sandbox_client.force_login(operator)

    assert sandbox_client.get(PAGE).context["faults"] == []


def test_it_refuses_fault_changes_without_a_csrf_token(operator, sandbox_account):
    fault = faults.sandbox_fault_add(method="*", path_pattern=".", status=500)
    csrf_client = SandboxClient(enforce_csrf_checks=True)
    csrf_client.force_login(operator)

    added = csrf_client.post(sandbox_path("sandbox:account_fault_add"), FAULT)
    cleared = csrf_client.post(sandbox_path("sandbox:account_faults_clear"))

    assert (added.status_code, cleared.status_code) == (403, 403)
    assert list(SandboxFault.objects.all()) == [fault]


def test_it_refuses_fault_changes_to_non_operators(sandbox_client, sandbox_account):
    fault = faults.sandbox_fault_add(method="*", path_pattern=".", status=500)
    member = User.objects.create_user(email="member@example.com", password="x", is_staff=True)
    sandbox_client.force_login(member)

    added = sandbox_client.post(sandbox_path("sandbox:account_fault_add"), FAULT)
    cleared = sandbox_client.post(sandbox_path("sandbox:account_faults_clear"))

    assert (added.status_code, cleared.status_code) == (403, 403)
    assert list(SandboxFault.objects.all()) == [fault]


@pytest.mark.parametrize("model", [SandboxIncomingCall, SandboxVoicemail, SandboxFault])
def test_it_lists_incoming_calls_voicemail_and_faults_in_admin(
    client, operator, incoming_history, model
):
    faults.sandbox_fault_add(method="*", path_pattern=".", status=500)
    client.force_login(operator)
    meta = model._meta

    changelist = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    change = client.get(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[model.objects.first().pk])
    )

    assert changelist.status_code == 200
    assert change.status_code == 200

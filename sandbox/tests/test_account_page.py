"""The operators' sandbox page and the sandbox models in Django admin."""

import pytest
from django.urls import reverse

from portal.models import User
from sandbox import services
from sandbox.models import (
    SandboxAccount,
    SandboxCall,
    SandboxDin,
    SandboxLedgerEntry,
    SandboxSubscription,
)

pytestmark = pytest.mark.django_db

PAGE = "/sandbox/account/"


@pytest.fixture
def operator():
    return User.objects.create_superuser(email="ops@example.com", password="x")


@pytest.fixture
def sandbox_account(settings):
    settings.XOXZO_SID = "PAGESID"
    account = services.sandbox_account_get_or_create(sid="PAGESID")
    services.sandbox_inventory_ensure()
    din = SandboxDin.objects.filter(prefix="50").first()
    services.sandbox_subscription_create(account=account, din_uid=din.din_uid)
    services.sandbox_call_start(
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
    assert reverse("sandbox:account") == PAGE


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("is_staff", [False, True])
def test_it_refuses_users_who_are_not_superusers(client, is_staff):
    user = User.objects.create_user(email="member@example.com", password="x", is_staff=is_staff)
    client.force_login(user)

    assert client.get(PAGE).status_code == 403
    assert not SandboxAccount.objects.exists()


def test_it_shows_operators_the_balance_numbers_calls_and_ledger(client, operator, sandbox_account):
    client.force_login(operator)

    response = client.get(PAGE)

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

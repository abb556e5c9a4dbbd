import pytest
from django.core.management import call_command

from callflows.models import AudioFile, CallerList, TtsScript
from dins.models import Subscription, SubscriptionStatus
from portal.models import Tenant
from portal.names import name_key
from portal.scoping import scopes_disabled
from testing.scaffolding import edge_get

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_seeds_real_numbers_per_demo_company_through_the_sandbox(
    sandbox_url, task_queue, client, settings, live_server
):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert task_queue.names() == ["callflows.demo", "callflows.demo"]
    task_queue.run_all()

    with scopes_disabled():
        for tenant in Tenant.objects.all():
            numbers = Subscription.objects.filter(tenant=tenant)
            assert numbers.filter(status=SubscriptionStatus.ACTIVE).count() == 3
            assert numbers.filter(is_trial=True).count() == 1
        tokens = list(Subscription.objects.values_list("action_token", flat=True))
    # every demo number answers its realistic flow from the first call
    for token in tokens:
        call = edge_get(f"/a/{token}/", {"caller": ""})
        assert call.status_code == 200
        assert call.content.decode().startswith("say ja ")  # the anonymous-caller refusal

    # the demo's recordings, texts and lists are named as a second one would be compared: a
    # full-width "VIP" list cannot be added beside the demo's "VIP"
    with scopes_disabled():
        assets = [*AudioFile.objects.all(), *CallerList.objects.all(), *TtsScript.objects.all()]
    assert len(assets) >= 6
    assert all(a.name_key == name_key(getattr(a, "label", None) or a.name) for a in assets)

    # seeding again adds nothing
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    task_queue.run_all()
    with scopes_disabled():
        assert Subscription.objects.count() == 6

"""A released, releasing or failed number answers no call: nothing pretends otherwise.

Its flow page shows the flow to read with the reason, no "in effect now", no week view, no
editor, switch or test call; the services, the pages and the API refuse changes (409).
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from callflows.flows import services as flow_services
from callflows.models import CallFlow
from dins.models import SubscriptionStatus
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope
from portal.services import ServiceError

CLOSED = [SubscriptionStatus.RELEASED, SubscriptionStatus.RELEASING, SubscriptionStatus.FAILED]
DOCUMENT = {"rules": [], "default": {"type": "transfer", "number": "+81312345678"}}


@pytest.fixture
def staff(client, personas):
    client.force_login(personas.staff_a)
    return client


def _number(personas, status, **values):
    with tenant_scope(personas.tenant_a):
        number = SubscriptionFactory(tenant=personas.tenant_a, published=False, **values)
        CallFlow.objects.create(tenant=personas.tenant_a, subscription=number, document=DOCUMENT)
        number.status = status
        number.released_at = timezone.now() if status == SubscriptionStatus.RELEASED else None
        number.save(update_fields=["status", "released_at"])
    return number


@pytest.mark.parametrize("status", CLOSED)
def test_its_flow_page_shows_the_flow_to_read_and_why_it_answers_nothing(staff, personas, status):
    number = _number(personas, status)
    page = staff.get(reverse("flow_edit", args=[number.code]))
    html = page.content.decode()

    assert page.status_code == 200
    assert page.context["not_answering"]
    assert "data-not-answering" in html
    assert "transfer to 03-1234-5678" in html  # the saved flow, in words
    assert 'id="flow-editor"' not in html  # no editor
    assert 'name="quick"' not in html and 'name="end"' not in html  # no day/night switch
    assert 'id="test-call"' not in html
    assert "week" not in page.context and "preview" not in page.context  # no week view


def test_a_released_number_says_when_it_was_released(staff, personas):
    number = _number(personas, SubscriptionStatus.RELEASED)
    html = staff.get(reverse("flow_edit", args=[number.code])).content.decode()
    assert f"released on {timezone.localdate(number.released_at):%Y-%m-%d}" in html


@pytest.mark.parametrize("status", CLOSED)
def test_its_flow_takes_no_save_switch_or_override(staff, personas, status, task_queue):
    number = _number(personas, status)

    saved = staff.post(
        reverse("flow_edit", args=[number.code]),
        {"rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0", "default-action": "voicemail"},
    )
    switched = staff.post(reverse("flow_override", args=[number.code]), {"quick": "1"})
    draft = staff.post(reverse("flow_draft", args=[number.code]), {"rules-TOTAL_FORMS": "0"})

    assert saved.status_code == 409
    assert draft.status_code == 409
    assert switched.status_code == 302
    with tenant_scope(personas.tenant_a):
        flow = CallFlow.objects.get(subscription=number)
        assert (flow.document, flow.version, flow.override_document) == (DOCUMENT, 1, None)
        with pytest.raises(ServiceError):
            flow_services.flow_save(subscription=number, document=DOCUMENT, by=personas.staff_a)
        with pytest.raises(ServiceError):
            flow_services.flow_set_override(
                subscription=number,
                action={"type": "voicemail"},
                until=timezone.now() + timezone.timedelta(hours=1),
                request=None,
            )
    assert task_queue.sent == []


@pytest.mark.parametrize("status", CLOSED)
def test_the_api_says_it_answers_no_calls_and_refuses_changes(api_as, personas, status):
    number = _number(personas, status)
    api = api_as("admin")
    base = f"/api/v1/numbers/{number.code}"

    flow = api.get(f"{base}/flow")
    replaced = api.put(f"{base}/flow", {"document": DOCUMENT})
    switched = api.put(f"{base}/override")
    preview = api.get(f"{base}/flow/preview?at=2026-12-07T10:00")

    assert flow.status_code == 200
    assert flow.json()["answers_calls"] is False and flow.json()["not_answering"]
    assert [r.status_code for r in (replaced, switched, preview)] == [409, 409, 409]
    assert {r.json()["code"] for r in (replaced, switched, preview)} == {"not_answering"}


def test_an_active_number_still_answers_and_takes_changes(api_as, personas):
    number = _number(personas, SubscriptionStatus.ACTIVE)
    flow = api_as("admin").get(f"/api/v1/numbers/{number.code}/flow").json()
    assert flow["answers_calls"] is True and flow["not_answering"] is None

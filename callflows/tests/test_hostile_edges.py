"""Small holes issue 19 found at the edges: a CSV cell starting with a line feed, OPTIONS on a
public MP3 without the carrier headers, and a forged rule count answered with the whole
editor."""

import pytest

from callflows.calllog.export import csv_cell
from callflows.models import CallFlow
from callflows.tests.factories import make_audio
from dins.tests.factories import SubscriptionFactory
from portal.headers import CARRIER_RESPONSE_HEADERS
from portal.scoping import scopes_disabled


@pytest.mark.parametrize("value", ["\n=1+1", "\n@SUM(A1)", "\r\n=cmd"])
def test_a_cell_starting_with_a_line_break_is_neutralised(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("method", ["options", "post", "put", "delete", "patch"])
def test_every_answer_of_a_public_mp3_carries_the_carrier_headers(edge_client, personas, method):
    audio = make_audio(personas.tenant_a)
    response = getattr(edge_client, method)(f"/media/audio/{audio.public_id}.mp3")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    for name, value in CARRIER_RESPONSE_HEADERS:
        assert response[name] == value


@pytest.mark.parametrize("page", ["", "draft/"])
def test_a_forged_rule_count_is_refused_before_any_form_is_built(
    client, personas, page, django_assert_max_num_queries
):
    number = SubscriptionFactory(tenant=personas.tenant_a)
    make_audio(personas.tenant_a)
    client.force_login(personas.owner_a)
    with django_assert_max_num_queries(12):
        response = client.post(
            f"/numbers/{number.code}/flow/{page}",
            {
                "rules-TOTAL_FORMS": "100000",
                "rules-INITIAL_FORMS": "0",
                "default-action": "voicemail",
            },
        )
    assert response.status_code == 400
    assert len(response.content) < 20_000
    assert "at most 30 rules" in response.content.decode()
    with scopes_disabled():
        assert not CallFlow.objects.filter(subscription=number).exists()

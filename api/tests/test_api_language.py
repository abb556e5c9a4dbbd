"""The API answers in the company's language unless the client asks for another
(``Accept-Language``); the server's default and cookies play no part."""

import pytest

from callflows.flows.services import flow_save
from dins.tests.factories import SubscriptionFactory
from portal.scoping import tenant_scope

HOURS = {
    "rules": [
        {
            "label": "",
            "when": {
                "type": "hours",
                "weekdays": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "18:00",
            },
            "then": {"type": "voicemail"},
        }
    ],
    "default": {"type": "voicemail"},
}


@pytest.fixture
def harbor_and_sakura(personas):
    """Tenant A speaks English (Harbor Logistics), tenant B Japanese (さくら歯科クリニック)."""
    personas.tenant_a.name, personas.tenant_a.language = "Harbor Logistics", "en"
    personas.tenant_b.name, personas.tenant_b.language = "さくら歯科クリニック", "ja"
    personas.tenant_a.save()
    personas.tenant_b.save()
    numbers = {}
    for key, tenant, owner in (
        ("harbor", personas.tenant_a, personas.owner_a),
        ("sakura", personas.tenant_b, personas.owner_b),
    ):
        number = SubscriptionFactory(tenant=tenant)
        with tenant_scope(tenant):
            flow_save(subscription=number, document=HOURS, by=owner)
        numbers[key] = number
    return numbers


def test_without_accept_language_harbor_is_answered_in_english_and_sakura_in_japanese(
    api_as, client, settings, harbor_and_sakura
):
    settings.LANGUAGE_CODE = "ja"  # the server's default, which programs do not get
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"  # nor a browser's cookie
    harbor = api_as("viewer", tenant="a", language=None)
    sakura = api_as("viewer", tenant="b", language=None)

    harbor_flow = harbor.get(f"/api/v1/numbers/{harbor_and_sakura['harbor'].code}/flow")
    sakura_flow = sakura.get(f"/api/v1/numbers/{harbor_and_sakura['sakura'].code}/flow")
    harbor_missing = harbor.get("/api/v1/numbers/00000000-0000-0000-0000-000000000000")
    sakura_missing = sakura.get("/api/v1/numbers/00000000-0000-0000-0000-000000000000")

    assert harbor_flow.status_code == sakura_flow.status_code == 200
    assert harbor_flow["Content-Language"] == "en" and sakura_flow["Content-Language"] == "ja"
    assert "Mon–Fri" in " ".join(harbor_flow.json()["description"])  # noqa: RUF001
    assert "月〜金" in " ".join(sakura_flow.json()["description"])
    assert harbor_missing.json()["detail"] == "Not found."
    assert sakura_missing.json()["detail"] == "見つかりません。"


@pytest.mark.parametrize(
    "header,expected",
    [
        ("ja", "見つかりません。"),
        ("ja-JP,ja;q=0.9", "見つかりません。"),
        ("fr-FR, ja;q=0.5", "見つかりません。"),  # the first language the portal speaks
        ("fr", "Not found."),  # none the portal speaks: the company's
        ("*", "Not found."),
        ("en-US", "Not found."),
    ],
)
def test_a_client_that_asks_for_a_language_gets_it(api_as, harbor_and_sakura, header, expected):
    harbor = api_as("viewer", tenant="a", language=header)
    response = harbor.get("/api/v1/numbers/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["detail"] == expected

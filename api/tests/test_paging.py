"""The API's lists page by cursor: alerts and the call log, each row once, bad cursors 422."""

from portal.models import Alert, AlertKind
from portal.scoping import scopes_disabled


def test_alerts_are_listed_by_cursor(api_as, personas):
    with scopes_disabled():
        Alert.objects.bulk_create(
            Alert(tenant=personas.tenant_a, kind=AlertKind.ACTION_URL_FALLBACK, dedup_key=f"k{n}")
            for n in range(7)
        )
        Alert.objects.create(
            tenant=personas.tenant_b, kind=AlertKind.ACTION_URL_FALLBACK, dedup_key="b"
        )
    api = api_as("viewer")

    seen, cursor = [], ""
    while True:
        data = api.get(f"/api/v1/alerts?limit=3&cursor={cursor}").json()
        seen += [item["code"] for item in data["items"]]
        cursor = data["next_cursor"]
        if not cursor:
            break
    broken = api.get("/api/v1/alerts?cursor=nonsense")

    assert len(seen) == len(set(seen)) == 7
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "cursor"

"""Settings → API: a key created on the page is shown once, on the page the creation redirects
to (POST/redirect/GET); reloading that page shows it no more and creates nothing."""

import re

from django.urls import reverse

from api.models import ApiKey
from portal.scoping import scopes_disabled


def test_a_created_key_is_shown_once_and_a_reload_makes_no_other(client, personas):
    client.force_login(personas.admin_a)

    created = client.post(
        reverse("api_key_create"), {"name": "会計システム", "role": "viewer", "expires_at": ""}
    )
    shown = client.get(created["Location"]).content.decode()
    reloaded = client.get(created["Location"]).content.decode()

    assert created.status_code == 302 and created["Location"] == reverse("api_settings")
    token = re.search(r'<code id="new-api-key">([^<]+)</code>', shown)[1]
    with scopes_disabled():
        key = ApiKey.objects.get()
    assert token.startswith(f"dinp_{key.prefix}_")
    assert 'id="new-api-key"' not in reloaded and token not in reloaded


def test_a_refused_key_keeps_what_was_typed_and_creates_nothing(client, personas):
    client.force_login(personas.admin_a)

    refused = client.post(reverse("api_key_create"), {"name": "", "role": "root"})

    assert refused.status_code == 400
    with scopes_disabled():
        assert not ApiKey.objects.exists()

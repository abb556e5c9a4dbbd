"""The sandbox carrier's server answers its errors with its own pages (it has no portal pages
to link to): 404, 403 and an expired form are pages, never a 500."""

from portal.models import User
from testing.scaffolding import SandboxClient


def test_an_unknown_path_is_its_own_404(sandbox_client, db):
    response = sandbox_client.get("/sandbox/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert b"Sandbox carrier" in response.content


def test_a_page_for_operators_only_is_its_own_403(sandbox_client, db):
    sandbox_client.force_login(User.objects.create_user(email="member@example.com", password="x"))
    response = sandbox_client.get("/sandbox/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert b"sandbox&#x27;s operators only" in response.content


def test_a_form_without_its_token_is_refused_with_its_own_page(db):
    operator = User.objects.create_superuser(email="ops@example.com", password="x")
    client = SandboxClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    response = client.post("/sandbox/account/faults/clear/")
    assert response.status_code == 403
    assert b"Sandbox carrier" in response.content and b"expired" in response.content

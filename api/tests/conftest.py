"""Fixtures of the API tests: keys of each role, a client that sends them."""

import pytest

from api.tests.factories import make_key
from sandbox.tests.fixtures import (  # noqa: F401 - fixtures
    live_sandbox_server,
    sandbox_url,
)


class ApiClient:
    """Django's test client speaking JSON with a bearer key.

    It asks for English answers (``Accept-Language: en``), which the tests read, unless
    ``language`` says otherwise (None: no header, the company's language).
    """

    def __init__(self, client, token: str | None, language: str | None = "en"):
        self.client = client
        self.token = token
        self.language = language

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.language is not None:
            headers.setdefault("Accept-Language", self.language)
        kwargs = {"headers": headers}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(self.client, method.lower())(path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("post", path, body if body is not None else {}, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("put", path, body if body is not None else {}, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("delete", path, **kwargs)


@pytest.fixture
def api_as(client, personas):
    """``api_as("admin")`` → a client with a fresh key of tenant A of that role
    (``tenant="b"`` for tenant B's)."""

    def make(role: str = "admin", *, tenant: str = "a", language: str | None = "en") -> ApiClient:
        owner = personas.tenant_a if tenant == "a" else personas.tenant_b
        _key, token = make_key(owner, role=role, name=f"{role} key")
        return ApiClient(client, token, language=language)

    return make

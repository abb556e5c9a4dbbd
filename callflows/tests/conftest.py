from api.tests.conftest import api_as  # noqa: F401 - fixture (closed numbers through the API)
from sandbox.tests.fixtures import (  # noqa: F401 - fixtures
    callback_server,
    enqueued_completions,
    live_sandbox_server,
    sandbox_url,
    xoxzo,
)

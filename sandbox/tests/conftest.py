from sandbox.tests.action_server import action_server  # noqa: F401 - fixture
from sandbox.tests.fixtures import (  # noqa: F401 - fixtures
    callback_server,
    enqueued_completions,
    live_sandbox_server,
    sandbox_url,
    xoxzo,
)

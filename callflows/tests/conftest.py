from sandbox.tests.fixtures import (  # noqa: F401 - fixtures
    callback_server,
    enqueued_completions,
    live_sandbox_server,
    sandbox_url,
    xoxzo,
)

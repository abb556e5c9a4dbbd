"""Settings: Benchmark-only switches."""

from config.settings.deployment import env

# bench/action_url.py serves a constant view and a one-lookup view on the action URL's minimal
# path (/bench/…, bench/urls.py) beside the real action URL, from the same server. Never in
# production: off unless the benchmark's server is started with it.
BENCH_VIEWS_ENABLED = env.bool("BENCH_VIEWS_ENABLED", default=False)
# Only with BENCH_VIEWS_ENABLED: answer calls without buffering their call-log entries, to
# measure what the buffered call log costs (bench/views.py). Never in production.
BENCH_CALL_LOG_DISABLED = BENCH_VIEWS_ENABLED and env.bool("BENCH_CALL_LOG_DISABLED", default=False)

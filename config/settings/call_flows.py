"""Settings: Call flows and the edge that answers calls."""

from config.settings.deployment import VAR_DIR, env

# Each edge process writes the call log in batches from a background thread (tests flush by hand).
CALL_LOG_BACKGROUND_FLUSH = True
# Answered calls wait here on this machine's disk until the database has them (journal files,
# callflows/edge/journal.py); past this many bytes an edge process keeps them in memory, then
# drops the oldest (alerted at half).
CALL_LOG_JOURNAL_DIR = env.str("CALL_LOG_JOURNAL_DIR", default=str(VAR_DIR / "call-log"))
CALL_LOG_JOURNAL_MAX_BYTES = env.int("CALL_LOG_JOURNAL_MAX_BYTES", default=512 * 1024 * 1024)
# A published flow is compiled for this long (holidays and closed dates included) and
# recompiled this long before it runs out (the hourly "callflows-republish" task).
FLOW_PUBLISH_LIFETIME_DAYS = env.int("FLOW_PUBLISH_LIFETIME_DAYS", default=30)
FLOW_REPUBLISH_AHEAD_DAYS = env.int("FLOW_REPUBLISH_AHEAD_DAYS", default=7)
# Each edge process asks every second which published flows changed within this many seconds
# (database clock): it covers a publishing transaction that takes this long to commit.
FLOW_WATCH_LOOKBACK_SECONDS = env.int("FLOW_WATCH_LOOKBACK_SECONDS", default=30)
EDGE_WATCHER_ENABLED = True
# A call whose number is not in the edge process's memory waits at most this long for the
# database (on one of the loader threads); then it is answered by the fallback.
EDGE_LOAD_BUDGET_SECONDS = env.float("EDGE_LOAD_BUDGET_SECONDS", default=1.0)
EDGE_LOADER_THREADS = env.int("EDGE_LOADER_THREADS", default=2)
# Published flows one edge process keeps in memory (least recently called out first), and
# tokens that answer nothing (released numbers, made-up tokens) in a bound of their own.
EDGE_MEMORY_MAX_FLOWS = env.int("EDGE_MEMORY_MAX_FLOWS", default=50_000)
EDGE_MEMORY_MAX_UNKNOWN = env.int("EDGE_MEMORY_MAX_UNKNOWN", default=10_000)
# The MP3s one edge process keeps in memory (bytes; least recently played out first), and how
# often a copy is checked again against the database (a deleted MP3 stops being served).
EDGE_MEDIA_MEMORY_BYTES = env.int("EDGE_MEDIA_MEMORY_BYTES", default=64 * 1024 * 1024)
EDGE_MEDIA_RECHECK_SECONDS = env.int("EDGE_MEDIA_RECHECK_SECONDS", default=300)

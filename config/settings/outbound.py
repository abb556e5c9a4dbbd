"""Settings: Outbound calls: limits and estimates."""

from config.settings.deployment import env

# Per tenant: calls requested in any rolling minute, and per calendar day in the tenant's time
# zone. They stop a runaway script or an abused account before the carrier bill does.
OUTBOUND_RATE_LIMIT_PER_MINUTE = env.int("OUTBOUND_RATE_LIMIT_PER_MINUTE", default=5)
OUTBOUND_DAILY_CAP = env.int("OUTBOUND_DAILY_CAP", default=100)
# Shown on the call form as the estimate (credits per started minute). [doc] "~10 credits/min,
# ~15 with local caller ID": keep them equal to what your Xoxzo contract says.
OUTBOUND_MINUTE_COST = env.float("OUTBOUND_MINUTE_COST", default=10)
OUTBOUND_LOCAL_CALLER_ID_MINUTE_COST = env.float("OUTBOUND_LOCAL_CALLER_ID_MINUTE_COST", default=15)
# Xoxzo requires a numeric "caller" and refuses Japanese ones (+81…, 0…) without the local-
# caller-ID option. A call from a Japanese number without the option sends this non-Japanese
# placeholder instead (carriers show it, or "unknown", at best effort). [choice]
OUTBOUND_CALLER_WITHOUT_LOCAL_ID = env.str(
    "OUTBOUND_CALLER_WITHOUT_LOCAL_ID", default="+10000000000"
)
# The callback should report a call's end; a call still in progress this long after it was
# placed is asked for by the call-status API, then again every interval.
OUTBOUND_POLL_AFTER_SECONDS = env.int("OUTBOUND_POLL_AFTER_SECONDS", default=120)
OUTBOUND_POLL_INTERVAL_SECONDS = env.int("OUTBOUND_POLL_INTERVAL_SECONDS", default=60)
# A placement whose outcome is unknown and that no callback has settled after this long is
# marked failed (the carrier's answer never came and its callback neither).
OUTBOUND_UNKNOWN_GRACE_MINUTES = env.int("OUTBOUND_UNKNOWN_GRACE_MINUTES", default=15)
# A placement still "placing" this long (the worker died mid-request) becomes "unknown".
OUTBOUND_PLACING_LEASE_MINUTES = env.int("OUTBOUND_PLACING_LEASE_MINUTES", default=5)
# A call still queued this long (carrier unreachable, broker lost the task) is not placed late.
OUTBOUND_QUEUED_EXPIRY_MINUTES = env.int("OUTBOUND_QUEUED_EXPIRY_MINUTES", default=15)

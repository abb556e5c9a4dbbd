"""Settings: The public API and webhooks."""

from config.settings.deployment import env

# Requests per minute and API key (counted in the cache, shared by every process).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)
# Webhook deliveries: timeout of one POST, attempts before a delivery is failed (backoff
# doubles from WEBHOOK_RETRY_BASE_SECONDS), consecutive failed deliveries before an endpoint is
# turned off (and the company alerted).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=10)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=10)
# Webhooks go to public addresses only: a company must not make the portal POST into its own
# network (SSRF). Development and tests against loopback receivers turn this on.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)

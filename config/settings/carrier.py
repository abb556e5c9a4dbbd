"""Settings: The carrier (Xoxzo) and the embedded sandbox carrier."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.deployment import IS_PRODUCTION, SANDBOX_PORT, VAR_DIR, env
from config.var import read_secret

# The embedded default talks to the sandbox carrier, a server process of its own (`make run`
# starts it on SANDBOX_PORT), over real HTTP, with the sandbox account below. Production turns
# the sandbox off and needs real credentials (README.md, "Switching to the real Xoxzo API").
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=not IS_PRODUCTION)
# The sandbox answers only requests from this machine that no proxy relayed, unless exposed.
SANDBOX_EXPOSED = env.bool("SANDBOX_EXPOSED", default=False)
XOXZO_API_URL = env.str(
    "XOXZO_API_URL",
    default=f"http://127.0.0.1:{SANDBOX_PORT}/sandbox"
    if SANDBOX_ENABLED
    else "https://api.xoxzo.com",
).rstrip("/")


# This installation's own sandbox account (SID and auth token), made on first start beside the
# secret key (config/var.py): random per install, so a sandbox reachable by others does not
# answer to credentials anyone can read in the docs.
SANDBOX_CREDENTIALS_FILE = VAR_DIR / "sandbox_credentials"
_sandbox_sid, _sandbox_token = (
    (read_secret(VAR_DIR, "sandbox_credentials").split() or ["", ""])
    if SANDBOX_ENABLED and not IS_PRODUCTION
    else ["", ""]
)
XOXZO_SID = env.str("XOXZO_SID", default="") or _sandbox_sid
XOXZO_AUTH_TOKEN = env.str("XOXZO_AUTH_TOKEN", default="") or _sandbox_token
if IS_PRODUCTION and not (XOXZO_SID and XOXZO_AUTH_TOKEN):
    raise ImproperlyConfigured("DEPLOYMENT=production needs XOXZO_SID and XOXZO_AUTH_TOKEN.")
# Xoxzo does not publish the name of its JP local-caller-ID option: configurable.
XOXZO_LOCAL_CALLER_ID_PARAM = env.str("XOXZO_LOCAL_CALLER_ID_PARAM", default="local_caller_id")
XOXZO_CONNECT_TIMEOUT = env.float("XOXZO_CONNECT_TIMEOUT", default=3.05)
XOXZO_READ_TIMEOUT = env.float("XOXZO_READ_TIMEOUT", default=10.0)
# A page that asks the carrier (number search, subscribe) waits at most this long in all,
# retries included, then says the carrier did not answer: a page thread is never held for a
# slow carrier. Tasks keep the timeouts above.
XOXZO_PAGE_BUDGET_SECONDS = env.float("XOXZO_PAGE_BUDGET_SECONDS", default=4.0)
# The sandbox carrier's account starts with this many credits (1 credit = 1 JPY).
SANDBOX_INITIAL_BALANCE = env.int("SANDBOX_INITIAL_BALANCE", default=50_000)
# Xoxzo charges a "discounted 24 hours price" for a number released within 24 hours but does
# not publish it; the sandbox's choice is this fraction of the monthly cost.
SANDBOX_TRIAL_PRICE_RATIO = env.float("SANDBOX_TRIAL_PRICE_RATIO", default=0.05)
# Seconds after which a sandbox outbound call ends (the sandbox.complete_call countdown).
SANDBOX_CALL_COMPLETION_DELAY = env.int("SANDBOX_CALL_COMPLETION_DELAY", default=5)

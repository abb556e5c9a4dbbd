"""Settings: where this installation runs: its kind, its folder, secrets and addresses."""

from django.core.exceptions import ImproperlyConfigured

from config.var import BASE_DIR, read_environment, read_secret, var_dir  # noqa: F401 (BASE_DIR: a setting)

env = read_environment()  # .env beside manage.py is optional; the environment wins


DEPLOYMENT = env.str("DEPLOYMENT", default="embedded")
if DEPLOYMENT not in ("embedded", "production"):
    raise ImproperlyConfigured("DEPLOYMENT must be 'embedded' or 'production'.")
IS_PRODUCTION = DEPLOYMENT == "production"

VAR_DIR = var_dir(env)  # made, with its secrets, by config/var.py:var_prepare

PRODUCTION_REQUIRED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "PORTAL_BASE_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
)
if IS_PRODUCTION:
    missing = [name for name in PRODUCTION_REQUIRED if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            "DEPLOYMENT=production needs these environment variables: " + ", ".join(missing)
        )


# Empty until var_prepare made var/secret_key: Django then refuses to sign anything.
SECRET_KEY = env.str("SECRET_KEY", default="") or read_secret(VAR_DIR, "secret_key")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Ports of `make run`'s servers (README.md, "Processes"): people use PORT; the carrier-facing
# edge (action URL, public MP3s, call callbacks) has its own; so has the sandbox carrier.
PORT = env.int("PORT", default=8000)
EDGE_PORT = env.int("EDGE_PORT", default=PORT + 1)
SANDBOX_PORT = env.int("SANDBOX_PORT", default=PORT + 2)
# The address at which Xoxzo reaches the edge: action URLs and public MP3 links start here.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{EDGE_PORT}").rstrip("/")
# The address at which people reach the portal's pages: every link in an e-mail, an alert or a
# webhook payload starts here (portal/addresses.py), whatever server or worker writes it.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")

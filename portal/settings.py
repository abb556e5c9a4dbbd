"""Settings for DIN Portal, read from the environment (django-environ).

With no environment at all the portal runs in its *embedded default*: SQLite, a file-system
Celery broker and the local media folder, all under ``var/``, and the sandbox carrier. A real
deployment sets ``DEPLOYMENT=production`` and the variables listed in README.md; production
refuses to start while a required one is missing.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; values already in the environment win

# --- Deployment -------------------------------------------------------------------------------

DEPLOYMENT = env.str("DEPLOYMENT", default="embedded")
if DEPLOYMENT not in ("embedded", "production"):
    raise ImproperlyConfigured("DEPLOYMENT must be 'embedded' or 'production'.")
IS_PRODUCTION = DEPLOYMENT == "production"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

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


def _install_secret(name: str, make) -> str:
    """A secret generated on first start and kept in var/<name> (shared by web and worker).

    It is written to a private temporary file and hard-linked into place, so a process that
    starts at the same moment either wins the link or reads a complete file.
    """
    path = VAR_DIR / name
    if not path.exists():
        temporary = VAR_DIR / f".{name}.{os.getpid()}"
        temporary.write_text(make())
        temporary.chmod(0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _install_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
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

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    # The second factor (TOTP and recovery codes): portal/second_factor.py.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "portal",
    "dins",
    "callflows",
    "sandbox",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every error under /api/ in the API's JSON shape, Django's own 404/405/400/500 included.
    "api.middleware.ApiErrorShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # NUL bytes are refused here, once, before any view or the CSRF check reads the input.
    "portal.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.TenantMiddleware",
    # After the tenant: a company that requires a second factor is read from the memberships.
    "portal.second_factor.SecondFactorMiddleware",
    "axes.middleware.AxesMiddleware",
    "dins.middleware.CarrierBudgetMiddleware",
    "sandbox.middleware.SandboxLocalOnlyMiddleware",
]

ROOT_URLCONF = "portal.urls"
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.tenancy",
            ],
            # Numbers, money and call-flow answers as people read them, on every page and e-mail.
            "builtins": [
                "dins.templatetags.din_format",
                "callflows.templatetags.flow_words",
                "portal.templatetags.portal_words",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------------

SQLITE_PATH = VAR_DIR / "portal.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share one file: WAL lets readers work beside a writer, and
    # IMMEDIATE transactions queue writers instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Serving processes give up on PostgreSQL after these (portal/database.py): the pages and the
# workers, and the edge, whose calls never wait on the database beyond its budget anyway.
DATABASE_CONNECT_TIMEOUT = env.float("DATABASE_CONNECT_TIMEOUT", default=5)
DATABASE_STATEMENT_TIMEOUT_MS = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=30_000)
EDGE_DATABASE_CONNECT_TIMEOUT = env.float("EDGE_DATABASE_CONNECT_TIMEOUT", default=2)
EDGE_DATABASE_STATEMENT_TIMEOUT_MS = env.int("EDGE_DATABASE_STATEMENT_TIMEOUT_MS", default=3_000)
DATABASE_LIMITS_ENABLED = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# The cache holds rate limits and other short-lived counters shared by every process. Short
# socket timeouts: nothing that uses it may hang a page when Redis is slow. Call flows do not
# live here: the edge reads them from the database (callflows/edge/published.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dinportal",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts ---------------------------------------------------------------------------------

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)

# The client's address: the connecting address, or, when that is one of these proxies (IP
# addresses or networks, e.g. "127.0.0.1,10.0.0.0/8"), the first address in X-Forwarded-For
# that is not (portal/client_address.py). Empty: X-Forwarded-For is ignored, since any client
# can write it. The sign-in lockout and the audit log both use this address.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Brute-force lockout: this many failures for one e-mail address from one client address lock
# that pair out for the cool-off period. Trade-off [choice]: keyed on the pair, a stranger's
# wrong passwords lock out only the stranger's own address, never the user signing in from
# elsewhere; the price is that guesses spread over many addresses are not stopped by the
# lockout (the password rules are what stands against them). Keyed on the e-mail address
# alone, anyone could lock any user out by typing wrong passwords for them.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The sign-in form posts the e-mail address as "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.client_address.lockout_username"
AXES_CLIENT_IP_CALLABLE = "portal.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# The second factor (portal/second_factor.py): TOTP apps show this issuer beside the account;
# failed codes slow the next attempt down (1 s, 2 s, 4 s, …). Owners and admins need one when
# their company requires it (Settings); operators (superusers) need one in production.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="DIN Portal")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
SECOND_FACTOR_FOR_OPERATORS = env.bool("SECOND_FACTOR_FOR_OPERATORS", default=IS_PRODUCTION)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Request limits ---------------------------------------------------------------------------

# The largest form is the call-flow editor at its rule limit (callflows.flows.forms.MAX_RULES
# rules of about 15 fields, plus the default action); a request with more fields is refused
# with 400 before any form is built.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 700
# Form fields other than files (the longest is a caller list at its limit, ~60 KB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# An upload larger than the MP3 limit is not stored, only counted (portal/uploads.py).
FILE_UPLOAD_HANDLERS = [
    "portal.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# [choice] Xoxzo publishes no limits (XOXZO.md). 10 MB is ~40 min at 32 kbit/s; 10 minutes is
# far longer than any greeting a caller sits through. Uploads stop being stored past the size.
AUDIO_MAX_BYTES = env.int("AUDIO_MAX_BYTES", default=10 * 1024 * 1024)
AUDIO_MAX_SECONDS = env.int("AUDIO_MAX_SECONDS", default=10 * 60)
# A recording to convert (callflows/assets/convert.py) may be larger than the MP3 made of it:
# a PC's WAV takes ~10 MB a minute. 50 MB holds 4.5 minutes of CD-quality stereo WAV and any
# phone's voice memo up to the 10-minute limit.
AUDIO_UPLOAD_MAX_BYTES = env.int("AUDIO_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
# Converted recordings nobody saved (or discarded) are deleted after this.
AUDIO_UPLOAD_KEEP_HOURS = env.int("AUDIO_UPLOAD_KEEP_HOURS", default=24)
# No MEDIA_URL is routed: nothing in media is public except what a view chooses to serve.
MEDIA_URL = "/media-not-served/"
# Uploads (MP3s) in the media folder, or, with MEDIA_BUCKET set, in an S3-compatible bucket that
# every portal and edge machine reads (portal/storage.py): then nothing on disk is shared.
MEDIA_BUCKET = env.str("MEDIA_BUCKET", default="")
STORAGES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": MEDIA_BUCKET,
                "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("MEDIA_S3_REGION", default="") or None,
                "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
                "location": env.str("MEDIA_S3_PREFIX", default="media"),
                "default_acl": None,  # private: MP3s are served by the edge, never the bucket
                "file_overwrite": False,
                "querystring_auth": True,
            },
        }
        if MEDIA_BUCKET
        else {"BACKEND": "portal.storage.MediaStorage"}
    ),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION

# --- Security headers -------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- E-mail -----------------------------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DIN Portal <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Numbers ----------------------------------------------------------------------------------

# A trial is released this long before the carrier's 24-hour deadline (fractions allowed: the
# end-to-end suite releases its trials seconds after subscribing).
TRIAL_RELEASE_MARGIN_MINUTES = env.float("TRIAL_RELEASE_MARGIN_MINUTES", default=30)
if not 0 <= TRIAL_RELEASE_MARGIN_MINUTES < 24 * 60:
    raise ImproperlyConfigured("TRIAL_RELEASE_MARGIN_MINUTES must be from 0 to under 1440.")
# How often the scheduler runs the trial sweep (releases, reminders): every minute.
TRIAL_SWEEP_INTERVAL_SECONDS = env.int("TRIAL_SWEEP_INTERVAL_SECONDS", default=60)
if TRIAL_SWEEP_INTERVAL_SECONDS < 1:
    raise ImproperlyConfigured("TRIAL_SWEEP_INTERVAL_SECONDS must be at least 1.")
# Reminders to owners and admins, in minutes before the deadline; each goes once.
TRIAL_REMINDER_MINUTES = env.list("TRIAL_REMINDER_MINUTES", cast=int, default=[360, 60])
# Xoxzo's "discounted 24 hours price" is not published: shown as this fraction of
# the monthly cost. Keep it equal to what your Xoxzo contract says.
TRIAL_PRICE_RATIO = env.float("TRIAL_PRICE_RATIO", default=0.05)
# A release task that has not finished after this long (worker died) is enqueued again.
RELEASE_LEASE_MINUTES = env.int("RELEASE_LEASE_MINUTES", default=10)
# How often the carrier's subscription list is compared with ours.
RECONCILE_INTERVAL_MINUTES = env.int("RECONCILE_INTERVAL_MINUTES", default=10)
# A subscribe whose outcome is unknown is settled by reconciliation after this grace period.
SUBSCRIBE_SETTLE_AFTER_SECONDS = env.int("SUBSCRIBE_SETTLE_AFTER_SECONDS", default=60)
# The subscribe task owns its row while its lease runs: renewed every quarter of it while the
# task runs, and over the countdown of each retry it schedules. A worker that dies stops
# renewing it; the settle sweep (every minute) then settles the row from the carrier's list.
SUBSCRIBE_LEASE_SECONDS = env.int("SUBSCRIBE_LEASE_SECONDS", default=120)
# A subscribe click the task queue could not take within this long is given up, not sent late.
SUBSCRIBE_QUEUED_EXPIRY_MINUTES = env.int("SUBSCRIBE_QUEUED_EXPIRY_MINUTES", default=60)
RENEWAL_DAYS = 30

# --- Call flows -------------------------------------------------------------------------------

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

# --- Celery -----------------------------------------------------------------------------------

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker that needs no server: queued messages are files under var/broker/.
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # acks_late means an unacknowledged task comes back after the visibility timeout. It must
    # exceed the longest countdown a retry uses, or Redis would hand out the task twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60),
        # A broker that accepts connections and never answers is given up on, not waited for
        # (clicks hand over with shorter ones of their own: portal/outbox.py).
        "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=5),
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=10),
        "socket_keepalive": True,
        "health_check_interval": 25,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=5)
# An outbox message the broker did not take (it was down) is tried again by the outbox sweep
# once it is this old, and after each failed attempt this long later.
OUTBOX_RETRY_AFTER_SECONDS = env.int("OUTBOX_RETRY_AFTER_SECONDS", default=10)
# Messages handed over (or given up) are kept this long, for operators, then pruned.
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)
# How often the sweep looks (one indexed query when nothing waits): work a click saved while
# the broker was away goes ahead within this of the broker's return.
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=10)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often the call log's daily counts take in the calls logged meanwhile (the dashboard's
# "calls today" and the call log's chart are this much behind the log, plus 10 s).
CALL_DAYS_INTERVAL_SECONDS = env.int("CALL_DAYS_INTERVAL_SECONDS", default=15)
# How often the worker sums every company's month for the operators' costs page (dins/costs.py),
# and how old a kept sum may be before the page sums that company itself.
MONTH_COSTS_INTERVAL_SECONDS = env.int("MONTH_COSTS_INTERVAL_SECONDS", default=60)
MONTH_COSTS_FRESH_SECONDS = 3 * MONTH_COSTS_INTERVAL_SECONDS
CELERY_BEAT_SCHEDULE = {
    # Operators' checks: the scheduler's own heartbeats, the task queue (portal/platform.py).
    "portal-platform-check": {
        "task": "portal.platform_check",
        "schedule": 60,
    },
    # Work saved while the broker was down is handed over once it is back (portal/outbox.py).
    "portal-outbox-sweep": {
        "task": "portal.outbox_sweep",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
    "prune-expired-invitations": {
        "task": "portal.prune_invitations",
        "schedule": 60 * 60,
    },
    # The trial guard: releases due trials, re-drives stuck releases, sends reminders.
    "dins-trial-sweep": {
        "task": "dins.trial_sweep",
        "schedule": TRIAL_SWEEP_INTERVAL_SECONDS,
    },
    # Every company's month in totals, for the operators' costs page.
    "dins-month-costs": {
        "task": "dins.month_costs_refresh",
        "schedule": MONTH_COSTS_INTERVAL_SECONDS,
    },
    "dins-reconcile": {
        "task": "dins.reconcile",
        "schedule": 60 * RECONCILE_INTERVAL_MINUTES,
    },
    # Subscribes whose task stopped renewing its lease (the worker died): settled at once.
    "dins-settle-subscribes": {
        "task": "dins.settle_subscribes",
        "schedule": 60,
    },
    # Published flows are recompiled before they run out (holidays, closed dates).
    "callflows-republish": {
        "task": "callflows.republish_due",
        "schedule": 60 * 60,
    },
    # The call log's daily counts (the chart, today's calls): the calls logged since the last
    # run, and the last two days counted again from the log.
    "callflows-call-days": {
        "task": "callflows.call_days_catch_up",
        "schedule": CALL_DAYS_INTERVAL_SECONDS,
    },
    "callflows-call-days-recount": {
        "task": "callflows.call_days_recount",
        "schedule": 60 * 60,
    },
    # Recordings converted but never saved, and their files (callflows/assets/uploads.py).
    "callflows-prune-audio-uploads": {
        "task": "callflows.prune_audio_uploads",
        "schedule": 60 * 60,
    },
}

# --- Carrier (Xoxzo) --------------------------------------------------------------------------

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


def sandbox_credentials() -> tuple[str, str]:
    """This installation's own sandbox account (SID, auth token), made on first start.

    Kept in ``SANDBOX_CREDENTIALS_FILE`` beside the secret key: random per install, so a
    sandbox reachable by others does not answer to credentials anyone can read in the docs.
    """

    def make() -> str:
        sid = "SB" + secrets.token_hex(15).upper()  # 32 characters, like a Xoxzo SID
        return f"{sid}\n{secrets.token_urlsafe(24)}\n"

    sid, token = _install_secret("sandbox_credentials", make).split()
    return sid, token


SANDBOX_CREDENTIALS_FILE = VAR_DIR / "sandbox_credentials"
_sandbox_sid, _sandbox_token = (
    sandbox_credentials() if SANDBOX_ENABLED and not IS_PRODUCTION else ("", "")
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

# --- Outbound calls ---------------------------------------------------------------------------

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
CELERY_BEAT_SCHEDULE["dins-poll-calls"] = {"task": "dins.poll_calls", "schedule": 30}

# --- API and webhooks -------------------------------------------------------------------------

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

# --- Operators --------------------------------------------------------------------------------

# Trouble of the whole installation (carrier credentials, scheduled work not running, tasks
# piling up, call-log rows dropped) is e-mailed here, once per kind and hour, and listed on the
# operators' page (portal/platform.py).
OPERATOR_ALERT_EMAILS = env.list("OPERATOR_ALERT_EMAILS", default=[])
# Tasks waiting in the broker beyond this count raise an operators' alert.
OPERATOR_QUEUE_BACKLOG = env.int("OPERATOR_QUEUE_BACKLOG", default=500)
# /healthz/platform and /metrics answer clients from these networks, or with
# "Authorization: Bearer <MONITORING_TOKEN>" when a token is set.
MONITORING_NETWORKS = env.list("MONITORING_NETWORKS", default=["127.0.0.0/8", "::1/128"])
MONITORING_TOKEN = env.str("MONITORING_TOKEN", default="")

# --- Logging ----------------------------------------------------------------------------------

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Benchmarks -------------------------------------------------------------------------------

# bench/action_url.py serves a constant view and a one-lookup view on the action URL's minimal
# path (/bench/…, bench/urls.py) beside the real action URL, from the same server. Never in
# production: off unless the benchmark's server is started with it.
BENCH_VIEWS_ENABLED = env.bool("BENCH_VIEWS_ENABLED", default=False)
# Only with BENCH_VIEWS_ENABLED: answer calls without buffering their call-log entries, to
# measure what the buffered call log costs (bench/views.py). Never in production.
BENCH_CALL_LOG_DISABLED = BENCH_VIEWS_ENABLED and env.bool("BENCH_CALL_LOG_DISABLED", default=False)

# --- Production safety ------------------------------------------------------------------------

# Production refuses to start with a setting that exposes it; naming the setting here starts
# it anyway (e.g. a staging copy: ALLOW_UNSAFE_SETTINGS=SANDBOX_ENABLED). [choice]
ALLOW_UNSAFE_SETTINGS = env.list("ALLOW_UNSAFE_SETTINGS", default=[])


def _wide_proxy_networks(entries: list[str]) -> list[str]:
    """The entries of ``TRUSTED_PROXIES`` that reach beyond loopback and private networks
    (a public proxy of your own is named in ALLOW_UNSAFE_SETTINGS), or that do not parse."""
    wide = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            wide.append(entry)
            continue
        if not (network.is_private or network.is_loopback) or network.prefixlen == 0:
            wide.append(str(network))
    return wide


def unsafe_production_settings() -> dict[str, str]:
    """Settings production must not run with, and why (checked below at start)."""
    unsafe = {}
    if DEBUG:
        unsafe["DEBUG"] = "DEBUG=true shows settings and source code on every error page"
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-"):
        unsafe["SECRET_KEY"] = (
            "SECRET_KEY must be at least 50 random characters "  # noqa: S105 (a message)
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if SANDBOX_ENABLED:
        unsafe["SANDBOX_ENABLED"] = (
            "SANDBOX_ENABLED=true serves a fake carrier whose API answers to the portal's "
            "credentials and fakes calls and bills"
        )
    if BENCH_VIEWS_ENABLED:
        unsafe["BENCH_VIEWS_ENABLED"] = "BENCH_VIEWS_ENABLED=true serves benchmark-only views"
    if any(host == "*" or (host.startswith(".") and host.count(".") < 2) for host in ALLOWED_HOSTS):
        unsafe["ALLOWED_HOSTS"] = (
            "ALLOWED_HOSTS=* (or a whole top-level domain such as .com) answers any Host "
            "header, which the portal's absolute links and CSRF checks trust; name its hosts"
        )
    wide_proxies = _wide_proxy_networks(TRUSTED_PROXIES)
    if wide_proxies:
        unsafe["TRUSTED_PROXIES"] = (
            f"TRUSTED_PROXIES holds {', '.join(wide_proxies)}, wider than loopback and private "
            "networks: anyone there could write X-Forwarded-For and pick the address the "
            "sign-in lockout and the audit log see"
        )
    if not SECOND_FACTOR_FOR_OPERATORS:
        unsafe["SECOND_FACTOR_FOR_OPERATORS"] = (
            "SECOND_FACTOR_FOR_OPERATORS=false lets operators (superusers), who see every "
            "company, sign in with a password alone"
        )
    if WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        unsafe["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = (
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true lets companies make the portal POST into "
            "private networks"
        )
    return unsafe


if IS_PRODUCTION:
    _refused = {
        name: why
        for name, why in unsafe_production_settings().items()
        if name not in ALLOW_UNSAFE_SETTINGS
    }
    if _refused:
        raise ImproperlyConfigured(
            "DEPLOYMENT=production refuses to start with unsafe settings: "
            + "; ".join(_refused.values())
            + ". Fix them, or name them in ALLOW_UNSAFE_SETTINGS to start anyway."
        )

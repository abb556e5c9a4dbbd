"""Settings: The database, the cache and the limits on their connections."""

from config.settings.deployment import VAR_DIR, env

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

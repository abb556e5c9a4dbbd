"""Settings are read from the environment; production refuses to start half-configured."""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command

PRODUCTION_ENV = {
    "DEPLOYMENT": "production",
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://portal@db.internal/portal",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "REDIS_URL": "redis://cache.internal:6379/1",
    "ALLOWED_HOSTS": "portal.example.com",
    "PUBLIC_BASE_URL": "https://portal.example.com",
    "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587",
    "DEFAULT_FROM_EMAIL": "DIN Portal <noreply@example.com>",
    "XOXZO_SID": "AC123",
    "XOXZO_AUTH_TOKEN": "real-token-value",
}


def _load_settings(env: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "CELERY"))
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import portal.settings as s; print(s.SECRET_KEY);"
            "print(s.DATABASES['default']['ENGINE']); print(s.CELERY_BROKER_URL);"
            "print(s.SANDBOX_ENABLED); print(s.CACHES['default']['BACKEND'])",
        ],
        env={**clean, "VAR_DIR": str(tmp_path), **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_production_with_a_missing_secret(tmp_path):
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    del env["XOXZO_AUTH_TOKEN"]
    result = _load_settings(env, tmp_path)
    assert result.returncode != 0
    assert "needs these environment variables: SECRET_KEY" in result.stderr


def test_it_starts_production_with_everything_set_and_the_sandbox_off(tmp_path):
    result = _load_settings(PRODUCTION_ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    key, engine, broker, sandbox, cache = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert broker.startswith("redis://") and sandbox == "False" and "RedisCache" in cache
    assert "real-token-value" not in result.stdout + result.stderr.replace(key, "")


def test_it_generates_and_keeps_a_secret_key_in_the_embedded_default(tmp_path):
    first = _load_settings({"SECRET_KEY": ""}, tmp_path)
    second = _load_settings({"SECRET_KEY": ""}, tmp_path)
    assert first.returncode == 0, first.stderr
    key, engine, broker, sandbox, cache = first.stdout.split()
    assert len(key) >= 50 and second.stdout.split()[0] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert engine == "django.db.backends.sqlite3" and broker == "filesystem://"
    assert sandbox == "True" and "LocMemCache" in cache


def test_it_has_a_migration_for_every_model_change(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)

"""Settings are read from the environment; production refuses to start half-configured."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

PRODUCTION_ENV = {
    "DEPLOYMENT": "production",
    "SECRET_KEY": "q7Zp0Lw3-Rk9vT2mXc8Yb4Nf6Hj1Ds5Ga0Ue7Io3Py9Tr2We8Qs",
    "DATABASE_URL": "postgres://portal@db.internal/portal",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "REDIS_URL": "redis://cache.internal:6379/1",
    "ALLOWED_HOSTS": "portal.example.com",
    "PUBLIC_BASE_URL": "https://portal.example.com",
    "PORTAL_BASE_URL": "https://portal.example.com",
    "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587",
    "DEFAULT_FROM_EMAIL": "DIN Portal <noreply@example.com>",
    "XOXZO_SID": "AC123",
    "XOXZO_AUTH_TOKEN": "real-token-value",
}


def _load_settings(env: dict, tmp_path, *, prepare: bool = True) -> subprocess.CompletedProcess:
    """Import the settings in a fresh process, after the start-up step as ``manage.py`` runs it
    (``prepare``), or straight away as a server process imports them."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "CELERY"))
    }
    start = "from config.var import var_prepare; var_prepare();" if prepare else ""
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [
            sys.executable,
            "-c",
            start + "import config.settings as s; print(s.SECRET_KEY or '-');"
            "print(s.DATABASES['default']['ENGINE']); print(s.CELERY_BROKER_URL);"
            "print(s.SANDBOX_ENABLED); print(s.CACHES['default']['BACKEND']);"
            "print(s.XOXZO_SID or '-'); print(s.XOXZO_AUTH_TOKEN or '-')",
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
    _key, engine, broker, sandbox, cache, sid, token = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert broker.startswith("redis://") and sandbox == "False" and "RedisCache" in cache
    assert (sid, token) == ("AC123", "real-token-value")
    # printed above on purpose; nothing else shows it
    assert "real-token-value" not in result.stderr


def test_it_generates_and_keeps_a_secret_key_in_the_embedded_default(tmp_path):
    first = _load_settings({"SECRET_KEY": ""}, tmp_path)
    second = _load_settings({"SECRET_KEY": ""}, tmp_path)
    assert first.returncode == 0, first.stderr
    key, engine, broker, sandbox, cache, _sid, _token = first.stdout.split()
    assert len(key) >= 50 and second.stdout.split()[0] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert engine == "django.db.backends.sqlite3" and broker == "filesystem://"
    assert sandbox == "True" and "LocMemCache" in cache


def test_it_has_a_migration_for_every_model_change(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize(
    "unsafe,why",
    [
        ({"DEBUG": "true"}, "DEBUG=true shows settings"),
        ({"SECRET_KEY": "short-secret"}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY must be at least 50 random characters"),
        ({"SANDBOX_ENABLED": "true"}, "SANDBOX_ENABLED=true serves a fake carrier"),
        ({"BENCH_VIEWS_ENABLED": "true"}, "BENCH_VIEWS_ENABLED=true serves benchmark-only"),
        ({"SECOND_FACTOR_FOR_OPERATORS": "false"}, "SECOND_FACTOR_FOR_OPERATORS=false"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS=*"),
        ({"ALLOWED_HOSTS": "portal.example.com,*"}, "ALLOWED_HOSTS=*"),
        ({"ALLOWED_HOSTS": ".com"}, "ALLOWED_HOSTS=*"),
        ({"TRUSTED_PROXIES": "0.0.0.0/0"}, "TRUSTED_PROXIES holds 0.0.0.0/0"),
        ({"TRUSTED_PROXIES": "::/0"}, "TRUSTED_PROXIES holds ::/0"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8,8.8.8.0/24"}, "TRUSTED_PROXIES holds 8.8.8.0/24"),
        ({"TRUSTED_PROXIES": "10.0.0.0/7"}, "TRUSTED_PROXIES holds 10.0.0.0/7"),
        ({"TRUSTED_PROXIES": "proxy.internal"}, "TRUSTED_PROXIES holds proxy.internal"),
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(tmp_path, unsafe, why):
    result = _load_settings({**PRODUCTION_ENV, **unsafe}, tmp_path)
    assert result.returncode != 0
    assert "refuses to start with unsafe settings" in result.stderr
    assert why in result.stderr
    assert "ALLOW_UNSAFE_SETTINGS" in result.stderr


def test_production_starts_behind_proxies_on_private_networks(tmp_path):
    env = {
        **PRODUCTION_ENV,
        "TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8",
        "ALLOWED_HOSTS": "portal.example.com,.portal.example.com",
    }
    result = _load_settings(env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_production_starts_with_an_unsafe_setting_named_in_the_override(tmp_path):
    env = {**PRODUCTION_ENV, "SANDBOX_ENABLED": "true", "DEBUG": "true"}
    refused = _load_settings({**env, "ALLOW_UNSAFE_SETTINGS": "SANDBOX_ENABLED"}, tmp_path)
    assert refused.returncode != 0 and "DEBUG=true" in refused.stderr
    assert "SANDBOX_ENABLED=true" not in refused.stderr

    started = _load_settings({**env, "ALLOW_UNSAFE_SETTINGS": "SANDBOX_ENABLED,DEBUG"}, tmp_path)
    assert started.returncode == 0, started.stderr


def test_it_gives_each_installation_its_own_sandbox_credentials(tmp_path):
    first_install, second_install = tmp_path / "one", tmp_path / "two"
    first_install.mkdir()
    second_install.mkdir()
    env = {"SECRET_KEY": "", "XOXZO_SID": "", "XOXZO_AUTH_TOKEN": ""}

    first = _load_settings(env, first_install).stdout.split()
    again = _load_settings(env, first_install).stdout.split()
    other = _load_settings(env, second_install).stdout.split()

    sid, token = first[5:7]
    assert len(sid) == 32 and sid.isalnum() and len(token) >= 30
    assert again[5:7] == [sid, token]  # kept in var/, shared by web and worker
    assert other[5:7] != [sid, token]  # random per installation
    assert (first_install / "sandbox_credentials").stat().st_mode & 0o077 == 0
    assert "not-a-secret" not in " ".join(first + other)


def test_it_uses_the_credentials_set_in_the_environment_over_the_generated_ones(tmp_path):
    env = {"XOXZO_SID": "ACREALSID", "XOXZO_AUTH_TOKEN": "real-token"}
    assert _load_settings(env, tmp_path).stdout.split()[5:7] == ["ACREALSID", "real-token"]


def test_importing_the_settings_writes_nothing(tmp_path):
    var = tmp_path / "var"

    result = _load_settings(
        {"SECRET_KEY": "", "XOXZO_SID": "", "XOXZO_AUTH_TOKEN": ""}, var, prepare=False
    )

    assert result.returncode == 0, result.stderr
    assert not var.exists()  # no folder, no secret, no broker queue: the start-up step makes them
    key, _engine, _broker, _sandbox, _cache, sid, token = result.stdout.split()
    assert (key, sid, token) == ("-", "-", "-")  # nothing to sign with until var/ is prepared


def test_the_start_up_step_makes_var_and_its_secrets_once(tmp_path):
    from config.var import SECRETS

    var = tmp_path / "var"
    env = {"SECRET_KEY": "", "XOXZO_SID": "", "XOXZO_AUTH_TOKEN": ""}

    first = _load_settings(env, var).stdout.split()
    files = sorted(p.relative_to(var).as_posix() for p in var.rglob("*"))
    again = _load_settings(env, var).stdout.split()

    assert set(SECRETS) <= set(files)
    assert {"staticfiles", "broker/queue", "broker/processed", "broker/control"} <= set(files)
    assert first == again and first[0] != "-" and len(first[0]) >= 50
    assert sorted(p.relative_to(var).as_posix() for p in var.rglob("*")) == files


def test_importing_the_test_settings_writes_nothing_either(tmp_path):
    run, var = tmp_path / "run", tmp_path / "var"
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "CELERY"))
    }

    result = subprocess.run(
        [sys.executable, "-c", "import testing.settings as s; print(s.MEDIA_ROOT)"],
        env={**clean, "VAR_DIR": str(var), "DINPORTAL_TEST_RUN_DIR": str(run)},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(run / "media")
    assert not run.exists() and not var.exists()


def test_no_setting_is_set_in_two_topics():
    """config/settings/__init__.py reads the topics in any order: none may override another."""
    import ast
    from pathlib import Path

    topics = Path(settings.BASE_DIR, "config", "settings").glob("*.py")
    where: dict[str, list[str]] = {}
    for topic in sorted(topics):
        for node in ast.walk(ast.parse(topic.read_text())):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                            where.setdefault(name.id, []).append(topic.stem)

    assert {name: found for name, found in where.items() if len(set(found)) > 1} == {}

"""The installation's own folder, ``var/`` (``VAR_DIR``): made by a start-up step, never at import.

The embedded default keeps there its SQLite file, the file broker's folders, collected static
files, uploaded media and two secrets generated on first start: the secret key and the sandbox
carrier's account (random per install, so a sandbox reachable by others does not answer to
credentials anyone can read in the docs). ``var_prepare`` makes them; ``manage.py`` runs it
before any command, so ``make run``'s launcher and every process it starts find them. The
settings only read them (``read_secret``): importing them writes nothing.

Production keeps nothing secret here: ``SECRET_KEY`` and the carrier's credentials come from
the environment, and ``var_prepare`` makes only the folders.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
STATIC_FOLDER = "staticfiles"
BROKER_FOLDER = "broker"
BROKER_SUBFOLDERS = ("queue", "processed", "control")


def _secret_key() -> str:
    return secrets.token_urlsafe(50)


def _sandbox_credentials() -> str:
    sid = "SB" + secrets.token_hex(15).upper()  # 32 characters, like a Xoxzo SID
    return f"{sid}\n{secrets.token_urlsafe(24)}\n"


# The secrets an embedded installation makes on first start, by file name.
SECRETS: dict[str, Callable[[], str]] = {
    "secret_key": _secret_key,
    "sandbox_credentials": _sandbox_credentials,
}


def read_environment() -> environ.Env:
    """The environment, with ``.env`` beside manage.py read in (values already set win)."""
    environ.Env.read_env(BASE_DIR / ".env")
    return environ.Env()


def var_dir(env: environ.Env) -> Path:
    return Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def read_secret(var: Path, name: str) -> str:
    """The secret kept in ``var/<name>``, or "" before ``var_prepare`` made it."""
    try:
        return (var / name).read_text().strip()
    except FileNotFoundError:
        return ""


def var_prepare() -> Path:
    """Make ``var/`` and what the settings read from it; safe to run again and at once from
    several processes. Returns the folder."""
    env = read_environment()
    var = var_dir(env)
    var.mkdir(parents=True, exist_ok=True)
    (var / STATIC_FOLDER).mkdir(exist_ok=True)
    if env.str("CELERY_BROKER_URL", default="filesystem://").startswith("filesystem://"):
        for sub in BROKER_SUBFOLDERS:
            (var / BROKER_FOLDER / sub).mkdir(parents=True, exist_ok=True)
    if env.str("DEPLOYMENT", default="embedded") != "production":
        for name, make in SECRETS.items():
            _install_secret(var / name, make)
    return var


def _install_secret(path: Path, make: Callable[[], str]) -> None:
    """Written to a private temporary file and hard-linked into place, so a process that
    starts at the same moment either wins the link or finds a complete file."""
    if path.exists():
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(make())
    temporary.chmod(0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()

"""TTS scripts: the texts the carrier reads aloud, and their spoken preview (espeak-ng)."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from callflows.assets.library import (
    ESPEAK,
    TTS_PREVIEW_TIMEOUT_SECONDS,
    duplicate_name_message,
    refuse_delete_while_used,
    refuse_duplicate_name,
    refuse_when_library_full,
    republish_flows_of,
)
from callflows.assets.selectors import SCRIPT, asset_users
from callflows.grammar import MAX_SAY_LENGTH, UnsayableText, say_text_clean
from callflows.models import TtsScript
from portal.names import name_key
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError, audit_record

# --- TTS scripts ----------------------------------------------------------------------------


def script_text_clean(text: str) -> str:
    """The text as the carrier will read it (``say_text_clean``), or ``ServiceError`` why not."""
    try:
        return say_text_clean(text)
    except UnsayableText as error:
        reason = str(error)
    if reason == "empty":
        message = _("Write the text callers should hear.")
    elif reason.startswith("control character"):
        # "control character U+0007 at 12", from callflows.grammar
        code_point, _at, position = reason.removeprefix("control character ").partition(" at ")
        message = _(
            "The text contains an invisible control character (%(code_point)s) at position "
            "%(position)s; delete it (it often comes with copied text)."
        ) % {"code_point": code_point, "position": position}
    elif "characters" in reason:
        length = reason.split()[0]
        message = _(
            "The text has %(length)s characters; the carrier reads at most %(limit)d. Shorten it."
        ) % {"length": length, "limit": MAX_SAY_LENGTH}
    else:
        message = _("This text cannot be read aloud: %(why)s") % {"why": reason}
    raise ServiceError(message)


def _script_values(script: TtsScript) -> dict:
    return {"name": script.name, "language": script.language, "text": script.text}


def script_create(*, name: str, language: str, text: str, request) -> TtsScript:
    text = script_text_clean(text)
    refuse_when_library_full(SCRIPT)
    refuse_duplicate_name(SCRIPT, name)
    try:
        with transaction.atomic():
            script = TtsScript.objects.create(
                tenant=current_tenant(),
                name=name,
                name_key=name_key(name),
                language=language,
                text=text,
            )
            audit_record(
                action="ttsscript.create", obj=script, request=request, after=_script_values(script)
            )
    except IntegrityError:  # the same name saved by someone else in the same instant
        raise ServiceError(duplicate_name_message(SCRIPT, name)) from None
    return script


def script_update(*, script: TtsScript, name: str, language: str, text: str, request) -> TtsScript:
    text = script_text_clean(text)
    before = _script_values(script)
    after = {"name": name, "language": language, "text": text}
    if after == before:
        return script
    refuse_duplicate_name(SCRIPT, name, instead_of=script)
    with transaction.atomic():
        script.name, script.language, script.text = name, language, text
        script.name_key = name_key(name)
        script.save(update_fields=["name", "name_key", "language", "text", "updated_at"])
        audit_record(
            action="ttsscript.update", obj=script, request=request, before=before, after=after
        )
        republish_flows_of(asset_users(kind=SCRIPT, code=script.code, live_only=False))
        _forget_preview_on_commit(language=before["language"], text=before["text"])
    return script


def script_delete(*, script: TtsScript, request) -> None:
    refuse_delete_while_used(kind=SCRIPT, asset=script, label=script.name)
    with transaction.atomic():
        republish_flows_of(asset_users(kind=SCRIPT, code=script.code, live_only=False))
        audit_record(
            action="ttsscript.delete", obj=script, request=request, before=_script_values(script)
        )
        _forget_preview_on_commit(language=script.language, text=script.text)
        script.delete()


# --- TTS preview (espeak-ng) ----------------------------------------------------------------


class PreviewUnavailable(Exception):
    """No preview can be rendered here; the message says why, for the user."""


def _preview_cache_dir() -> Path:
    # Under MEDIA_ROOT, which no URL serves: previews reach members through an authenticated view.
    return Path(settings.MEDIA_ROOT) / "tts-cache"


def script_preview_path(*, language: str, text: str) -> Path:
    """Where the preview of ``text`` in ``language`` is cached (it may not exist yet)."""
    digest = hashlib.sha256(f"{language}{text}".encode()).hexdigest()
    return _preview_cache_dir() / f"{digest}.wav"


def preview_available() -> bool:
    return shutil.which(ESPEAK) is not None


def script_preview_render(*, script: TtsScript) -> Path:
    """The path of a WAV file speaking the script (rendered once, then cached on disk).

    espeak-ng only approximates the carrier's voice; it is a preview of the words and their
    pace. Raises ``PreviewUnavailable`` when espeak-ng is missing, fails or takes too long.
    """
    path = script_preview_path(language=script.language, text=script.text)
    if path.exists():
        return path
    executable = shutil.which(ESPEAK)
    if executable is None:
        raise PreviewUnavailable(
            _("Preview unavailable: the speech engine (espeak-ng) is not installed on the server.")
        )
    timeout = getattr(settings, "TTS_PREVIEW_TIMEOUT_SECONDS", TTS_PREVIEW_TIMEOUT_SECONDS)
    # The text goes through stdin, never argv: a text starting with "-" is not an option.
    command = [executable, "-v", script.language, "-b", "1", "--stdin", "--stdout"]
    try:
        completed = subprocess.run(  # noqa: S603 (fixed argv, text on stdin)
            command,
            input=script.text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PreviewUnavailable(
            _("Preview unavailable: the speech engine took longer than %(seconds)s seconds.")
            % {"seconds": timeout}
        ) from None
    except OSError:
        raise PreviewUnavailable(
            _("Preview unavailable: the speech engine could not start.")
        ) from None
    try:
        if completed.returncode != 0:
            raise ValueError(completed.returncode)
        wav = _fix_streamed_wav(completed.stdout)
    except ValueError:
        raise PreviewUnavailable(_("Preview unavailable: the speech engine failed.")) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: two members listening at once never read half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        file.write(wav)
    os.replace(temporary, path)
    return path


def _fix_streamed_wav(data: bytes) -> bytes:
    """``data`` with true RIFF and data sizes.

    espeak-ng writing to a pipe cannot seek back, so its header claims ~2 GB of audio; browsers
    then show a wrong duration or refuse to seek.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (chunk_size,) = struct.unpack_from("<I", data, offset + 4)
        if chunk_id == b"data":
            fixed = bytearray(data)
            struct.pack_into("<I", fixed, 4, len(data) - 8)
            struct.pack_into("<I", fixed, offset + 4, len(data) - offset - 8)
            return bytes(fixed)
        offset += 8 + chunk_size + (chunk_size & 1)
    raise ValueError("no data chunk")


def _forget_preview_on_commit(*, language: str, text: str) -> None:
    """Drop a cached preview no script speaks any more (the cache would grow with every edit)."""
    path = script_preview_path(language=language, text=text)

    def forget():
        # The cache is shared by all tenants (same words, same audio): ask across them.
        with scopes_disabled():
            still_spoken = TtsScript.objects.filter(language=language, text=text).exists()
        if not still_spoken:
            path.unlink(missing_ok=True)

    transaction.on_commit(forget)

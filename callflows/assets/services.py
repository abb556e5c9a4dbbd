"""Write side of the call-flow assets: MP3s, TTS scripts, caller lists and closed dates.

Every change is audited in the same transaction and, on commit, invalidates the compiled flows
of the numbers that use the asset (``callflows.flows.publishing``): a flow is compiled with the
asset's URL, text or numbers baked in, so an edit reaches callers only through that.
An asset a live number's flow still uses cannot be deleted; the message names the numbers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callflows.assets import mpeg
from callflows.assets.selectors import AUDIO, CALLER_LIST, SCRIPT, asset_users, flows_of_tenant
from callflows.flows.publishing import flows_publish
from callflows.grammar import MAX_SAY_LENGTH, UnsayableText, say_text_clean
from callflows.models import AudioFile, CallerList, ClosedDate, TtsScript
from dins.models import Subscription
from dins.phone import display
from dins.phone import parse_or_none as phone_parse_or_none
from portal.scoping import current_tenant, scopes_disabled
from portal.services import ServiceError, audit_record

# [choice] Xoxzo publishes no limits (XOXZO.md). 10 MB is ~40 min at 32 kbit/s; 10 minutes is
# far longer than any greeting a caller sits through. Overridable in settings for deployments
# (and tests) as AUDIO_MAX_BYTES / AUDIO_MAX_SECONDS.
AUDIO_MAX_BYTES = 10 * 1024 * 1024
AUDIO_MAX_SECONDS = 10 * 60
MAX_CALLER_LIST_NUMBERS = 2000  # every number is compiled into the flow the action URL caches
# The text of a list at its limit, generously: 2,000 lines of a formatted number and a note.
MAX_CALLER_LIST_CHARACTERS = MAX_CALLER_LIST_NUMBERS * 40
# The form lists this many bad lines; a paste of 40,000 wrong lines does not become a page of
# 40,000 messages.
MAX_LINE_ERRORS_SHOWN = 20
# [choice] Per company. Every asset is offered in each rule of the call-flow editor and every
# MP3 is kept on disk: a library without a bound is a page and a disk without a bound.
LIBRARY_LIMITS = {AUDIO: 200, SCRIPT: 200, CALLER_LIST: 50}
# Closed dates are compiled into every flow; planning further ahead than this is not needed.
CLOSED_DATE_MAX_DAYS_AHEAD = 2 * 366
ESPEAK = "espeak-ng"
TTS_PREVIEW_TIMEOUT_SECONDS = 10


def audio_limits() -> tuple[int, float]:
    """(bytes, seconds): read at call time so settings overrides apply."""
    return (
        getattr(settings, "AUDIO_MAX_BYTES", AUDIO_MAX_BYTES),
        getattr(settings, "AUDIO_MAX_SECONDS", AUDIO_MAX_SECONDS),
    )


def library_limit(kind: str) -> int:
    return LIBRARY_LIMITS[kind]


def _refuse_when_library_full(kind: str) -> None:
    model = {AUDIO: AudioFile, SCRIPT: TtsScript, CALLER_LIST: CallerList}[kind]
    # Checked without a lock: two uploads in the same instant may pass one over the limit,
    # which bounds the library just as well.
    count = model.objects.count()
    if count >= LIBRARY_LIMITS[kind]:
        messages = {
            AUDIO: _(
                "Your company keeps %(count)d recordings, the most allowed. "
                "Delete one it no longer uses first."
            ),
            SCRIPT: _(
                "Your company keeps %(count)d spoken texts, the most allowed. "
                "Delete one it no longer uses first."
            ),
            CALLER_LIST: _(
                "Your company keeps %(count)d caller lists, the most allowed. "
                "Delete one it no longer uses first."
            ),
        }
        raise ServiceError(messages[kind] % {"count": count})


def _republish_flows_of(subscriptions: Iterable[Subscription]) -> None:
    """Publish these numbers' flows again, in this transaction: the asset is baked in."""
    flows_publish(
        subscriptions={subscription.pk: subscription for subscription in subscriptions}.values()
    )


def _numbers_text(subscriptions: list[Subscription]) -> str:
    return ", ".join(display(subscription.e164) for subscription in subscriptions)


def _refuse_delete_while_used(*, kind: str, asset, label: str) -> None:
    users = asset_users(kind=kind, code=asset.code)
    if users:
        raise ServiceError(
            ngettext(
                "“%(label)s” cannot be deleted: the call flow of %(numbers)s uses it. "
                "Change that flow first.",
                "“%(label)s” cannot be deleted: the call flows of %(numbers)s use it. "
                "Change those flows first.",
                len(users),
            )
            % {"label": label, "numbers": _numbers_text(users)}
        )


# --- MP3 inspection -------------------------------------------------------------------------


class AudioRejected(ServiceError):
    """The upload is not an MP3 the carrier can play, or breaks a limit; the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    duration_seconds: float
    bitrate: int  # bit/s
    sample_rate: int  # Hz


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _rejection_message(error: mpeg.MediaError) -> str:
    """What went wrong with the file, in the uploader's language (``mpeg`` says it in English)."""
    params = error.params
    messages = {
        "empty": _("The file is empty."),
        "other_format": _("This is a %(format)s file renamed to .mp3; export it as MP3."),
        "id3_only": _(
            "The file holds only an ID3 tag (title, artist…) and no audio; export it again."
        ),
        "id3_corrupt": _("The file starts with a corrupt ID3 tag; export it again."),
        "text": _("This is a text file, not MP3 audio."),
        "not_layer3": _(
            "This is MPEG Layer %(layer)s audio, not MP3 (Layer III); export it as MP3."
        ),
        "no_frames": _("This is not MP3 audio: no MPEG audio frame starts at byte %(offset)d."),
        "truncated": _("The file is cut off inside its first MPEG frame."),
        "breaks_off": ngettext(
            "The audio breaks off after %(count)d MPEG frame, at byte %(offset)d, and "
            "%(rest)s of other data follow: the file is corrupt or hides something else. "
            "Export it again as MP3.",
            "The audio breaks off after %(count)d MPEG frames, at byte %(offset)d, and "
            "%(rest)s of other data follow: the file is corrupt or hides something else. "
            "Export it again as MP3.",
            params.get("count", 0),
        ),
        "mixed": _(
            "The audio changes format at byte %(offset)d: these are two recordings joined "
            "together. Export it again as one MP3."
        ),
        "metadata_too_large": _(
            "The file's tags (title, cover art…) take %(size)s; at most %(limit)s is allowed. "
            "Remove the cover art or export it again without tags."
        ),
        "tag_corrupt": _("The tags at the end of the file are corrupt; export it again."),
        "ambiguous": _("The file is corrupt: its MPEG frames contradict each other."),
        "unreadable": _("The file cannot be read as MP3 audio (%(why)s)."),
    }
    message = messages.get(error.code)
    if message is None:
        return _("This is not MP3 audio.")
    shown = dict(params)
    for key in ("rest", "size", "limit"):
        if key in shown:
            shown[key] = filesizeformat(shown[key])
    return message % shown


def audio_inspect(data: bytes) -> AudioInfo:
    """Check that ``data`` is MP3 audio within the limits and measure it, or ``AudioRejected``.

    The bytes are checked by ``callflows.assets.mpeg``, to the last byte.
    """
    max_bytes, max_seconds = audio_limits()
    if len(data) > max_bytes:
        raise AudioRejected(audio_too_big_message(len(data), max_bytes))
    try:
        info = mpeg.inspect_mp3(data)
    except mpeg.MediaError as error:
        raise AudioRejected(_rejection_message(error)) from None
    if info.duration_seconds > max_seconds:
        raise AudioRejected(
            _("The recording lasts %(duration)s; at most %(limit)s is allowed. Shorten it.")
            % {"duration": _minutes(info.duration_seconds), "limit": _minutes(max_seconds)}
        )
    return AudioInfo(
        duration_seconds=info.duration_seconds,
        bitrate=info.bitrate,
        sample_rate=info.sample_rate,
    )


def audio_too_big_message(size: int, limit: int) -> str:
    return _(
        "The file is %(size)s; at most %(limit)s is allowed. "
        "Shorten it or export it at a lower bitrate."
    ) % {"size": filesizeformat(size), "limit": filesizeformat(limit)}


# --- MP3 library ----------------------------------------------------------------------------


def _audio_values(audio: AudioFile) -> dict:
    return {
        "label": audio.label,
        "file": audio.original_name,
        "size_bytes": audio.size_bytes,
        "duration_seconds": audio.duration_seconds,
    }


def audio_create(*, label: str, upload, request) -> AudioFile:
    """Store an uploaded MP3 after checking it (``AudioRejected`` says why not)."""
    max_bytes, _seconds = audio_limits()
    if upload.size > max_bytes:  # before reading it into memory
        raise AudioRejected(audio_too_big_message(upload.size, max_bytes))
    _refuse_when_library_full(AUDIO)
    data = b"".join(upload.chunks())
    info = audio_inspect(data)
    audio = AudioFile(
        tenant=current_tenant(),
        label=label,
        original_name=os.path.basename(upload.name or "")[:200],
        size_bytes=len(data),
        duration_seconds=info.duration_seconds,
        bitrate=info.bitrate,
        sample_rate=info.sample_rate,
        uploaded_by=request.user,
    )
    # upload_to names the file after the unguessable public_id; the given name is ignored.
    audio.file.save(f"{audio.public_id}.mp3", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            audio.save()
            audit_record(
                action="audio.create", obj=audio, request=request, after=_audio_values(audio)
            )
    except BaseException:
        audio.file.storage.delete(audio.file.name)
        raise
    return audio


def audio_update(*, audio: AudioFile, label: str, request) -> AudioFile:
    before = _audio_values(audio)
    if label == audio.label:
        return audio
    with transaction.atomic():
        audio.label = label
        audio.save(update_fields=["label", "updated_at"])
        audit_record(
            action="audio.update",
            obj=audio,
            request=request,
            before=before,
            after=_audio_values(audio),
        )
        _republish_flows_of(asset_users(kind=AUDIO, code=audio.code, live_only=False))
    return audio


def audio_delete(*, audio: AudioFile, request) -> None:
    """Delete the row, and its file once the deletion is committed."""
    _refuse_delete_while_used(kind=AUDIO, asset=audio, label=audio.label)
    storage, name = audio.file.storage, audio.file.name
    with transaction.atomic():
        # Released numbers' flows may still name it: they recompile to the fallback.
        _republish_flows_of(asset_users(kind=AUDIO, code=audio.code, live_only=False))
        audit_record(action="audio.delete", obj=audio, request=request, before=_audio_values(audio))
        audio.delete()
        transaction.on_commit(lambda: storage.delete(name))


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
    _refuse_when_library_full(SCRIPT)
    with transaction.atomic():
        script = TtsScript.objects.create(
            tenant=current_tenant(), name=name, language=language, text=text
        )
        audit_record(
            action="ttsscript.create", obj=script, request=request, after=_script_values(script)
        )
    return script


def script_update(*, script: TtsScript, name: str, language: str, text: str, request) -> TtsScript:
    text = script_text_clean(text)
    before = _script_values(script)
    after = {"name": name, "language": language, "text": text}
    if after == before:
        return script
    with transaction.atomic():
        script.name, script.language, script.text = name, language, text
        script.save(update_fields=["name", "language", "text", "updated_at"])
        audit_record(
            action="ttsscript.update", obj=script, request=request, before=before, after=after
        )
        _republish_flows_of(asset_users(kind=SCRIPT, code=script.code, live_only=False))
        _forget_preview_on_commit(language=before["language"], text=before["text"])
    return script


def script_delete(*, script: TtsScript, request) -> None:
    _refuse_delete_while_used(kind=SCRIPT, asset=script, label=script.name)
    with transaction.atomic():
        _republish_flows_of(asset_users(kind=SCRIPT, code=script.code, live_only=False))
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


# --- Caller lists ---------------------------------------------------------------------------


class CallerNumbersInvalid(ServiceError):
    """Some lines are not phone numbers; ``messages`` has one message per bad line."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def caller_numbers_parse(text: str) -> list[str]:
    """The numbers of ``text`` (one a line) in E.164, in order, without duplicates.

    A number without a country code is read as Japanese (090-1234-5678, 03 1234 5678); others
    start with "+". Blank lines are skipped; bad lines are reported by their line number (the
    first ``MAX_LINE_ERRORS_SHOWN``, then how many more). Linear in the length of the text, and
    a text of more than ``MAX_CALLER_LIST_NUMBERS`` lines is refused before any is parsed.
    """
    if len(text) > MAX_CALLER_LIST_CHARACTERS:
        raise CallerNumbersInvalid(
            [
                _("The text has %(count)d characters; a list holds at most %(limit)d.")
                % {"count": len(text), "limit": MAX_CALLER_LIST_CHARACTERS}
            ]
        )
    entries = [
        (line_number, line.strip())
        for line_number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if len(entries) > MAX_CALLER_LIST_NUMBERS:
        raise CallerNumbersInvalid(
            [
                _(
                    "The list has %(count)d lines; at most %(limit)d numbers are allowed. "
                    "Split it into several lists."
                )
                % {"count": len(entries), "limit": MAX_CALLER_LIST_NUMBERS}
            ]
        )
    numbers: dict[str, None] = {}  # insertion-ordered: first occurrence wins, O(1) per line
    errors: list[str] = []
    bad_lines = 0
    for line_number, entry in entries:
        number = phone_parse_or_none(entry)  # any common written form (dins.phone)
        if number is None:
            bad_lines += 1
            if len(errors) < MAX_LINE_ERRORS_SHOWN:
                shown = entry if len(entry) <= 40 else entry[:40] + "…"
                errors.append(
                    # The form's help text explains the accepted formats once, not every line.
                    _("Line %(line)d: “%(entry)s” is not a valid phone number.")
                    % {"line": line_number, "entry": shown}
                )
            continue
        numbers[number] = None
    if bad_lines > len(errors):
        errors.append(
            ngettext(
                "…and %(count)d more line is not a phone number.",
                "…and %(count)d more lines are not phone numbers.",
                bad_lines - len(errors),
            )
            % {"count": bad_lines - len(errors)}
        )
    if errors:
        raise CallerNumbersInvalid(errors)
    return list(numbers)


def _caller_list_values(caller_list: CallerList) -> dict:
    return {"name": caller_list.name, "numbers": list(caller_list.numbers)}


def caller_list_create(*, name: str, numbers: list[str], request) -> CallerList:
    _refuse_when_library_full(CALLER_LIST)
    with transaction.atomic():
        caller_list = CallerList.objects.create(tenant=current_tenant(), name=name, numbers=numbers)
        audit_record(
            action="callerlist.create",
            obj=caller_list,
            request=request,
            after=_caller_list_values(caller_list),
        )
    return caller_list


def caller_list_update(
    *, caller_list: CallerList, name: str, numbers: list[str], request
) -> CallerList:
    before = _caller_list_values(caller_list)
    after = {"name": name, "numbers": list(numbers)}
    if after == before:
        return caller_list
    with transaction.atomic():
        caller_list.name, caller_list.numbers = name, list(numbers)
        caller_list.save(update_fields=["name", "numbers", "updated_at"])
        audit_record(
            action="callerlist.update", obj=caller_list, request=request, before=before, after=after
        )
        _republish_flows_of(asset_users(kind=CALLER_LIST, code=caller_list.code, live_only=False))
    return caller_list


def caller_list_delete(*, caller_list: CallerList, request) -> None:
    _refuse_delete_while_used(kind=CALLER_LIST, asset=caller_list, label=caller_list.name)
    with transaction.atomic():
        _republish_flows_of(asset_users(kind=CALLER_LIST, code=caller_list.code, live_only=False))
        audit_record(
            action="callerlist.delete",
            obj=caller_list,
            request=request,
            before=_caller_list_values(caller_list),
        )
        caller_list.delete()


# --- Closed dates ---------------------------------------------------------------------------


def closed_date_horizon(today=None):
    """The last date a closed date may be set on (``CLOSED_DATE_MAX_DAYS_AHEAD`` from today)."""
    return (today or timezone.localdate()) + timedelta(days=CLOSED_DATE_MAX_DAYS_AHEAD)


def _republish_all_flows() -> None:
    # Closed dates are compiled into every flow's "holiday" rule; a number without a flow of its
    # own answers the default document, which has none.
    _republish_flows_of(flow.subscription for flow in flows_of_tenant())


MAX_CLOSED_DAYS = 366  # a range of closed days, at most (every day is compiled into flows)


def closed_date_create(*, date, note: str, request, end_date=None) -> ClosedDate:
    """Close the company on ``date``, or from ``date`` to ``end_date`` (both included)."""
    if end_date == date:
        end_date = None
    last = end_date or date
    shown = (
        _("%(first)s to %(last)s") % {"first": date.isoformat(), "last": last.isoformat()}
        if end_date
        else date.isoformat()
    )
    if end_date is not None and end_date < date:
        raise ServiceError(_("The last day is before the first day."))
    today = timezone.localdate()
    if last < today:
        raise ServiceError(_("%(date)s is in the past.") % {"date": shown})
    if last > closed_date_horizon(today):
        raise ServiceError(
            _("%(date)s is too far ahead: closed dates can be set up to %(max)s.")
            % {"date": last.isoformat(), "max": closed_date_horizon(today).isoformat()}
        )
    if (last - date).days + 1 > MAX_CLOSED_DAYS:
        raise ServiceError(
            _("A closed period lasts at most %(days)d days.") % {"days": MAX_CLOSED_DAYS}
        )
    overlapping = (
        ClosedDate.objects.filter(date__lte=last)
        .filter(Q(end_date__gte=date) | Q(end_date__isnull=True, date__gte=date))
        .first()
    )
    already = _("%(date)s is already a closed date.")
    if overlapping is not None:
        if overlapping.date == date and not end_date and not overlapping.end_date:
            raise ServiceError(already % {"date": date.isoformat()})
        raise ServiceError(
            _("This overlaps closed dates already set: %(dates)s.")
            % {"dates": str(overlapping).strip()}
        )
    try:
        with transaction.atomic():
            closed_date = ClosedDate.objects.create(
                tenant=current_tenant(), date=date, end_date=end_date, note=note
            )
            audit_record(
                action="closeddate.create",
                obj=closed_date,
                request=request,
                after={
                    "date": date.isoformat(),
                    **({"end": end_date.isoformat()} if end_date else {}),
                    "note": note,
                },
            )
            _republish_all_flows()
    except IntegrityError:  # added by someone else in the same instant
        raise ServiceError(already % {"date": date.isoformat()}) from None
    return closed_date


def closed_date_delete(*, closed_date: ClosedDate, request) -> None:
    with transaction.atomic():
        audit_record(
            action="closeddate.delete",
            obj=closed_date,
            request=request,
            before={
                "date": closed_date.date.isoformat(),
                **({"end": closed_date.end_date.isoformat()} if closed_date.end_date else {}),
                "note": closed_date.note,
            },
        )
        closed_date.delete()
        _republish_all_flows()

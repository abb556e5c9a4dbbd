"""Call-flow answers in people's words: 「営業時間の挨拶」を再生, 050-1234-5678 に転送.

The carrier hears one raw line (``playback https://…/x.mp3``, ``say ja "…"``); people read what
it means. ``describe_command`` turns a line (as logged or previewed) back into words, naming the
MP3 or script it came from; ``rule_name`` names the rule that answered, including the portal's
own answers ("default", "override", "fallback").

Lines are matched to the library in two queries for a whole page of calls (``CommandNames``),
never one per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from callflows.models import AudioFile, TtsScript
from portal.phone import display

_PLAYBACK = re.compile(r"^playback (\S+)$")
_SAY = re.compile(r'^say (ja|en) "((?:[^"\\]|\\.)*)"$')
_TRANSFER = re.compile(r"^transfer (\+?[0-9]+)$")
_VOICEMAIL = re.compile(r"^voicemail(?: (.+))?$")
_PUBLIC_AUDIO = re.compile(r"/media/audio/([A-Za-z0-9_-]+)\.mp3$")
_NUMBERED_RULE = re.compile(r"^#([0-9]+)$")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)  # undo the renderer's \" and \\


@dataclass
class CommandNames:
    """Library names for the MP3s and scripts some answer lines play."""

    audio: dict[str, str] = field(default_factory=dict)  # public_id → label
    scripts: dict[tuple[str, str], str] = field(default_factory=dict)  # (lang, text) → name


def command_names_for(commands: Iterable[str]) -> CommandNames:
    """Names of what ``commands`` play, from the active tenant's library (two queries at most)."""
    public_ids, texts = set(), set()
    for command in commands:
        for part in _parts(command or ""):
            audio = _PLAYBACK.match(part)
            if audio:
                found = _PUBLIC_AUDIO.search(audio[1])
                if found:
                    public_ids.add(found[1])
            said = _SAY.match(part)
            if said:
                texts.add(_unquote(said[2]))
    names = CommandNames()
    if public_ids:
        names.audio = dict(
            AudioFile.objects.filter(public_id__in=public_ids).values_list("public_id", "label")
        )
    if texts:
        for language, text, name in TtsScript.objects.filter(text__in=texts).values_list(
            "language", "text", "name"
        ):
            names.scripts[(language, text)] = name
    return names


def _parts(command: str) -> list[str]:
    voicemail = _VOICEMAIL.match(command)
    if voicemail and voicemail[1]:
        return [command, voicemail[1]]
    return [command]


def _describe_greeting(line: str, names: CommandNames) -> str:
    audio = _PLAYBACK.match(line)
    if audio:
        found = _PUBLIC_AUDIO.search(audio[1])
        label = names.audio.get(found[1]) if found else None
        if label:
            return _("Play “%(name)s”") % {"name": label}
        return _("Play a recording")
    said = _SAY.match(line)
    if said:
        text = _unquote(said[2])
        name = names.scripts.get((said[1], text))
        if name:
            return _("Read “%(name)s” aloud") % {"name": name}
        shown = text if len(text) <= 30 else text[:30] + "…"
        return _("Read “%(text)s” aloud") % {"text": shown}
    return line


def describe_command(command: str, names: CommandNames | None = None) -> str:
    """One answer line in words, e.g. "Play “Welcome” then take a voicemail"."""
    names = names if names is not None else command_names_for([command])
    command = (command or "").strip()
    if command.startswith(("playback ", "say ")):
        return _describe_greeting(command, names)
    transfer = _TRANSFER.match(command)
    if transfer:
        return _("Transfer to %(number)s") % {"number": display(transfer[1])}
    voicemail = _VOICEMAIL.match(command)
    if voicemail:
        if voicemail[1]:
            return _("%(greeting)s, then take a voicemail") % {
                "greeting": _describe_greeting(voicemail[1], names)
            }
        return _("Take a voicemail")
    return command


def rule_name(label: str) -> str:
    """The name of the rule that answered, as logged or previewed, in the reader's language."""
    if label == "default":
        return _("Otherwise (default)")
    if label == "override":
        return _("Override")
    if label == "fallback":
        return _("Fallback answer")
    numbered = _NUMBERED_RULE.match(label or "")
    if numbered:
        return _("Rule %(number)s") % {"number": numbered[1]}
    return label or "—"


def annotate_calls(calls) -> list:
    """Set ``words`` (what the caller heard) and ``rule_words`` on each call-log row."""
    calls = list(calls)
    names = command_names_for(call.command for call in calls)
    for call in calls:
        call.words = describe_command(call.command, names)
        call.rule_words = rule_name(call.rule)
    return calls

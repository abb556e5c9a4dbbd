"""A test call's transcript in people's words (the raw transcript stays behind a toggle).

The sandbox carrier describes each step of a simulated call in its own technical English
(``sandbox.incoming.Transcript``); the number's page tells the same story in the reader's
language: who called, what the portal answered, what the caller heard, how it ended.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from callflows.flows.words import command_names_for, describe_command
from dins.templatetags.din_format import duration
from portal.phone import display


def _who(caller: str) -> str:
    return display(caller) if caller else _("a caller who withholds their number")


def transcript_in_words(transcript: dict) -> dict:
    """{"title", "lines": [{"text", "ok"}], "outcome", "ok"} for a transcript dict."""
    steps = transcript.get("steps") or []
    answers = [step.get("detail", "") for step in steps if step.get("kind") == "answer"]
    names = command_names_for(answers)
    lines = []
    for step in steps:
        kind, ok, seconds = step.get("kind"), step.get("ok", False), step.get("audio_seconds")
        detail = step.get("detail", "")
        if kind == "request":
            text = (
                _("The carrier asked the portal what to do.")
                if ok
                else _("The carrier could not get an answer from the portal.")
            )
        elif kind == "answer":
            text = (
                _("The portal answered: %(words)s.") % {"words": describe_command(detail, names)}
                if ok
                else _("The portal's answer could not be understood by the carrier.")
            )
        elif kind in ("playback", "greeting"):
            text = (
                _("The caller heard the recording (%(duration)s).")
                % {"duration": duration(seconds)}
                if ok
                else _("The recording could not be played.")
            )
        elif kind == "say":
            text = _("The caller heard the text read aloud (%(duration)s).") % {
                "duration": duration(seconds)
            }
        elif kind == "transfer":
            text = (
                _("The call was transferred.")
                if ok
                else _("The transfer failed (the call would loop or go too deep).")
            )
        elif kind == "recording":
            text = _("The caller left a message (%(duration)s).") % {"duration": duration(seconds)}
        else:
            text = kind or "—"
        lines.append({"text": text, "ok": ok})
    outcome = transcript.get("outcome", "failed")
    if outcome == "completed":
        ending = _("The call ended after the message.")
    elif outcome == "voicemail":
        ending = _("The call ended in voicemail.")
    elif outcome == "transferred":
        ending = _("The call was put through to %(number)s.") % {
            "number": display(transcript.get("transferred_to") or "")
        }
    else:
        ending = _("The call failed.")
    return {
        "title": _("Call from %(caller)s to %(number)s")
        % {
            "caller": _who(transcript.get("caller", "")),
            "number": display(transcript.get("recipient", "")),
        },
        "lines": lines,
        "outcome": ending,
        "ok": outcome != "failed",
        "billed_minutes": (transcript.get("billed_seconds") or 0) // 60,
    }

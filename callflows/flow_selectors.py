"""Reading call flows for people: plain-language descriptions, history diffs, previews."""

from __future__ import annotations

import difflib
import re
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from callflows.compiler import DEFAULT_DOCUMENT, flow_compile
from callflows.flow import Answer, evaluate
from callflows.flow_forms import WEEKDAYS
from callflows.models import AudioFile, CallerList, CallFlow, FlowVersion, TtsScript
from dins.models import Subscription


def flow_for_number(subscription: Subscription) -> CallFlow | None:
    return CallFlow.objects.filter(subscription=subscription).first()


def _names() -> dict[str, str]:
    names = {}
    for model in (AudioFile, TtsScript, CallerList):
        names.update({str(code): str(name) for code, name in _labels(model)})
    return names


def _labels(model):
    field = "label" if model is AudioFile else "name"
    return model.objects.values_list("code", field)


def _describe_action(action: dict, names: dict) -> str:
    kind = action["type"]
    if kind == "playback":
        return _("play MP3 “%(name)s”") % {"name": names.get(action["audio"], "?")}
    if kind == "say":
        return _("read script “%(name)s”") % {"name": names.get(action["script"], "?")}
    if kind == "transfer":
        return _("transfer to %(number)s") % {"number": action["number"]}
    greeting = action.get("greeting")
    if greeting:
        return _("take a voicemail after: %(greeting)s") % {
            "greeting": _describe_action(greeting, names)
        }
    return _("take a voicemail")


def _describe_when(when: dict, names: dict) -> str:
    kind = when["type"]
    if kind == "hours":
        days = ", ".join(str(label) for value, label in WEEKDAYS if value in when["weekdays"])
        return _("%(days)s %(start)s to %(end)s") % {
            "days": days,
            "start": when["start"],
            "end": when["end"],
        }
    if kind == "holiday":
        return _("on public holidays and closed dates")
    if kind == "anonymous":
        return _("when the caller withholds their number")
    if kind == "caller_list":
        return _("when the caller is in “%(name)s”") % {"name": names.get(when["list"], "?")}
    return _("always")


def flow_describe(document: dict, names: dict | None = None) -> list[str]:
    """One line per rule, then the default: what staff read in history and previews."""
    names = _names() if names is None else names
    lines = [
        f"{index}. {rule.get('label') or '—'}: {_describe_when(rule['when'], names)} → "
        f"{_describe_action(rule['then'], names)}"
        for index, rule in enumerate(document.get("rules", []), start=1)
    ]
    lines.append(
        _("Otherwise: %(action)s") % {"action": _describe_action(document["default"], names)}
    )
    return lines


def flow_history(flow: CallFlow) -> list[dict]:
    """Versions newest first, each with the lines it changed against the one before."""
    names = _names()
    versions = list(FlowVersion.objects.filter(flow=flow).select_related("created_by"))
    history = []
    for index, version in enumerate(versions):
        previous = versions[index + 1].document if index + 1 < len(versions) else None
        before = flow_describe(previous, names) if previous else []
        after = flow_describe(version.document, names)
        diff = [
            line
            for line in difflib.unified_diff(before, after, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        history.append({"version": version, "diff": diff, "is_current": index == 0})
    return history


def flow_preview(subscription: Subscription, *, at: datetime, caller: str) -> Answer:
    """What a caller would hear at ``at``: compiled as publishing compiles (holidays around
    that day) and evaluated by the same function as a real call."""
    flow = flow_for_number(subscription)
    override = None
    if flow and flow.override_document and flow.override_until:
        override = (flow.override_document, flow.override_until)
    compiled = flow_compile(
        flow.document if flow else DEFAULT_DOCUMENT,
        tenant=subscription.tenant,
        own_number=subscription.e164,
        override=override,
        around=timezone.localdate(at, timezone=subscription.tenant.zone),
        problems=[],
    )
    return evaluate(compiled, at, caller)


_PUBLIC_AUDIO = re.compile(r"/media/audio/([A-Za-z0-9_-]+)\.mp3")
_SAY = re.compile(r'say (ja|en) "((?:[^"\\]|\\.)*)"')


def preview_media(answer: Answer) -> dict:
    """The MP3 or script an answer line plays, so the preview can be listened to."""
    media = {"audio": None, "script": None}
    audio = _PUBLIC_AUDIO.search(answer.command)
    if audio:
        media["audio"] = AudioFile.objects.filter(public_id=audio[1]).first()
    said = _SAY.search(answer.command)
    if said:
        text = re.sub(r"\\(.)", r"\1", said[2])  # undo the renderer's \" and \\
        media["script"] = TtsScript.objects.filter(language=said[1], text=text).first()
    return media

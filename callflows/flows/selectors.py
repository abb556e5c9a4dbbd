"""Reading call flows for people: plain-language descriptions, history diffs, previews."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from callflows.assets.scripts import preview_available
from callflows.flows import words
from callflows.flows.compiler import DEFAULT_DOCUMENT, flow_compile
from callflows.flows.documents import Action, CompiledFlow, Condition, FlowDocument
from callflows.flows.forms import WEEKDAYS
from callflows.flows.rules import Answer, evaluate
from callflows.models import AudioFile, CallerList, CallFlow, FlowVersion, TtsScript
from dins.models import Subscription, SubscriptionStatus
from portal.phone import display


def flow_for_number(subscription: Subscription) -> CallFlow | None:
    return CallFlow.objects.filter(subscription=subscription).first()


def not_answering_reason(subscription: Subscription) -> str:
    """Why the number's flow answers no call and takes no change; "" while it may answer.

    Released, being released or failed: the flow page, the switch, the editor and the API
    show the flow read-only with these words (``Subscription.is_closed``).
    """
    if not subscription.is_closed:
        return ""
    if subscription.status == SubscriptionStatus.RELEASED:
        released = subscription.released_at or subscription.updated_at
        return _(
            "This number was released on %(date)s: the carrier tells its callers it is not in "
            "service. Its call flow is kept here to read and can no longer be changed."
        ) % {"date": timezone.localtime(released, subscription.tenant.zone).strftime("%Y-%m-%d")}
    if subscription.status == SubscriptionStatus.RELEASING:
        return _(
            "This number is being released: its call flow answers no more calls and can no "
            "longer be changed."
        )
    return _(
        "This number was never subscribed (the subscription failed), so it answers no calls. "
        "Its call flow cannot be changed."
    )


def asset_names() -> dict[str, str]:
    names = {}
    for model in (AudioFile, TtsScript, CallerList):
        names.update({str(code): str(name) for code, name in _labels(model)})
    return names


def _labels(model):
    field = "label" if model is AudioFile else "name"
    return model.objects.values_list("code", field)


def describe_action(action: Action, names: dict) -> str:
    kind = action["type"]
    if kind == "playback":
        return _("play MP3 “%(name)s”") % {"name": names.get(action["audio"], "?")}
    if kind == "say":
        return _("read script “%(name)s”") % {"name": names.get(action["script"], "?")}
    if kind == "transfer":
        return _("transfer to %(number)s") % {"number": display(action["number"])}
    greeting = action.get("greeting")
    if greeting:
        return _("take a voicemail after: %(greeting)s") % {
            "greeting": describe_action(greeting, names)
        }
    return _("take a voicemail")


def days_label(weekdays: list[int]) -> str:
    names = dict(WEEKDAYS)
    runs: list[list[int]] = []
    for day in sorted(weekdays):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(
                _("%(first)s–%(last)s")  # noqa: RUF001 (a range of days, as Mon to Fri)
                % {"first": names[run[0]], "last": names[run[-1]]}
            )
        else:
            parts.extend(str(names[day]) for day in run)
    return pgettext("between days of the week", ", ").join(parts)


def _describe_when(when: Condition, names: dict) -> str:
    kind = when["type"]
    if kind == "hours":
        return _("%(days)s %(start)s to %(end)s") % {
            "days": days_label(when["weekdays"]),
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


def flow_describe(document: FlowDocument, names: dict | None = None) -> list[str]:
    """One line per rule, then the default: what staff read in history and previews."""
    names = asset_names() if names is None else names
    lines = [
        f"{index}. {rule.get('label') or '—'}: {_describe_when(rule['when'], names)} → "
        f"{describe_action(rule['then'], names)}"
        for index, rule in enumerate(document.get("rules", []), start=1)
    ]
    lines.append(
        _("Otherwise: %(action)s") % {"action": describe_action(document["default"], names)}
    )
    return lines


HISTORY_PAGE_SIZE = 50


def flow_history(flow: CallFlow, *, page_number=None) -> tuple[Page, list[dict]]:
    """One page of versions, newest first, each with the lines it changed against the one
    before. Every save adds a version, so the history is read a page at a time."""
    names = asset_names()
    versions = FlowVersion.objects.filter(flow=flow).select_related("created_by")
    page = Paginator(versions, HISTORY_PAGE_SIZE).get_page(page_number)
    on_page = list(page.object_list)
    # The version just before the page's oldest, for that one's diff.
    older = None
    if on_page:
        older = FlowVersion.objects.filter(flow=flow, number__lt=on_page[-1].number).first()
    documents = [version.document for version in on_page] + [older.document if older else None]
    history = []
    for index, version in enumerate(on_page):
        previous = documents[index + 1]
        before = flow_describe(previous, names) if previous else []
        after = flow_describe(version.document, names)
        diff = [
            line
            for line in difflib.unified_diff(before, after, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        is_current = page.number == 1 and index == 0
        history.append({"version": version, "diff": diff, "is_current": is_current})
    return page, history


def flow_compiled(
    subscription: Subscription,
    document: FlowDocument | None = None,
    *,
    around: dt.date | None = None,
) -> CompiledFlow:
    """The number's flow compiled as publishing compiles it, or ``document`` (a draft) as
    saving would: a draft whose references do not resolve raises ``ValueError``
    (``FlowError``), since it could not be saved. Holidays are compiled around ``around``
    (default: today). The saved override applies to drafts too: it is what callers hear while
    it lasts.
    """
    flow = flow_for_number(subscription)
    override: tuple[Action, datetime] | None = None
    if flow and flow.override_document and flow.override_until:
        override = (flow.override_document, flow.override_until)
    is_draft = document is not None
    if document is None:
        document = flow.document if flow else DEFAULT_DOCUMENT
    return flow_compile(
        document,
        tenant=subscription.tenant,
        own_number=subscription.e164,
        override=override,
        around=around or timezone.localdate(timezone=subscription.tenant.zone),
        problems=None if is_draft else [],
    )


def flow_preview(
    subscription: Subscription, *, at: datetime, caller: str, document: FlowDocument | None = None
) -> Answer:
    """What a caller would hear at ``at``: compiled as publishing compiles (holidays around
    that day) and evaluated by the same function as a real call."""
    around = timezone.localdate(at, timezone=subscription.tenant.zone)
    return evaluate(flow_compiled(subscription, document, around=around), at, caller)


@dataclass(frozen=True)
class AnswerInWords:
    rule: str  # the rule's name for people
    words: str  # what the caller hears, in words
    command: str  # the raw line, for the details toggle
    source: str


def answer_in_words(answer: Answer) -> AnswerInWords:
    return AnswerInWords(
        rule=words.rule_name(answer.rule),
        words=words.describe_command(answer.command),
        command=answer.command,
        source=answer.source,
    )


_PUBLIC_AUDIO = re.compile(r"/media/audio/([A-Za-z0-9_-]+)\.mp3")
_SAY = re.compile(r'say (ja|en) "((?:[^"\\]|\\.)*)"')


def preview_media(answer: Answer) -> dict[str, object]:
    """The MP3 or script an answer line plays, so the preview can be listened to."""
    media: dict[str, object] = {
        "audio": None,
        "script": None,
        "speech_available": preview_available(),
    }
    audio = _PUBLIC_AUDIO.search(answer.command)
    if audio:
        media["audio"] = AudioFile.objects.filter(public_id=audio[1]).first()
    said = _SAY.search(answer.command)
    if said:
        text = re.sub(r"\\(.)", r"\1", said[2])  # undo the renderer's \" and \\
        media["script"] = TtsScript.objects.filter(language=said[1], text=text).first()
    return media

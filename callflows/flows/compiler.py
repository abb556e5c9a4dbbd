"""Compiling a call-flow document into the plain data the action URL evaluates.

``flow_compile`` resolves a document's references (MP3s to public URLs, scripts to ``say``
lines, caller lists to digit sets, holidays and closed dates to dates) and renders every answer
line with ``callflows.grammar``. Saving uses it strictly (a flow that cannot be answered is
refused); publishing (``callflows.flows.publishing``) leniently, and the preview as publishing does.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.utils import timezone

from callflows import grammar
from callflows.flows.closed import closed_days
from callflows.flows.documents import (
    Action,
    CompiledCondition,
    CompiledFlow,
    CompiledRule,
    Condition,
    FlowDocument,
    Problem,
)
from callflows.flows.rules import FlowError, caller_digits, check_document, minutes_of
from callflows.models import AudioFile, CallerList, TtsScript
from dins.destinations import transfer_target_clean
from portal.addresses import carrier_url
from portal.models import Tenant

_Part = TypeVar("_Part", Action, Condition)
_Built = TypeVar("_Built", str, CompiledCondition)

# A number without a flow of its own answers this: a caller can always leave a message.
DEFAULT_DOCUMENT: FlowDocument = {"rules": [], "default": {"type": "voicemail", "greeting": None}}


# --- Compiling --------------------------------------------------------------------------------


def audio_public_url(audio: AudioFile) -> str:
    return carrier_url("audio_public", audio.public_id)


# Bumped whenever compiling gives different answers for the same inputs (a new policy, a fix):
# publishing recompiles every flow compiled by an older version (``flows_republish_due``).
COMPILER_VERSION = 2

# Holidays and closed dates are compiled as dates from the day before ``around`` to this many
# days after it: longer than a published flow lives (``FLOW_PUBLISH_LIFETIME_DAYS``).
HOLIDAY_HORIZON_DAYS = 400


class _Resolver:
    """Turns one tenant's document references into answer lines (all of it, or FlowError)."""

    def __init__(self, tenant: Tenant, own_number: str = "", *, around: datetime.date):
        self.tenant = tenant
        self.own_number = own_number
        self.first_day = around - datetime.timedelta(days=1)
        self.last_day = around + datetime.timedelta(days=HOLIDAY_HORIZON_DAYS)

    def action(self, then: Action, path: str) -> str:
        kind = then["type"]
        if kind == "playback":
            return grammar.playback(audio_public_url(self._get(AudioFile, then["audio"], path)))
        if kind == "say":
            script = self._get(TtsScript, then["script"], path)
            return grammar.say(script.language, script.text)
        if kind == "transfer":
            try:
                number = transfer_target_clean(
                    then["number"], tenant=self.tenant, own_number=self.own_number
                )
            except ValueError as error:  # the destination policy's reason
                raise FlowError(path, str(error)) from None
            return grammar.transfer(number)
        greeting = then.get("greeting")
        return grammar.voicemail(self.action(greeting, f"{path}.greeting") if greeting else None)

    def condition(self, when: Condition, path: str) -> CompiledCondition:
        kind = when["type"]
        if kind == "hours":
            return {
                "type": kind,
                "weekdays": sorted(set(when["weekdays"])),
                "start": minutes_of(when["start"], path),
                "end": minutes_of(when["end"], path),
            }
        if kind == "holiday":
            return {"type": kind, "dates": sorted(self.closed_dates())}
        if kind == "caller_list":
            numbers = self._get(CallerList, when["list"], path).numbers
            return {"type": kind, "numbers": sorted({caller_digits(n) for n in numbers} - {""})}
        return {"type": kind}

    def closed_dates(self) -> set[str]:
        """Japanese public holidays and the tenant's closed days (periods expanded) within the
        horizon."""
        return {day.isoformat() for day in closed_days(self.first_day, self.last_day)}

    @staticmethod
    def _get(model, code, path):
        try:
            return model.objects.get(code=code)
        except (model.DoesNotExist, ValidationError, ValueError):
            raise FlowError(path, f"{model._meta.verbose_name} not found") from None


def flow_compile(
    document: FlowDocument,
    *,
    tenant: Tenant,
    own_number: str = "",
    override: tuple[Action, datetime.datetime] | None = None,
    around: datetime.date | None = None,
    problems: list[Problem] | None = None,
) -> CompiledFlow:
    """Resolve and render a document: the plain data the action URL evaluates.

    Strict by default: anything that cannot be answered raises ``FlowError`` (saving refuses
    such a flow). Given a ``problems`` list, compiling never fails: what cannot be answered as
    written answers the fallback instead (a condition that cannot be checked never matches, a
    broken override is left out) and each case is appended as ``{"where", "why"}``. Publishing
    compiles that way: a number keeps answering after a change elsewhere (say, transfers
    abroad turned off) made part of its flow impossible.
    """
    resolve = _Resolver(tenant, own_number, around=around or timezone.localdate())

    def attempt(build: Callable[[_Part, str], _Built], part: _Part, path: str) -> _Built | None:
        """``build(part, path)``; None (and the problem noted) when compiling leniently."""
        if problems is None:
            return build(part, path)
        try:
            return build(part, path)
        except (FlowError, KeyError, TypeError) as error:
            problems.append({"where": path, "why": getattr(error, "message", str(error))})
            return None

    if problems is not None:
        try:
            check_document(document)
        except FlowError as error:
            problems.append({"where": error.path, "why": error.message})
            document = DEFAULT_DOCUMENT
    else:
        check_document(document)
    rules: list[CompiledRule] = []
    for index, rule in enumerate(document["rules"]):
        path = f"rules[{index}]"
        when = attempt(resolve.condition, rule["when"], f"{path}.when")
        if when is None:
            continue  # a condition that cannot be checked never matches
        command = attempt(resolve.action, rule["then"], f"{path}.then")
        label = rule.get("label") or f"#{index + 1}"
        if command is None:  # answered by the fallback, and counted as such (alerts)
            rules.append(
                {"label": label, "when": when, "command": grammar.FALLBACK, "fallback": True}
            )
        else:
            rules.append({"label": label, "when": when, "command": command})
    default = attempt(resolve.action, document["default"], "default")
    compiled: CompiledFlow = {
        "tz": tenant.timezone,
        "rules": rules,
        "default": default or grammar.FALLBACK,
        "override": None,
    }
    if default is None:
        compiled["default_fallback"] = True
    if override is not None:
        action, until = override
        command = attempt(resolve.action, action, "override")
        if command is not None:
            compiled["override"] = {"command": command, "until": until.timestamp()}
    return compiled

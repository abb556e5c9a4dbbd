"""Call flows as plain data: the stored document, its compiled form, and its evaluation.

A *document* is what staff edit (JSON on ``CallFlow``)::

    {"rules": [{"label": "Business hours",
                "when": {"type": "hours", "weekdays": [0, 1, 2, 3, 4],
                         "start": "09:00", "end": "18:00"},
                "then": {"type": "say", "script": "<TtsScript code>"}}, …],
     "default": {"type": "voicemail", "greeting": {"type": "say", "script": "<code>"}}}

Conditions: ``always``, ``hours`` (weekdays 0 = Monday, from/to in the tenant's time zone; a
window whose end is not after its start crosses midnight and belongs to the day it starts),
``holiday`` (Japanese public holidays and the tenant's closed dates), ``anonymous``,
``caller_list`` (``"list": <CallerList code>``). Actions: ``playback`` (``audio``), ``say``
(``script``), ``transfer`` (``number``, E.164), ``voicemail`` (optional ``greeting``: a
playback or say action).

A *compiled* flow is what the action URL serves from: rules with their answer lines already
rendered, holidays expanded to dates, caller lists to digit sets, plus the override and the
fallback. ``evaluate`` is a pure function of a compiled flow, the time and the caller.

Both shapes, as types: ``callflows.flows.documents`` (``FlowDocument``, ``CompiledFlow``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callflows.flows.documents import CompiledCondition, CompiledFlow
from portal.text import text_problem

CONDITIONS = ("always", "hours", "holiday", "anonymous", "caller_list")
ACTIONS = ("playback", "say", "transfer", "voicemail")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# What carriers send for a withheld number (besides an empty or missing parameter).
# Rules are checked one by one on every call; 30 cover any real business day (the editor
# offers no more, and no document with more is saved).
MAX_RULES = 30
MAX_LABEL_LENGTH = 100
ANONYMOUS_CALLERS = frozenset({"", "anonymous", "unknown", "private", "withheld", "0"})


class FlowError(ValueError):
    """A document that cannot be a flow; ``path`` says where (e.g. ``rules[2].when``)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# The keys each part of a document may hold: anything else is refused when a document is saved
# (``check_document_keys``), so a flow's history keeps what the editor can show, nothing more.
DOCUMENT_KEYS = frozenset({"rules", "default"})
RULE_KEYS = frozenset({"label", "when", "then"})
CONDITION_KEYS = {
    "always": frozenset({"type"}),
    "hours": frozenset({"type", "weekdays", "start", "end"}),
    "holiday": frozenset({"type"}),
    "anonymous": frozenset({"type"}),
    "caller_list": frozenset({"type", "list"}),
}
ACTION_KEYS = {
    "playback": frozenset({"type", "audio"}),
    "say": frozenset({"type", "script"}),
    "transfer": frozenset({"type", "number"}),
    "voicemail": frozenset({"type", "greeting"}),
}
# An MP3, script or caller list is named by its code (a UUID); a transfer by a number as typed.
MAX_REFERENCE_LENGTH = 64
MAX_NUMBER_LENGTH = 30


def minutes_of(hhmm: object, path: str) -> int:
    match = _HHMM.match(hhmm) if isinstance(hhmm, str) else None
    if not match:
        raise FlowError(path, "times are written HH:MM, 00:00 to 23:59")
    return int(match[1]) * 60 + int(match[2])


def check_condition(when: Any, path: str) -> None:
    kind = when.get("type") if isinstance(when, dict) else None
    if kind not in CONDITIONS:
        raise FlowError(path, f"unknown condition {repr(kind)[:40]}")
    if kind == "hours":
        days = when.get("weekdays")
        if (
            not isinstance(days, list)
            or not days
            or not all(type(d) is int and 0 <= d <= 6 for d in days)
        ):
            raise FlowError(path, "choose at least one weekday")
        minutes_of(when.get("start"), f"{path}.start")
        minutes_of(when.get("end"), f"{path}.end")
    if kind == "caller_list":
        _check_reference(when.get("list"), path, "choose a caller list")


def _check_reference(value: Any, path: str, missing: str, *, limit: int = MAX_REFERENCE_LENGTH):
    if not value:
        raise FlowError(path, missing)
    if not isinstance(value, str) or len(value) > limit or text_problem(value):
        raise FlowError(path, f"{missing}: text of at most {limit} characters")


def check_action(then: Any, path: str, *, greeting: bool = False) -> None:
    kind = then.get("type") if isinstance(then, dict) else None
    allowed = ("playback", "say") if greeting else ACTIONS
    if kind not in allowed:
        raise FlowError(path, f"unknown action {repr(kind)[:40]}")
    required = {"playback": "audio", "say": "script", "transfer": "number"}.get(str(kind))
    if required:
        limit = MAX_NUMBER_LENGTH if kind == "transfer" else MAX_REFERENCE_LENGTH
        _check_reference(then.get(required), path, f"{kind} needs {required}", limit=limit)
    if kind == "voicemail" and then.get("greeting") is not None:
        check_action(then["greeting"], f"{path}.greeting", greeting=True)


def check_document(document: object) -> None:
    """Raise ``FlowError`` unless ``document`` has the shape of a flow (references unchecked)."""
    if not isinstance(document, dict):
        raise FlowError("flow", "a flow is an object")
    if "rules" not in document:
        raise FlowError("rules", "a flow needs its list of rules (empty for none)")
    rules = document["rules"]
    if not isinstance(rules, list):
        raise FlowError("rules", "rules are a list")
    if len(rules) > MAX_RULES:
        raise FlowError("rules", f"at most {MAX_RULES} rules")
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise FlowError(f"rules[{index}]", "a rule is an object")
        label = rule.get("label") or ""
        if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
            raise FlowError(
                f"rules[{index}].label", f"a name of at most {MAX_LABEL_LENGTH} characters"
            )
        problem = text_problem(label)
        if problem:
            raise FlowError(f"rules[{index}].label", problem)
        check_condition(rule.get("when"), f"rules[{index}].when")
        check_action(rule.get("then"), f"rules[{index}].then")
    if "default" not in document:
        raise FlowError("default", "a flow needs a default action")
    check_action(document["default"], "default")


GREETING_KEYS = {kind: ACTION_KEYS[kind] for kind in ("playback", "say")}


def _keys_of(known: dict[str, frozenset[str]], part: dict[str, Any]) -> frozenset[str]:
    kind = part.get("type")
    return known.get(kind, frozenset({"type"})) if isinstance(kind, str) else frozenset({"type"})


def _unknown_keys(part: Any, allowed: frozenset[str], path: str) -> None:
    if isinstance(part, dict):
        for key in part:
            if key not in allowed:
                shown = key if isinstance(key, str) and not text_problem(key) else "?"
                raise FlowError(f"{path}.{shown}" if path else shown, "unknown field; remove it")


def check_document_keys(document: Any) -> None:
    """Raise ``FlowError`` at the first key a saved document may not hold (the editor never
    writes one; a program might). Stored flows are published whatever they hold: only a save
    is refused, so an old flow keeps answering."""
    if not isinstance(document, dict):
        return
    _unknown_keys(document, DOCUMENT_KEYS, "")
    actions = [(document.get("default"), "default")]
    rules = document.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        path = f"rules[{index}]"
        _unknown_keys(rule, RULE_KEYS, path)
        if not isinstance(rule, dict):
            continue
        when = rule.get("when")
        if isinstance(when, dict):
            _unknown_keys(when, _keys_of(CONDITION_KEYS, when), f"{path}.when")
        actions.append((rule.get("then"), f"{path}.then"))
    for action, path in actions:
        if not isinstance(action, dict):
            continue
        _unknown_keys(action, _keys_of(ACTION_KEYS, action), path)
        greeting = action.get("greeting")
        if isinstance(greeting, dict):
            _unknown_keys(greeting, _keys_of(GREETING_KEYS, greeting), f"{path}.greeting")


# --- Evaluation (the hot path) ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    command: str
    rule: str  # the label of the rule that answered, "default", "override" or "fallback"
    source: str  # "flow", "override" or "fallback"


def caller_digits(caller: str | None) -> str:
    """Digits of a caller number as Xoxzo sends it (with or without "+"); "" if withheld."""
    text = (caller or "").strip()
    if text.lower() in ANONYMOUS_CALLERS:
        return ""
    return "".join(ch for ch in text if ch.isdigit())


def _in_window(when: CompiledCondition, weekday: int, minute: int) -> bool:
    start, end, days = when["start"], when["end"], when["weekdays"]
    if start < end:
        return weekday in days and start <= minute < end
    # Crosses midnight (or lasts 24 h when start == end): the day the window starts owns it.
    return (weekday in days and minute >= start) or ((weekday - 1) % 7 in days and minute < end)


def matches(when: CompiledCondition, local: datetime, caller: str) -> bool:
    kind = when["type"]
    if kind == "always":
        return True
    if kind == "hours":
        return _in_window(when, local.weekday(), local.hour * 60 + local.minute)
    if kind == "holiday":
        return local.date().isoformat() in when["dates"]
    if kind == "anonymous":
        return caller == ""
    if kind == "caller_list":
        return caller != "" and caller in when["numbers"]
    return False


def evaluate(compiled: CompiledFlow, now: datetime, caller: str | None) -> Answer:
    """The answer of a compiled flow at ``now`` (aware) for ``caller``: first match wins."""
    override = compiled.get("override")
    if override and now.timestamp() < override["until"]:
        return Answer(override["command"], "override", "override")
    local = now.astimezone(ZoneInfo(compiled["tz"]))
    digits = caller_digits(caller)
    for rule in compiled["rules"]:
        if matches(rule["when"], local, digits):
            return Answer(rule["command"], rule["label"], _source(rule.get("fallback")))
    return Answer(compiled["default"], "default", _source(compiled.get("default_fallback")))


def _source(is_fallback: bool | None) -> str:
    """A part of the flow that could not be published as written answers the fallback."""
    return "fallback" if is_fallback else "flow"

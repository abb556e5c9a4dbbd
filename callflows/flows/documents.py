"""The shapes of a call flow as data: the document staff save and the compiled flow the edge
answers from.

A *flow document* is what the editor and the API save (``CallFlow.document``, each
``FlowVersion``): rules in order, each a condition (``when``) and an action (``then``), and a
default action. ``callflows.flows.rules.check_document`` is what turns posted or stored JSON
into one; the types here say what it holds once checked.

A *compiled flow* is what ``callflows.flows.compiler.flow_compile`` makes of a document and
``callflows.flows.publishing`` stores on ``PublishedFlow``: answer lines already rendered,
times in minutes, holidays as dates, caller lists as digits. ``callflows.flows.rules.evaluate``
reads it on every call. The edge (``callflows.edge.published``) turns its lists into frozensets
when it loads one, hence the ``Collection`` types.

``FALLBACK`` stands where no compiled flow could be read in time: the call is answered by the
fallback (voicemail), never by a flow.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

ConditionType = Literal["always", "hours", "holiday", "anonymous", "caller_list"]
ActionType = Literal["playback", "say", "transfer", "voicemail"]


# --- The flow document (saved by the editor and the API) ---------------------------------------


class Condition(TypedDict):
    """When a rule applies; the keys beyond ``type`` are those its type needs."""

    type: ConditionType
    weekdays: NotRequired[list[int]]  # hours: 0 = Monday
    start: NotRequired[str]  # hours: "HH:MM", the company's time zone
    end: NotRequired[str]  # hours: not after the start crosses midnight
    list: NotRequired[str]  # caller_list: a CallerList code


class Action(TypedDict):
    """What the caller hears; the keys beyond ``type`` are those its type needs."""

    type: ActionType
    audio: NotRequired[str]  # playback: an AudioFile code
    script: NotRequired[str]  # say: a TtsScript code
    number: NotRequired[str]  # transfer: the destination as typed
    greeting: NotRequired[Action | None]  # voicemail: a playback or say action first


class Rule(TypedDict):
    label: NotRequired[str | None]
    when: Condition
    then: Action


class FlowDocument(TypedDict):
    rules: list[Rule]
    default: Action


class Problem(TypedDict):
    """Why part of a document cannot be answered as written (``rules[1].then``: …)."""

    where: str
    why: str


# --- The compiled flow (published, evaluated on every call) ----------------------------------


class CompiledCondition(TypedDict):
    type: ConditionType
    weekdays: NotRequired[Collection[int]]  # hours
    start: NotRequired[int]  # hours: minutes since midnight, local time
    end: NotRequired[int]
    dates: NotRequired[Collection[str]]  # holiday: ISO dates
    numbers: NotRequired[Collection[str]]  # caller_list: digits


class CompiledRule(TypedDict):
    label: str  # the rule's name, or "#<n>" for one without
    when: CompiledCondition
    command: str  # the answer line (``callflows.grammar``)
    fallback: NotRequired[bool]  # the action could not be compiled: answers the fallback


class Override(TypedDict):
    command: str
    until: float  # POSIX timestamp


class CompiledFlow(TypedDict):
    tz: str  # the company's time zone
    rules: list[CompiledRule]
    default: str
    default_fallback: NotRequired[bool]  # the default could not be compiled
    override: Override | None
    # Set by publishing (a preview's compile has none of them).
    tenant_id: NotRequired[int]
    subscription_id: NotRequired[int]
    version: NotRequired[int]  # the CallFlow's version, 0 without one
    expires: NotRequired[float]  # POSIX timestamp: republished well before


@dataclass(frozen=True)
class Fallback:
    """No compiled flow to answer from (the database did not say in time): the fallback."""


FALLBACK = Fallback()

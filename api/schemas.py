"""What the API reads and answers (pydantic, published in the OpenAPI document).

Every request body is a ``Strict`` model: an object (not a list, not null) holding only the
keys the operation reads (any other is refused, 422 naming it). Strings a person would type
are ``Annotated[str, typed_line(n)]`` or ``typed_text(n)``: bounded, and checked by
``portal.text.text_problem``, the pages' own validator (no NUL, no lone surrogate, no control
character in a line). Times are zone-aware and inside the portal's date range
(``portal.fields``), as in the pages' forms.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from annotated_types import GroupedMetadata
from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from callflows.flows.rules import MAX_LABEL_LENGTH, MAX_RULES
from portal.fields import datetime_range_problem
from portal.text import text_problem

# What the published schema says a line and a text may hold, so that generated requests know
# it; the validators below are what enforces it (and also refuse lone surrogates).
LINE_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"


def _text_validator(*, multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, multiline=multiline)
        if problem:
            raise PydanticCustomError("not_text", problem)
        return value

    return AfterValidator(check)


@dataclass(frozen=True)
class _Typed(GroupedMetadata):
    """A typed string's limits (published in the schema) and its check, used as
    ``Annotated[str, typed_line(…)]``."""

    field: FieldInfo
    check: AfterValidator

    def __iter__(self) -> Iterator[object]:
        yield self.field
        yield self.check


def typed_line(max_length: int, **field: Any) -> _Typed:
    """A one-line string a person types (a name, a label, a note), at most ``max_length``."""
    return _Typed(
        Field(max_length=max_length, json_schema_extra={"pattern": LINE_PATTERN}, **field),
        _text_validator(multiline=False),
    )


def typed_text(max_length: int, **field: Any) -> _Typed:
    """A multi-line text (line breaks and tabs allowed), at most ``max_length``."""
    return _Typed(
        Field(max_length=max_length, json_schema_extra={"pattern": TEXT_PATTERN}, **field),
        _text_validator(multiline=True),
    )


def _in_range(value: datetime.datetime) -> datetime.datetime:
    problem = datetime_range_problem(value)
    if problem:
        raise PydanticCustomError("out_of_range", problem)
    return value


# A moment with its offset (2026-12-07T09:00:00+09:00), in the portal's dates (2000-2099).
Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]


class Strict(BaseModel):
    """A request body: a JSON object with only the keys the operation reads."""

    model_config = ConfigDict(extra="forbid")


class Error(Schema):
    detail: str
    code: str
    errors: list[FieldError] | None = None


class FieldError(Schema):
    field: str | None
    message: str


Error.model_rebuild()


class Number(Schema):
    code: UUID = Field(description="The number's public id, `number` everywhere else")
    e164: str = Field(description="E.164 with +, e.g. +815012345678")
    label: str
    description: str
    status: str
    is_trial: bool
    trial_deadline: datetime.datetime | None
    release_at: datetime.datetime | None
    monthly_cost: str
    minute_cost: str
    trial_price: str
    next_renewal: datetime.datetime | None
    created_at: datetime.datetime


class NumberList(Schema):
    items: list[Number]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: none")


class Release(Strict):
    typed_number: Annotated[
        str, typed_line(30, description="The number, typed again to confirm (+81 50…, 050-…)")
    ]


class Playback(Strict):
    type: Literal["playback"]
    audio: UUID


class Say(Strict):
    type: Literal["say"]
    script: UUID


class Transfer(Strict):
    type: Literal["transfer"]
    number: Annotated[str, typed_line(30)]


class Voicemail(Strict):
    type: Literal["voicemail"]
    greeting: Annotated[Playback | Say, Field(discriminator="type")] | None = None


Action = Annotated[Playback | Say | Transfer | Voicemail, Field(discriminator="type")]


class OverrideIn(Strict):
    until: Moment | None = Field(
        None,
        description="When the override ends (ISO 8601 with offset, 2000-2099). Without it: "
        "the flow's next opening, as the one-tap day/night switch.",
    )
    action: Action | None = Field(
        None, description="What callers hear meanwhile. Without it: the flow's default."
    )


class OverrideState(Schema):
    active: bool
    until: datetime.datetime | None
    words: str | None = Field(None, description="What callers hear while it lasts")
    closed_until: datetime.datetime | None = Field(
        None, description="When off: until when the one-tap switch would close the number"
    )


class Flow(Schema):
    number: UUID
    version: int
    document: dict
    description: list[str] = Field(description="The rules in words, in the key's language")
    override: OverrideState
    answers_calls: bool = Field(
        description="False for a released, releasing or failed number: its flow answers no "
        "call, and replacing it or its override is refused (409)"
    )
    not_answering: str | None = Field(description="Why it answers no calls, in words")


class Preview(Schema):
    at: datetime.datetime
    caller: str
    rule: str
    words: str
    command: str
    source: str


class Call(Schema):
    code: UUID
    number: UUID
    at: datetime.datetime
    caller: str = Field(description="E.164 with +; empty for a withheld number")
    recipient: str
    rule: str
    command: str
    source: Literal["flow", "override", "stale", "fallback"] | str
    latency_ms: float
    test: bool = Field(description="A test call from the flow page, not a caller's")


class CallPage(Schema):
    items: list[Call]
    next_cursor: str | None


class Alert(Schema):
    code: UUID
    kind: str
    title: str
    number: UUID | None
    context: dict
    created_at: datetime.datetime
    acknowledged_at: datetime.datetime | None


class AlertList(Schema):
    items: list[Alert]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: none")


class Acknowledged(Schema):
    code: UUID
    acknowledged_at: datetime.datetime | None
    changed: bool


class AudioAsset(Schema):
    code: UUID
    label: str
    duration_seconds: float
    size_bytes: int
    used_by: list[UUID]


class ScriptAsset(Schema):
    code: UUID
    name: str
    language: str
    text: str
    used_by: list[UUID]


class CallerListAsset(Schema):
    code: UUID
    name: str
    count: int
    used_by: list[UUID]


class Assets(Schema):
    audio: list[AudioAsset]
    scripts: list[ScriptAsset]
    caller_lists: list[CallerListAsset]


class OutboundCallIn(Strict):
    recipient: Annotated[str, typed_line(30, description="E.164 or as dialled in Japan")]
    message_kind: Literal["audio", "script", "text"]
    audio: UUID | None = None
    script: UUID | None = None
    text: Annotated[str, typed_text(500)] = ""
    tts_lang: Literal["ja", "en", ""] = ""
    local_caller_id: bool = False


class OutboundCall(Schema):
    code: UUID
    number: UUID
    recipient: str
    caller_id: str
    message_kind: str
    status: str
    duration: int | None
    cost: str | None
    failure_reason: str
    created_at: datetime.datetime
    ended_at: datetime.datetime | None


class Offer(Schema):
    din_uid: str = Field(description="What to subscribe to (POST /numbers)")
    e164: str = Field(description="E.164 with +, e.g. +815012345678")
    country_code: str
    prefix: str
    monthly_cost: str
    minute_cost: str
    trial_price: str = Field(description="What the 24-hour trial costs")


class OfferList(Schema):
    items: list[Offer]
    count: int = Field(description="Offers found (items holds at most `limit` of them)")


class SubscribeIn(Strict):
    din_uid: Annotated[str, typed_line(100, min_length=1, description="An offer's din_uid")]
    mode: Literal["trial", "keep"] = Field(
        description="trial: 24 hours at the trial price, released in time unless kept; "
        "keep: a normal subscription"
    )


def _flow_document_schema() -> dict:
    """The flow document as JSON Schema (``callflows/flows/rules.py`` is what checks it, for
    the editor and the API alike; this tells programs and the fuzzer its shape)."""

    def strict(properties: dict, required: list[str]) -> dict:
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def kind(name: str) -> dict:
        return {"type": "string", "enum": [name]}

    code = {"type": "string", "format": "uuid"}
    greetings = [
        strict({"type": kind("playback"), "audio": code}, ["type", "audio"]),
        strict({"type": kind("say"), "script": code}, ["type", "script"]),
    ]
    action = {
        "oneOf": [
            *greetings,
            strict(
                {"type": kind("transfer"), "number": {"type": "string", "maxLength": 30}},
                ["type", "number"],
            ),
            strict(
                {"type": kind("voicemail"), "greeting": {"oneOf": [*greetings, {"type": "null"}]}},
                ["type"],
            ),
        ]
    }
    hhmm = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
    condition = {
        "oneOf": [
            strict({"type": kind("always")}, ["type"]),
            strict(
                {
                    "type": kind("hours"),
                    "weekdays": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0, "maximum": 6},
                        "minItems": 1,
                        "maxItems": 7,
                    },
                    "start": hhmm,
                    "end": hhmm,
                },
                ["type", "weekdays", "start", "end"],
            ),
            strict({"type": kind("holiday")}, ["type"]),
            strict({"type": kind("anonymous")}, ["type"]),
            strict({"type": kind("caller_list"), "list": code}, ["type", "list"]),
        ]
    }
    rule = strict(
        {
            "label": {
                "oneOf": [
                    {"type": "string", "maxLength": MAX_LABEL_LENGTH, "pattern": LINE_PATTERN},
                    {"type": "null"},
                ]
            },
            "when": condition,
            "then": action,
        },
        ["when", "then"],
    )
    return strict(
        {"rules": {"type": "array", "items": rule, "maxItems": MAX_RULES}, "default": action},
        ["rules", "default"],
    )


FlowDocument = Annotated[dict[str, Any], WithJsonSchema(_flow_document_schema())]


class FlowIn(Strict):
    document: FlowDocument = Field(description="The flow document, as GET …/flow answers it")
    note: Annotated[
        str, typed_line(1000, description="What changed, for the history (200 characters)")
    ] = ""


class FlowCheckIn(Strict):
    # Any object: telling what is wrong with a document is this operation's answer (200 with
    # its problems), not a refusal.
    document: dict[str, Any] = Field(description="A flow document to check, complete or not")


class FlowProblem(Schema):
    where: str = Field(description="Where in the document, e.g. rules[2].then")
    why: str


class FlowCheck(Schema):
    valid: bool
    problems: list[FlowProblem]


class ScriptIn(Strict):
    name: Annotated[str, typed_line(100)]
    language: Annotated[str, typed_line(10, description="ja or en")]
    # Checked by the page's own form (script_text_clean): control characters by position.
    text: str = Field(max_length=5000, description="Read aloud; at most 500 characters")


class ScriptList(Schema):
    items: list[ScriptAsset]

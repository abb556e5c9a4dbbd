"""What the hostile-input suite sends, and how it finds where to send it.

Forms are found the way an attacker finds them: by reading the pages. Every page of the
URLconf is fetched once, its ``<form>`` elements are parsed, and each form is filed under the
URL pattern its ``action`` resolves to. A POST-only endpoint (inviting a member, subscribing a
number) is thereby covered through the page that shows its form, and a new form is covered
without a new test.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote_plus, urlsplit

from django.urls import Resolver404, resolve

# --- Payloads ---------------------------------------------------------------------------------

NUL = "a\x00b"
HUGE = "9" * 20_000
HUGE_NUMBER = "1" + "0" * 400
# Dates and times a date picker never sends but a hand-made request does.
OUT_OF_RANGE_DATES = ("0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59")
WRONG_TYPES = (
    "-1",
    "1e309",
    '{"a": [1]}',
    # full-width digits, a right-to-left override, an emoji and markup
    "\uff11\uff12\uff13\u202e😀<script>",
)
LIST_10K = ["1"] * 10_000
LIST_300 = [str(i) for i in range(300)]

# Values for one field at a time, the others keeping what the page offered.
SINGLE_FIELD = (NUL, HUGE)
SINGLE_DATE_FIELD = OUT_OF_RANGE_DATES
# Query strings no browser sends: invalid UTF-8, NUL, a sea of separators, a huge one.
RAW_QUERIES = ("x=%FF%FE%FD&%00=%00", "&&&==&=&a&page=-1", "a=" + "b" * 60_000)
# Path segments for <str:…> parameters.
HOSTILE_SEGMENTS = ("%00", "x" * 5000, "%FF", "..", "%E2%80%AEa%20b.mp3")

DATE_HINTS = ("date", "since", "until", "at", "day")


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "select-multiple" or "textarea"
    value: str = ""
    options: list[str] = field(default_factory=list)

    @property
    def is_date(self) -> bool:
        return self.kind in ("date", "datetime-local", "time") or any(
            hint == self.name.rsplit("-", 1)[-1] for hint in DATE_HINTS
        )


@dataclass
class Form:
    method: str
    action: str  # a path
    enctype: str
    fields: list[Field]

    @property
    def key(self) -> tuple:
        return (self.method, tuple(sorted({f.name for f in self.fields})))

    def defaults(self) -> dict[str, list[str]]:
        """What submitting the form untouched would send (files left out)."""
        data: dict[str, list[str]] = {}
        for f in self.fields:
            if f.kind in ("file", "submit", "button", "reset", "image"):
                continue
            if f.kind in ("checkbox", "radio") and not f.value:
                continue
            data.setdefault(f.name, []).append(f.value)
        return data

    def names(self) -> list[str]:
        return list(dict.fromkeys(f.name for f in self.fields if f.kind != "file"))

    def file_names(self) -> list[str]:
        return [f.name for f in self.fields if f.kind == "file"]


class _FormParser(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None
        self._option_selected = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "?" in a.get("href", ""):
            parts = urlsplit(a["href"])
            names = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
            if names:
                fields = [Field(unquote_plus(name), "text") for name in dict.fromkeys(names)]
                self.forms.append(Form("get", parts.path or self.page_path, "", fields))
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_path).path or self.page_path
            self._form = Form(
                method=(a.get("method") or "get").lower(),
                action=action,
                enctype=a.get("enctype", ""),
                fields=[],
            )
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._add_option(a)
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            checked = "checked" in a
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            if kind in ("checkbox", "radio") and not checked:
                self._form.fields.append(Field(a["name"], kind, "", [value]))
            else:
                self._form.fields.append(Field(a["name"], kind, value, [value]))
        elif tag == "button":
            self._form.fields.append(Field(a["name"], "submit", a.get("value", "")))
        elif tag == "select":
            kind = "select-multiple" if "multiple" in a else "select"
            self._select = Field(a["name"], kind)
            self._form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = Field(a["name"], "textarea")
            self._form.fields.append(self._textarea)

    def _add_option(self, a):
        value = a.get("value", "")
        self._select.options.append(value)
        if "selected" in a or len(self._select.options) == 1:
            self._select.value = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(html: str, page_path: str) -> list[Form]:
    """The page's forms, and its links with a query string as GET forms of their names."""
    parser = _FormParser(page_path)
    parser.feed(html)
    return parser.forms


_PARAMETER_READ = re.compile(r"request\.(GET|POST)\.get\(\s*[\"'](\w+)[\"']")


def parameters_read_by(view) -> dict[str, set[str]]:
    """Names a view's module reads straight from ``request.GET`` / ``request.POST``.

    Parameters no form shows (``?page=``, a hidden ``note``, htmx's ``?was=``) are found where
    they are read; the whole module, so helpers that receive the request count too.
    """
    module = inspect.getmodule(inspect.unwrap(view))
    found: dict[str, set[str]] = {"GET": set(), "POST": set()}
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return found
    for method, name in _PARAMETER_READ.findall(source):
        found[method].add(name)
    return found


def route_name_of(path: str, urlconf: str | None = None) -> str | None:
    """The name of the route ``path`` reaches on the server whose URLconf is ``urlconf``."""
    try:
        match = resolve(path, urlconf=urlconf)
    except Resolver404:
        return None
    return match.view_name.split(":")[-1] if match.view_name else None

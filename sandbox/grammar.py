"""The Xoxzo action-URL answer: a strict parser and its exact inverse, the renderer.

The sandbox carrier parses what a portal's action URL answers, as Xoxzo would. This module is the
carrier's side only: the portal has its own renderer (``callflows/grammar.py``) and imports
nothing from here. A property test (``sandbox/tests/test_grammar.py``) holds this module's
``parse(render(command)) == command`` and ``render(parse(line)) == line`` (every command has
exactly one textual form); another (``callflows/tests/test_grammar_carrier.py``) checks that
every line the portal renders parses here as meant.

Xoxzo documents the answer only loosely ("one line: a command and space-separated arguments",
see its API documentation). The sandbox is deliberately STRICTER than the carrier can be
assumed to be, so that a sloppy renderer is caught here and not by a lost call in production.

The grammar (ABNF-ish; SP is exactly one U+0020 space; nothing else separates tokens)::

    answer    = command [ "\\n" / "\\r\\n" ]      ; one line, one optional line ending
    command   = "playback" SP url
              / "transfer" SP number
              / "say" SP lang SP text
              / "voicemail"
              / "voicemail" SP "say" SP lang SP text
              / "voicemail" SP "playback" SP url
    lang      = "ja" / "en"
    number    = "+" 8*15DIGIT                    ; E.164, see TRANSFER RULES
    url       = ("http" / "https") "://" host [ ":" port ] path
    path      = "/" *pchar fchar ".mp3"          ; see URL RULES
    text      = DQUOTE 1*( tchar / "\\\\" / "\\" DQUOTE ) DQUOTE   ; see TEXT RULES

WHITESPACE: no leading or trailing space, no tabs, no double spaces; keywords are lowercase.

TEXT RULES (what ``render_say_text`` produces and ``parse`` accepts):

- wrapped in double quotes ``"``;
- inside, ``"`` is written ``\\"`` and ``\\`` is written ``\\\\``; no other escape exists, so a
  backslash followed by anything else is an error (``\\n`` is NOT a newline, it is refused);
- every other character stands for itself, any Unicode except the FORBIDDEN code points:
  U+0000-U+001F and U+007F-U+009F (control characters, which includes tab, CR and LF),
  U+2028 and U+2029 (line/paragraph separators: some consumers split lines on them), and
  U+D800-U+DFFF (lone surrogates: not encodable as UTF-8);
- the unescaped text has 1 to ``MAX_SAY_TEXT_LENGTH`` (500) code points and is not made of
  whitespace only (Python ``str.isspace``); leading and trailing spaces are kept as written;
- the closing quote ends the line.

URL RULES: scheme ``http`` or ``https`` (lowercase); host a DNS name (ASCII letters, digits and
inner hyphens, labels of 1-63 characters, 253 characters at most), a dotted IPv4 address, or a
bracketed IPv6 address; optional port 1-65535; no user info, query string or fragment; the path
holds only ``A-Z a-z 0-9 _ / -`` (Xoxzo's documented MP3 restriction) and ends with a non-empty
file name and a lowercase ``.mp3``; the whole URL has at most ``MAX_URL_LENGTH`` (1024) characters.

TRANSFER RULES: ``+`` then 8-15 ASCII digits, written exactly as E.164 formats it (so
``+810336042000``, a trunk 0 after the country code, is refused as Xoxzo refuses it), and a
valid number for its region according to ``phonenumbers``.

Everything here is a pure function: no Django, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import phonenumbers

MAX_SAY_TEXT_LENGTH = 500  # [choice] Xoxzo publishes no TTS length limit; ~1 minute of speech.
MAX_URL_LENGTH = 1024  # [choice] Xoxzo publishes none; keeps the answer a sane single line.
# Longest valid answer in characters, line ending included: the engine that reads an answer
# over HTTP stops reading beyond it (times 4 bytes, UTF-8) instead of buffering any amount.
MAX_ANSWER_LENGTH = (
    max(
        len("voicemail playback ") + MAX_URL_LENGTH,
        len('voicemail say ja ""') + 2 * MAX_SAY_TEXT_LENGTH,  # every character escaped
    )
    + 2
)

LANGUAGES = ("ja", "en")
COMMANDS = ("playback", "transfer", "say", "voicemail")

_FORBIDDEN_RANGES = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x2028, 0x2029),
    (0xD800, 0xDFFF),
)
_FORBIDDEN_TEXT_CHARACTER = re.compile(
    "[" + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in _FORBIDDEN_RANGES) + "]"
)
_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[A-Za-z0-9_/-]*[A-Za-z0-9_-]\.mp3)",
    re.ASCII,
)
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_LOOKS_LIKE_IPV4 = re.compile(r"[0-9.]+", re.ASCII)
_NUMBER = re.compile(r"\+[0-9]{8,15}", re.ASCII)


class CommandError(ValueError):
    """The answer is not exactly one valid command; ``reason`` says which token and why."""

    def __init__(self, reason: str, *, column: int | None = None) -> None:
        self.reason = reason
        # 1-based column in the answer line, when the error sits at a specific place.
        self.column = column
        super().__init__(reason if column is None else f"column {column}: {reason}")


@dataclass(frozen=True)
class Playback:
    url: str


@dataclass(frozen=True)
class Transfer:
    number: str  # E.164 with "+"


@dataclass(frozen=True)
class Say:
    lang: str
    text: str


@dataclass(frozen=True)
class Voicemail:
    greeting: Say | Playback | None = None


Command = Playback | Transfer | Say | Voicemail


# --- validation shared by the parser and the renderer -------------------------------------------


def _show(token: str, limit: int = 40) -> str:
    """Quote a token for an error message, shortened so a huge answer gives a short reason."""
    shown = token if len(token) <= limit else token[:limit] + "…"
    return repr(shown)


def check_url(url: str) -> str:
    """Return ``url`` if Xoxzo would fetch it as an MP3, else raise ``CommandError``."""
    if len(url) > MAX_URL_LENGTH:
        raise CommandError(f"MP3 URL is {len(url)} characters long, at most {MAX_URL_LENGTH}")
    if not url.startswith(("http://", "https://")):
        raise CommandError(
            f"expected an MP3 URL starting with http:// or https://, got {_show(url)}"
        )
    if "?" in url or "#" in url:
        raise CommandError(f"MP3 URL {_show(url)} has a query string or fragment; none is allowed")
    if "@" in url:
        raise CommandError(f"MP3 URL {_show(url)} carries user info ('@'); none is allowed")
    match = _URL.fullmatch(url)
    if match is None:
        raise CommandError(
            f"MP3 URL {_show(url)} is not http(s)://host[:port]/path.mp3 with a path of only "
            "A-Z a-z 0-9 _ / - and a lowercase .mp3 suffix"
        )
    _check_host(match["host"], url)
    port = match["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise CommandError(f"MP3 URL {_show(url)} has port {port}, expected 1-65535")
    return url


def _check_host(host: str, url: str) -> None:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise CommandError(f"MP3 URL {_show(url)} has an invalid IPv6 host {host}") from None
        return
    if _LOOKS_LIKE_IPV4.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise CommandError(f"MP3 URL {_show(url)} has an invalid IPv4 host {host}") from None
        return
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise CommandError(f"MP3 URL {_show(url)} has an invalid host name {_show(host)}")


def check_number(number: str) -> str:
    """Return ``number`` if it is a transferable E.164 number, else raise ``CommandError``."""
    if not _NUMBER.fullmatch(number):
        raise CommandError(f"expected a number as '+' and 8-15 digits (E.164), got {_show(number)}")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as error:
        raise CommandError(f"number {number} is not a phone number: {error}") from None
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if canonical != number:
        # phonenumbers silently drops a trunk 0 (+81 03… → +81 3…); Xoxzo refuses such numbers.
        raise CommandError(
            f"number {number} has a trunk prefix after country code +{parsed.country_code}; "
            f"write it as {canonical}"
        )
    if not phonenumbers.is_possible_number(parsed):
        raise CommandError(f"number {number} has an impossible length for its country")
    if not phonenumbers.is_valid_number(parsed):
        raise CommandError(f"number {number} is not a valid number for its country")
    return number


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise CommandError(f"expected a language 'ja' or 'en', got {_show(lang)}")
    return lang


def check_say_text(text: str) -> str:
    """Return ``text`` if it can be spoken (see TEXT RULES), else raise ``CommandError``."""
    if not text:
        raise CommandError("text to say is empty")
    if len(text) > MAX_SAY_TEXT_LENGTH:
        raise CommandError(f"text to say has {len(text)} characters, at most {MAX_SAY_TEXT_LENGTH}")
    forbidden = _FORBIDDEN_TEXT_CHARACTER.search(text)
    if forbidden is not None:
        raise CommandError(
            f"text to say contains the control character U+{ord(forbidden.group()):04X} "
            f"at position {forbidden.start() + 1}; control characters and line breaks "
            "are not allowed"
        )
    if text.isspace():
        raise CommandError("text to say is only whitespace")
    return text


# --- renderer ------------------------------------------------------------------------------------


def render_say_text(text: str) -> str:
    """Quote ``text`` as the ``say`` argument: ``"`` → ``\\"``, ``\\`` → ``\\\\``, in quotes."""
    check_say_text(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_playback(url: str) -> str:
    return f"playback {check_url(url)}"


def render_transfer(number: str) -> str:
    return f"transfer {check_number(number)}"


def render_say(lang: str, text: str) -> str:
    return f"say {check_lang(lang)} {render_say_text(text)}"


def render_voicemail(greeting: Say | Playback | None = None) -> str:
    if greeting is None:
        return "voicemail"
    if isinstance(greeting, Say):
        return f"voicemail {render_say(greeting.lang, greeting.text)}"
    if isinstance(greeting, Playback):
        return f"voicemail {render_playback(greeting.url)}"
    raise CommandError(f"a voicemail greeting is Say or Playback, got {type(greeting).__name__}")


def render(command: Command) -> str:
    """The one answer line for ``command``, without a line ending (the view may add "\\n")."""
    if isinstance(command, Playback):
        return render_playback(command.url)
    if isinstance(command, Transfer):
        return render_transfer(command.number)
    if isinstance(command, Say):
        return render_say(command.lang, command.text)
    if isinstance(command, Voicemail):
        return render_voicemail(command.greeting)
    raise CommandError(f"not a command: {type(command).__name__}")


# --- parser --------------------------------------------------------------------------------------


class _Cursor:
    """Walks one answer line left to right; every error names the column it happened at."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.position = 0

    def fail(self, reason: str, position: int | None = None) -> CommandError:
        return CommandError(reason, column=(self.position if position is None else position) + 1)

    def at_end(self) -> bool:
        return self.position == len(self.line)

    def word(self, what: str) -> str:
        """The token up to the next space or the end of the line."""
        start = self.position
        end = self.line.find(" ", start)
        end = len(self.line) if end == -1 else end
        if end == start:
            raise self.fail(f"expected {what}, got {self._describe_here()}")
        self.position = end
        return self.line[start:end]

    def space(self, after: str, expected: str) -> None:
        if self.at_end():
            raise self.fail(f"expected {expected} after {after!r}, got the end of the line")
        if self.line[self.position] != " ":
            raise self.fail(
                f"expected a single space after {after!r}, got {self.line[self.position]!r}"
            )
        self.position += 1
        if self.at_end():
            raise self.fail(f"expected {expected} after {after!r}, got a trailing space")
        if self.line[self.position] == " ":
            raise self.fail(f"expected exactly one space after {after!r}, got several")

    def end(self, after: str) -> None:
        if self.at_end():
            return
        if self.line[self.position] == " ":
            rest = self.line[self.position :]
            if rest.strip(" "):
                raise self.fail(f"unexpected extra argument after {after!r}: {_show(rest[1:])}")
            raise self.fail(f"trailing space after {after!r}")
        raise self.fail(f"unexpected {_show(self.line[self.position :])} after {after!r}")

    def quoted(self) -> str:
        start = self.position
        if self.line[start] != '"':
            raise self.fail(f"expected the text in double quotes, got {self._describe_here()}")
        characters: list[str] = []
        position = start + 1
        while True:
            if position >= len(self.line):
                raise self.fail("unterminated text: no closing double quote", start)
            character = self.line[position]
            if character == '"':
                break
            if character == "\\":
                following = self.line[position + 1 : position + 2]
                if following not in ('"', "\\"):
                    shown = repr(following) if following else "the end of the line"
                    raise self.fail(
                        f'invalid escape: a backslash must be followed by \\ or ", got {shown}',
                        position,
                    )
                characters.append(following)
                position += 2
                continue
            characters.append(character)
            position += 1
        self.position = position + 1
        text = "".join(characters)
        try:
            check_say_text(text)
        except CommandError as error:
            raise self.fail(error.reason, start) from None
        return text

    def _describe_here(self) -> str:
        if self.at_end():
            return "the end of the line"
        return _show(self.line[self.position : self.position + 20])


def split_answer(answer: str) -> str:
    """The single line of ``answer``: one trailing "\\n" or "\\r\\n" is tolerated, nothing else."""
    if answer.endswith("\r\n"):
        line = answer[:-2]
    elif answer.endswith("\n"):
        line = answer[:-1]
    else:
        line = answer
    if not line:
        raise CommandError("empty answer: expected one command line")
    for position, character in enumerate(line):
        if character == "\n":
            raise CommandError(
                "the answer has more than one line; Xoxzo executes exactly one command",
                column=position + 1,
            )
        if character == "\r":
            raise CommandError("stray carriage return in the answer", column=position + 1)
    return line


def parse(answer: str) -> Command:
    """Parse an action-URL answer into a command, or raise ``CommandError`` saying why not."""
    line = split_answer(answer)
    if line.startswith("\ufeff"):
        raise CommandError("the answer starts with a byte order mark", column=1)
    if line[0] == " ":
        raise CommandError("leading space before the command", column=1)
    before_text = line.split('"', 1)[0]  # a tab inside the text gets the text's own error
    if "\t" in before_text:
        raise CommandError(
            "tab in the answer; tokens are separated by single spaces",
            column=before_text.index("\t") + 1,
        )
    cursor = _Cursor(line)
    keyword = cursor.word("a command")
    if keyword == "voicemail":
        if cursor.at_end():
            return Voicemail()
        cursor.space("voicemail", "'say' or 'playback'")
        greeting_start = cursor.position
        greeting_keyword = cursor.word("'say' or 'playback'")
        if greeting_keyword not in ("say", "playback"):
            raise cursor.fail(
                f"expected 'say' or 'playback' after 'voicemail', got {_show(greeting_keyword)}",
                greeting_start,
            )
        greeting = _parse_arguments(cursor, greeting_keyword, "voicemail ")
        assert not isinstance(greeting, Transfer)  # the keyword was say or playback
        return Voicemail(greeting)
    if keyword in ("playback", "transfer", "say"):
        return _parse_arguments(cursor, keyword, "")
    hint = " (commands are lowercase)" if keyword.lower() in COMMANDS else ""
    raise CommandError(
        f"unknown command {_show(keyword)}{hint}; expected one of {', '.join(COMMANDS)}",
        column=1,
    )


def _parse_arguments(cursor: _Cursor, keyword: str, prefix: str) -> Say | Playback | Transfer:
    """Arguments of ``keyword`` up to the end of the line (``prefix`` names it in errors)."""
    name = prefix + keyword
    if keyword == "playback":
        cursor.space(name, "an MP3 URL")
        start = cursor.position
        url = cursor.word("an MP3 URL")
        _checked(cursor, check_url, url, start)
        cursor.end(name + " URL")
        return Playback(url)
    if keyword == "transfer":
        cursor.space(name, "a number")
        start = cursor.position
        number = cursor.word("a number")
        _checked(cursor, check_number, number, start)
        cursor.end(name + " number")
        return Transfer(number)
    cursor.space(name, "a language ('ja' or 'en')")
    start = cursor.position
    lang = cursor.word("a language ('ja' or 'en')")
    _checked(cursor, check_lang, lang, start)
    cursor.space(f"{name} {lang}", "the text in double quotes")
    text = cursor.quoted()
    cursor.end(name + " text")
    return Say(lang, text)


def _checked(cursor: _Cursor, check, value: str, start: int) -> None:
    try:
        check(value)
    except CommandError as error:
        raise cursor.fail(error.reason, start) from None

"""The portal's side of the carrier's grammar: turning actions into one answer line.

This is the only place that knows how Xoxzo reads an action-URL answer: one line,
a command and space-separated arguments, text in double quotes, E.164 numbers with "+", MP3
URLs whose path holds only ``[A-Za-z0-9_/-]``. Its inverse is the sandbox's strict parser
(``sandbox.grammar.parse``), written separately from the carrier's documentation;
``callflows/tests/test_grammar_carrier.py`` holds the two together.

Pure functions, no Django: the action URL only ever serves lines rendered here at compile time.
"""

import re
import unicodedata

MAX_SAY_LENGTH = 500  # characters the carrier reads in one answer (about a minute of speech)
LANGUAGES = ("ja", "en")

# Control characters, line and paragraph separators, lone surrogates: never in a say text.
_UNSAYABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|[\r\n\t\u2028\u2029])\s*")
_MP3_PATH = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9_/-]*[A-Za-z0-9_-]\.mp3)$")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class UnsayableText(ValueError):
    """The text cannot become a ``say`` argument; the message says why."""


def say_text_clean(text: str) -> str:
    """What the carrier will read for ``text`` as typed, or ``UnsayableText``.

    Line breaks and tabs (a text typed over several lines) become single spaces and the ends
    are trimmed; any other control character is refused, as are empty and too long texts.
    """
    text = unicodedata.normalize("NFC", _LINE_BREAKS.sub(" ", text)).strip()
    if not text:
        raise UnsayableText("empty")
    if len(text) > MAX_SAY_LENGTH:
        raise UnsayableText(f"{len(text)} characters, at most {MAX_SAY_LENGTH}")
    bad = _UNSAYABLE.search(text)
    if bad:
        raise UnsayableText(f"control character U+{ord(bad.group()):04X} at {bad.start() + 1}")
    return text


def say(lang: str, text: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    quoted = say_text_clean(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'say {lang} "{quoted}"'


def playback(url: str) -> str:
    if not _MP3_PATH.match(url):
        raise ValueError(f"not a URL the carrier can play: {url!r}")
    return f"playback {url}"


def transfer(number: str) -> str:
    if not _E164.match(number):
        raise ValueError(f"not an E.164 number: {number!r}")
    return f"transfer {number}"


def voicemail(greeting: str | None = None) -> str:
    """``greeting`` is a rendered ``say …`` or ``playback …`` line, or None."""
    if greeting is not None and not greeting.startswith(("say ", "playback ")):
        raise ValueError("a voicemail greeting is a say or playback line")
    return "voicemail" if greeting is None else f"voicemail {greeting}"


FALLBACK = voicemail()

"""The strict action-URL grammar and its renderer, held together by property tests."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.grammar import (
    MAX_SAY_TEXT_LENGTH,
    MAX_URL_LENGTH,
    CommandError,
    Playback,
    Say,
    Transfer,
    Voicemail,
    parse,
    render,
    render_playback,
    render_say,
    render_say_text,
    render_transfer,
    render_voicemail,
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# The code points the TEXT RULES forbid, written out independently of the implementation.
FULL_WIDTH_DIGITS = {ord("0") + digit: 0xFF10 + digit for digit in range(10)}
FORBIDDEN = {*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000)}


# --- the six command forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "command"),
    [
        # Xoxzo's own examples, verbatim
        ("playback http://example.com/greeting.mp3", Playback("http://example.com/greeting.mp3")),
        ("transfer +81336042000", Transfer("+81336042000")),
        ("voicemail", Voicemail()),
        (
            'voicemail say en "Hello, you have reached my voicemail. ..."',
            Voicemail(Say("en", "Hello, you have reached my voicemail. ...")),
        ),
        # the other two forms
        ('say ja "お電話ありがとうございます。"', Say("ja", "お電話ありがとうございます。")),
        (
            "voicemail playback https://cdn.example.co.jp:8443/a_b/c-d/greeting-2.mp3",
            Voicemail(Playback("https://cdn.example.co.jp:8443/a_b/c-d/greeting-2.mp3")),
        ),
    ],
)
def test_it_parses_each_command_form(answer, command):
    assert parse(answer) == command
    assert render(command) == answer


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_it_tolerates_one_trailing_line_ending(ending):
    assert parse("voicemail" + ending) == Voicemail()
    assert parse('say en "hi"' + ending) == Say("en", "hi")


def test_it_keeps_spaces_inside_the_text():
    assert parse('say en "  two  spaces  "') == Say("en", "  two  spaces  ")


def test_it_unescapes_quotes_and_backslashes():
    assert parse(r'say en "She said \"hi\" \\ bye\\"') == Say("en", 'She said "hi" \\ bye\\')


def test_it_accepts_an_ipv4_ipv6_and_single_label_host():
    for url in ["http://127.0.0.1:8000/a.mp3", "http://[::1]/a.mp3", "http://localhost/x/y.mp3"]:
        assert parse(f"playback {url}") == Playback(url)


def test_it_accepts_an_italian_number_whose_zero_belongs_to_it():
    # +39 06 … is Rome: the 0 is part of the national number, not a trunk prefix.
    assert parse("transfer +390612345678") == Transfer("+390612345678")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("\n", "empty answer"),
        ("\r\n", "empty answer"),
        ("voicemail\n\n", "more than one line"),
        ("voicemail\nvoicemail", "more than one line"),
        ("\nvoicemail", "more than one line"),
        ("voicemail\r", "stray carriage return"),
        ("\ufeffvoicemail", "byte order mark"),
        (" voicemail", "leading space"),
        ("voicemail ", "trailing space"),
        ('say\ten "x"', "tab"),
        ("hello world", "unknown command 'hello'"),
        ("Voicemail", "commands are lowercase"),
        ("hangup", "unknown command"),
        ("voicemail record", "expected 'say' or 'playback' after 'voicemail'"),
        ("voicemail voicemail", "expected 'say' or 'playback'"),
        ("voicemail transfer +81336042000", "expected 'say' or 'playback'"),
        ("playback", "expected an MP3 URL after 'playback'"),
        ("playback  http://a.example/x.mp3", "exactly one space"),
        ("playback http://a.example/x.mp3 http://a.example/y.mp3", "extra argument"),
        ("transfer", "expected a number"),
        ("transfer +81336042000 now", "extra argument"),
        ("say", "expected a language"),
        ("say en", "expected the text in double quotes after 'say en'"),
        ('say fr "bonjour"', "expected a language 'ja' or 'en', got 'fr'"),
        ('say EN "hi"', "expected a language 'ja' or 'en'"),
        ("say en hello", "expected the text in double quotes"),
        ("say en 'hello'", "expected the text in double quotes"),
        ('say en "unterminated', "unterminated text"),
        ('say en "a"b"', "unexpected 'b\"'"),
        ('say en "a" "b"', "extra argument"),
        ('say en "line\\nbreak"', "invalid escape"),
        ('say en "tab\\t"', "invalid escape"),
        ('say en "ends with backslash\\"', "unterminated text"),
        ('say en "x\\', "invalid escape"),
        ('say en ""', "text to say is empty"),
        ('say en "   "', "only whitespace"),
        ('say en "a\tb"', "U+0009"),
        ('say en "a\u2028b"', "U+2028"),
        ('say en "bell\x07"', "U+0007"),
        ('voicemail say en ""', "empty"),
        ("voicemail playback http://a.example/x.wav", "lowercase .mp3 suffix"),
    ],
)
def test_it_refuses_a_malformed_answer_saying_why(answer, reason):
    with pytest.raises(CommandError) as raised:
        parse(answer)
    assert reason in str(raised.value)


def test_it_says_at_which_column_the_error_is():
    with pytest.raises(CommandError) as raised:
        parse('say fr "bonjour"')
    assert raised.value.column == 5
    assert str(raised.value).startswith("column 5: ")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.mp3", "http:// or https://"),
        ("HTTP://example.com/a.mp3", "http:// or https://"),
        ("example.com/a.mp3", "http:// or https://"),
        ("http://example.com/a.mp3?v=2", "query string"),
        ("http://example.com/a.mp3#t=1", "query string or fragment"),
        ("http://user:pw@example.com/a.mp3", "user info"),
        ("http://example.com/a.MP3", "lowercase .mp3"),
        ("http://example.com/a.mp3.mp3", "path of only"),
        ("http://example.com/a.b/c.mp3", "path of only"),
        ("http://example.com/a%20b.mp3", "path of only"),
        ("http://example.com/ア.mp3", "path of only"),
        ("http://example.com/.mp3", "path of only"),
        ("http://example.com/dir/.mp3", "path of only"),
        ("http://example.com/a.mp", "path of only"),
        ("http://example.com", "path of only"),
        ("http:///a.mp3", "path of only"),
        ("http://exa_mple.com/a.mp3", "path of only"),
        ("http://-bad.example/a.mp3", "invalid host name"),
        ("http://a..example/a.mp3", "invalid host name"),
        ("http://" + "a" * 64 + ".example/a.mp3", "invalid host name"),
        ("http://300.1.1.1/a.mp3", "invalid IPv4 host"),
        ("http://[1::2::3]/a.mp3", "invalid IPv6 host"),
        ("http://example.com:0/a.mp3", "port 0"),
        ("http://example.com:70000/a.mp3", "port 70000"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH + ".mp3", "at most 1024"),
    ],
)
def test_it_refuses_an_mp3_url_xoxzo_would_not_fetch(url, reason):
    with pytest.raises(CommandError) as raised:
        parse(f"playback {url}")
    assert reason in str(raised.value)
    with pytest.raises(CommandError):
        render_playback(url)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+810336042000", "trunk prefix after country code +81; write it as +81336042000"),
        ("+8109012345678", "trunk prefix"),
        ("81336042000", "'+' and 8-15 digits"),
        ("0336042000", "'+' and 8-15 digits"),
        ("+81-3-3604-2000", "'+' and 8-15 digits"),
        ("+1234567", "'+' and 8-15 digits"),
        ("+1234567890123456", "'+' and 8-15 digits"),
        ("+" + "81336042000".translate(FULL_WIDTH_DIGITS), "'+' and 8-15 digits"),
        ("+12345678", "not a valid number"),
        ("+81123", "'+' and 8-15 digits"),
        ("+999123456789", "not a phone number"),
    ],
)
def test_it_refuses_a_transfer_number_xoxzo_would_refuse(number, reason):
    with pytest.raises(CommandError) as raised:
        parse(f"transfer {number}")
    assert reason in str(raised.value)
    with pytest.raises(CommandError):
        render_transfer(number)


def test_it_limits_the_text_length_in_characters_not_bytes():
    longest = "あ" * MAX_SAY_TEXT_LENGTH
    assert parse(render_say("ja", longest)) == Say("ja", longest)
    with pytest.raises(CommandError, match="at most 500"):
        render_say("ja", longest + "あ")
    with pytest.raises(CommandError, match="at most 500"):
        parse(f'say ja "{longest}あ"')


# --- the renderer ------------------------------------------------------------------------------


def test_it_renders_each_command_in_its_one_canonical_form():
    assert render_say_text('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert render_say("en", "hi") == 'say en "hi"'
    assert render_playback("http://a.example/b.mp3") == "playback http://a.example/b.mp3"
    assert render_transfer("+81336042000") == "transfer +81336042000"
    assert render_voicemail() == "voicemail"
    assert render_voicemail(Say("ja", "はい")) == 'voicemail say ja "はい"'
    assert render_voicemail(Playback("http://a.example/b.mp3")) == (
        "voicemail playback http://a.example/b.mp3"
    )


@pytest.mark.parametrize(
    "command",
    [
        Say("fr", "bonjour"),
        Say("en", ""),
        Say("en", "two\nlines"),
        Playback("http://a.example/b.wav"),
        Transfer("+810336042000"),
        Voicemail(Transfer("+81336042000")),
        "voicemail",
    ],
)
def test_it_refuses_to_render_what_the_parser_would_refuse(command):
    with pytest.raises(CommandError):
        render(command)


# --- properties --------------------------------------------------------------------------------


def _acceptable(text: str) -> bool:
    """The TEXT RULES restated from the module docstring, independently of check_say_text."""
    return (
        0 < len(text) <= MAX_SAY_TEXT_LENGTH
        and not any(ord(character) in FORBIDDEN for character in text)
        and not text.isspace()
    )


# Texts rich in the characters quoting must get right, plus any Unicode at all.
tricky_texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", " ", "a", "あ", "\u3000", "'", "\n", "😀", "\u200d"]),
        st.characters(),
    ),
    max_size=60,
)


@PROPERTY_SETTINGS
@given(text=tricky_texts, lang=st.sampled_from(["ja", "en"]), voicemail=st.booleans())
@example(text='\\"', lang="en", voicemail=False)
@example(text="x" * MAX_SAY_TEXT_LENGTH, lang="ja", voicemail=True)
def test_it_gives_back_any_text_the_renderer_accepts(text, lang, voicemail):
    try:
        line = render_say(lang, text)
    except CommandError:
        assert not _acceptable(text)
        return
    assert _acceptable(text)
    command = Voicemail(Say(lang, text)) if voicemail else Say(lang, text)
    line = render(command)
    assert "\n" not in line and "\r" not in line
    assert parse(line) == command
    assert parse(line + "\r\n") == command


@PROPERTY_SETTINGS
@given(text=st.text(max_size=MAX_SAY_TEXT_LENGTH + 5))
def test_it_renders_exactly_the_texts_the_rules_allow(text):
    if _acceptable(text):
        assert parse(render_say("en", text)) == Say("en", text)
    else:
        with pytest.raises(CommandError):
            render_say_text(text)


urls = st.builds(
    "{}://{}{}/{}.mp3".format,
    st.sampled_from(["http", "https"]),
    st.sampled_from(["example.com", "127.0.0.1", "a-b.example.co.jp", "[2001:db8::1]"]),
    st.sampled_from(["", ":80", ":8443"]),
    st.from_regex(r"[A-Za-z0-9_/-]{0,30}[A-Za-z0-9_-]", fullmatch=True),
)
numbers = st.sampled_from(
    ["+81336042000", "+815012345678", "+819012345678", "+14155552671", "+390612345678"]
)
sayings = st.builds(Say, st.sampled_from(["ja", "en"]), tricky_texts.filter(_acceptable))
commands = st.one_of(
    st.builds(Playback, urls),
    st.builds(Transfer, numbers),
    sayings,
    st.builds(Voicemail, st.one_of(st.none(), sayings, st.builds(Playback, urls))),
)


@PROPERTY_SETTINGS
@given(command=commands)
def test_it_round_trips_every_command(command):
    line = render(command)
    assert parse(line) == command
    assert parse(line + "\n") == command


fragments = st.sampled_from(
    [
        "playback",
        "transfer",
        "say",
        "voicemail",
        "ja",
        "en",
        " ",
        "  ",
        '"',
        "\\",
        '\\"',
        "\n",
        "\r\n",
        "\t",
        "http://a.example/b.mp3",
        "https://127.0.0.1:99999/x.mp3",
        "+81336042000",
        "+810336042000",
        "+",
        "999999999999999",
        "あ",
        "\x00",
        "\ud800",
    ]
)
near_misses = st.lists(st.one_of(fragments, st.text(max_size=3)), max_size=8).map("".join)


@PROPERTY_SETTINGS
@given(answer=st.one_of(st.text(), near_misses))
@example(answer='say en "a\\')
@example(answer="transfer +" + "9" * 15)
def test_it_raises_nothing_but_command_error_and_accepts_only_canonical_lines(answer):
    try:
        command = parse(answer)
    except CommandError as error:
        assert error.reason
        return
    # Whatever it accepts has exactly one form: the renderer gives the line back.
    assert render(command) in (answer, answer.removesuffix("\n"), answer.removesuffix("\r\n"))

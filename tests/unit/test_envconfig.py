"""The shared settings reader, one row per input: what each cast accepts, what it refuses, and that
every refusal names the variable and what it allows (and never shows a secret)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from envconfig import Config, ConfigError, Invalid, address, boolean, choice, duration, integer, number, secret, url


def read(raw: str, cast: Callable[[str], Any]) -> Any:
    return Config({"SETTING": raw})("SETTING", cast)


def refusal(raw: str, cast: Callable[[str], Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        read(raw, cast)
    return str(refused.value)


# ------------------------------------------------------------ the reader


def test_unset_and_blank_take_the_default_which_is_cast_too() -> None:
    config = Config({"BLANK": "  ", "SET": "7"})
    assert config("UNSET", integer(0, 10), default="3") == 3
    assert config("BLANK", integer(0, 10), default="3") == 3
    assert config("SET", integer(0, 10), default="3") == 7
    assert config("UNSET", default="plain") == "plain"
    with pytest.raises(ConfigError, match=r"^UNSET must be between 0 and 10, got '30'$"):
        config("UNSET", integer(0, 10), default="30")


def test_a_required_variable_says_it_is_not_set_and_what_to_set() -> None:
    config = Config({"BLANK": ""})
    with pytest.raises(ConfigError, match=r"^NEEDED is not set$"):
        config("NEEDED")
    with pytest.raises(ConfigError, match=r"^BLANK is not set: a bearer token$"):
        config("BLANK", secret, help="a bearer token")


def test_optional_is_none_when_unset_or_blank_and_cast_when_set() -> None:
    config = Config({"BLANK": "\t", "PORT": "h:1"})
    assert config.optional("UNSET") is None
    assert config.optional("BLANK", address) is None
    assert config.optional("PORT", address) == "h:1"
    with pytest.raises(ConfigError, match="BAD must be host:port"):
        Config({"BAD": "h"}).optional("BAD", address)


def test_text_is_kept_exactly_as_set() -> None:
    assert Config({"NAME": " a b "})("NAME") == " a b "
    assert Config({"NAME": " a b "}).raw("NAME") == " a b "
    assert Config({"NAME": " "}).raw("NAME") is None


def test_names_lists_the_set_variables_with_a_prefix() -> None:
    config = Config({"P_B": "1", "P_A": "1", "P_BLANK": " ", "Q_A": "1"})
    assert config.names("P_") == ["P_A", "P_B"]


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVCONFIG_TEST_SETTING", "42")
    assert Config()("ENVCONFIG_TEST_SETTING", integer(0, 100)) == 42


def test_a_cast_naming_its_variable_itself_is_passed_through() -> None:
    def projects(raw: str) -> str:
        raise ConfigError(f"PROJECTS: {raw!r} is not 'org/project'")

    assert refusal("x", projects) == "PROJECTS: 'x' is not 'org/project'"


def test_a_plain_callable_s_error_is_named() -> None:
    assert refusal("x", int) == "SETTING is invalid: invalid literal for int() with base 10: 'x'"


def test_a_cast_may_keep_the_value_out_of_the_message() -> None:
    def hidden(raw: str) -> str:
        raise Invalid("a good one", echo=False, shown="a bad one")

    assert refusal("s3cr3t", hidden) == "SETTING must be a good one, got a bad one"


# ------------------------------------------------------------ integers

INTEGERS_ACCEPTED = [("5", 5), (" 5 ", 5), ("+5", 5), ("1", 1), ("10", 10), ("007", 7)]


@pytest.mark.parametrize(("raw", "value"), INTEGERS_ACCEPTED)
def test_integers_accepted(raw: str, value: int) -> None:
    assert read(raw, integer(1, 10)) == value


INTEGERS_REFUSED = [
    ("0", "SETTING must be between 1 and 10, got '0'"),
    ("11", "SETTING must be between 1 and 10, got '11'"),
    ("-1", "SETTING must be between 1 and 10, got '-1'"),
    ("2.5", "SETTING must be a whole number, got '2.5'"),
    ("1_0", "SETTING must be a whole number, got '1_0'"),
    ("٣", "SETTING must be a whole number, got '٣'"),  # int() takes Arabic-Indic digits; we do not
    ("\uff15", "SETTING must be a whole number, got '\uff15'"),  # nor full-width ones
    ("1e1", "SETTING must be a whole number, got '1e1'"),
    ("lots", "SETTING must be a whole number, got 'lots'"),
    ("0x5", "SETTING must be a whole number, got '0x5'"),
]


@pytest.mark.parametrize(("raw", "message"), INTEGERS_REFUSED)
def test_integers_refused(raw: str, message: str) -> None:
    assert refusal(raw, integer(1, 10)) == message


def test_an_integer_range_can_say_why() -> None:
    assert refusal("0", integer(1, 100_000, "open connections")) == (
        "SETTING must be between 1 and 100000 (open connections), got '0'"
    )


# ------------------------------------------------------------ numbers and durations

NUMBERS_ACCEPTED = [("2", 2.0), ("2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e1", 10.0), (" 3 ", 3.0)]


@pytest.mark.parametrize(("raw", "value"), NUMBERS_ACCEPTED)
def test_numbers_accepted(raw: str, value: float) -> None:
    assert read(raw, number(0.5, 10)) == value


NUMBERS_REFUSED = [
    ("nan", "SETTING must be a number, got 'nan'"),
    ("inf", "SETTING must be a number, got 'inf'"),
    ("1e999", "SETTING must be a finite number, got '1e999'"),
    ("1_0", "SETTING must be a number, got '1_0'"),
    ("٣", "SETTING must be a number, got '٣'"),
    ("soon", "SETTING must be a number, got 'soon'"),
    ("0.25", "SETTING must be between 0.5 and 10, got '0.25'"),
    ("10.5", "SETTING must be between 0.5 and 10, got '10.5'"),
]


@pytest.mark.parametrize(("raw", "message"), NUMBERS_REFUSED)
def test_numbers_refused(raw: str, message: str) -> None:
    assert refusal(raw, number(0.5, 10)) == message


DURATIONS_ACCEPTED = [
    ("30", 30.0),
    ("2.5", 2.5),
    ("500ms", 0.5),
    ("30s", 30.0),
    ("2m", 120.0),
    ("1h", 3600.0),
    (" 1.5 m ", 90.0),
]


@pytest.mark.parametrize(("raw", "seconds"), DURATIONS_ACCEPTED)
def test_durations_accepted_in_seconds(raw: str, seconds: float) -> None:
    assert read(raw, duration(0.1, 3600)) == seconds


DURATIONS_REFUSED = [
    ("soon", "must be a number of seconds, or a duration like '500ms', '30s', '2m' or '1h', got 'soon'"),
    ("5 minutes", "must be a number of seconds, or a duration like '500ms', '30s', '2m' or '1h'"),
    ("1d", "must be a number of seconds, or a duration like"),
    ("nan", "must be a number of seconds"),
    ("50ms", "must be between 0.1 and 3600 seconds, got '50ms'"),
    ("2h", "must be between 0.1 and 3600 seconds, got '2h'"),
    ("-1", "must be between 0.1 and 3600 seconds"),
]


@pytest.mark.parametrize(("raw", "message"), DURATIONS_REFUSED)
def test_durations_refused(raw: str, message: str) -> None:
    text = refusal(raw, duration(0.1, 3600))
    assert text.startswith("SETTING ")
    assert message in text


# ------------------------------------------------------------ booleans, choices, URLs, addresses, secrets

BOOLEANS = [
    *[(word, True) for word in ("on", "true", "yes", "1", "ON", "True", " yes ")],
    *[(word, False) for word in ("off", "false", "no", "0", "OFF", "False")],
]


@pytest.mark.parametrize(("raw", "value"), BOOLEANS)
def test_booleans_accepted(raw: str, value: bool) -> None:
    assert read(raw, boolean) is value


@pytest.mark.parametrize("raw", ["maybe", "y", "enabled", "2", "onn"])
def test_booleans_refused_with_the_words_allowed(raw: str) -> None:
    assert refusal(raw, boolean) == (f"SETTING must be one of on/off, true/false, yes/no, 1/0, got {raw!r}")


def test_choices() -> None:
    assert read("json", choice("text", "json")) == "json"
    assert refusal("xml", choice("text", "json")) == "SETTING must be 'text' or 'json', got 'xml'"
    assert refusal("JSON", choice("text", "json")) == "SETTING must be 'text' or 'json', got 'JSON'"
    assert read("Json", choice("text", "json", fold_case=True)) == "json"
    assert refusal("b", choice("x", "y", "z")) == "SETTING must be one of 'x', 'y', 'z', got 'b'"


URLS_ACCEPTED = ["http://h", "https://h.example:8443/api/v2", "HTTPS://H", "http://[::1]:80/x"]


@pytest.mark.parametrize("raw", URLS_ACCEPTED)
def test_urls_accepted(raw: str) -> None:
    assert read(raw, url("http", "https")) == raw


URLS_REFUSED = [
    ("ftp://h", "SETTING must be an http(s) URL, got 'ftp://h'"),
    ("h.example", "SETTING must be an http(s) URL, got 'h.example'"),
    ("https://", "SETTING must be an http(s) URL, got 'https://'"),
    ("https://h:port", "SETTING must be an http(s) URL, got 'https://h:port'"),
    ("https://h:99999", "SETTING must be an http(s) URL, got 'https://h:99999'"),
    ("https://exämple.com", "SETTING must be an http(s) URL, got 'https://exämple.com'"),
    ("https://h x", "SETTING must be an http(s) URL, got 'https://h x'"),
    ("https://user:pw@", "SETTING must be an http(s) URL, got a URL with credentials"),
]


@pytest.mark.parametrize(("raw", "message"), URLS_REFUSED)
def test_urls_refused(raw: str, message: str) -> None:
    assert refusal(raw, url("http", "https")) == message


def test_a_url_with_credentials_is_accepted_but_never_echoed() -> None:
    assert read("https://u:pw@h", url("https")) == "https://u:pw@h"
    assert "pw" not in refusal("ftp://u:pw@h", url("https"))
    assert refusal("ftp://h", url("wss", what="the socket's URL")) == "SETTING must be the socket's URL, got 'ftp://h'"


@pytest.mark.parametrize(("raw", "value"), [("h:1", "h:1"), ("0.0.0.0:65535", "0.0.0.0:65535"), (":9", ":9")])
def test_addresses_accepted(raw: str, value: str) -> None:
    assert read(raw, address) == value


@pytest.mark.parametrize("raw", ["h", "h:0", "h:65536", "h:x", "h:+1", "h:٣", "a b:1"])
def test_addresses_refused(raw: str) -> None:
    assert refusal(raw, address) == f"SETTING must be host:port, got {raw!r}"


def test_a_secret_is_kept_exactly_and_never_shown() -> None:
    assert read(" p w ", secret) == " p w "
    for raw in ("s3cr3t\n", "s3\x00cr3t", "s3cr3t\r"):
        text = refusal(raw, secret)
        assert text == "SETTING must be printable text (no newline or control characters)"
        assert "s3" not in text

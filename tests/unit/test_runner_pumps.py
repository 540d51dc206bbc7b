"""Reading connector output: METRIC sums, ERROR lines, STATE lines, redaction, metrics file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from runner.isolation import Redactor, child_env
from runner.metrics_file import render, write_metrics_file
from runner.pumps import LineBuffer, SideStats, StateReader, error_message
from runner.stores.base import RunRecord


def test_metric_lines_are_summed_per_stream() -> None:
    stats = SideStats()
    sdk = '2026-01-01 00:00:00,001 | INFO | singer_sdk.metrics | METRIC: {"type":"counter","metric":"record_count",' \
          '"value":3,"tags":{"stream":"a","pid":1,"context":{}}}'
    assert stats.take(sdk)
    assert stats.take('METRIC: {"type": "counter", "metric": "record_count", "value": 4, "tags": {"stream": "a"}}')
    assert stats.take('METRIC: {"type": "counter", "metric": "record_count", "value": 2, "tags": {"stream": "b"}}')
    assert stats.take('METRIC: {"type": "timer", "metric": "sync_duration", "value": 9.5, "tags": {"stream": "a"}}')
    assert stats.counts == {"a": 7, "b": 2} and stats.total == 9 and stats.reported
    assert not stats.take("METRIC-ish but not: {")


def test_error_lines() -> None:
    assert error_message("2024-01-01 00:00:00,000 | ERROR    | sluice.cli | line 3: bad") == "line 3: bad"
    assert error_message("2026 | ERROR    | tap-jsonl.items                | An error") == "An error"
    assert error_message("CRITICAL: disk on fire") == "disk on fire"
    assert error_message("INFO all good, no ERROR_CODE here") is None
    stats = SideStats()
    for line in ["Traceback (most recent call last):", "ERROR boom", "  File x", "ValueError: nope"]:
        stats.take(line)
    assert stats.last_error == "boom" and stats.last_line == "ValueError: nope"
    for line in ["2024-01-01 00:00:00,000 | INFO     | t | committed 80", "DEBUG:root:x", 'level=info msg="ok"']:
        stats.take(line)
    assert stats.last_line == "ValueError: nope"  # routine log lines never become a failure's reason
    assert not stats.broken_pipe


@pytest.mark.parametrize("line", [
    "BrokenPipeError: [Errno 32] Broken pipe",
    "2026 | ERROR | tap-x | the program reading our output closed the pipe; stopping",
    "write /dev/stdout: broken pipe",
    "Error: write EPIPE",
])
def test_a_broken_pipe_is_recognised(line: str) -> None:
    stats = SideStats()
    stats.take(line)
    assert stats.broken_pipe


def test_line_buffer_joins_chunks() -> None:
    buf = LineBuffer()
    assert buf.feed(b"ab") == []
    assert buf.feed(b"c\nde\nf") == [b"abc", b"de"]
    assert buf.close() == [b"f"]


def test_state_reader_takes_bare_values_and_messages_and_stores_the_last_of_a_chunk() -> None:
    stored: list[dict[str, Any]] = []
    other: list[str] = []
    reader = StateReader(stored.append, other.append)
    reader.feed(b'{"bookmarks": {"a": 1}}\n{"type": "STATE", "value": {"bookmarks": {"a": 2}}}\nnot json\n{"x"')
    assert stored == [{"bookmarks": {"a": 2}}] and other == ["not json"]
    reader.feed(b': 1}\n{"type": "RECORD", "stream": "s", "record": {}}\n')
    reader.close()
    assert stored[-1] == {"x": 1} and reader.states == 3
    reader.feed(b'{"n": 12345678901234567890.5}\n')
    assert str(stored[-1]["n"]) == "12345678901234567890.5"  # exact numbers


def test_redactor_hides_secrets_and_their_json_forms() -> None:
    redact = Redactor(["pa\"ss-123", "ab"])  # too short to redact safely: kept
    assert redact('x pa"ss-123 y {"k": "pa\\"ss-123"} ab') == 'x ******** y {"k": "********"} ab'
    assert not Redactor([]) and Redactor([]).__call__("text") == "text"


# secrets overlapping every way: a prefix of another (abc / abcdef / abcdefgh), one inside
# another (cde), a suffix (def, efgh), and each also standing alone
_OVERLAPPING = ["abc", "abcdef", "cde", "def", "abcdefgh", "efgh", "bcdefg"]


def test_redactor_with_overlapping_secrets_leaves_no_tail() -> None:
    pair = Redactor(["abc", "abcdef"])
    assert pair("key=abcdef; abc") == "key=********; ********"  # not "********def"
    assert Redactor(["secret", "secret-key-9"])("k: secret-key-9") == "k: ********"  # not "********-key-9"
    redact = Redactor(_OVERLAPPING)
    assert redact("key=abcdef;") == "key=********;"  # not "****************"
    assert redact("abcdefgh") == "********"  # not "********gh" nor two masks
    assert redact("[xbcdefgx]") == "[x********x]"


def test_redactor_oracle_on_secrets_at_different_positions() -> None:
    """Texts made of whole secrets joined by filler from another alphabet: redaction must turn
    each secret into exactly one mask and keep every filler (an oracle in plain Python)."""
    import random

    rng = random.Random(1234)
    redact = Redactor(_OVERLAPPING)
    fillers = ["-", " ", "=", "..", "XY", "1", " :: ", "[", "]"]
    for _ in range(300):
        secrets = [rng.choice(_OVERLAPPING) for _ in range(rng.randint(1, 6))]
        gaps = [rng.choice(fillers) for _ in range(len(secrets) + 1)]
        if rng.random() < 0.3:
            gaps[0] = ""  # a secret at the very start
        if rng.random() < 0.3:
            gaps[-1] = ""  # ... and at the very end
        text = gaps[0] + "".join(s + g for s, g in zip(secrets, gaps[1:], strict=True))
        expected = gaps[0] + "".join("********" + g for g in gaps[1:])
        assert redact(text) == expected, text


def test_redactor_hides_the_longest_of_overlapping_secrets_whole_and_secrets_of_three_characters() -> None:
    # "tok" is a prefix of "token-9f8e" (and the shorter sorts first): the longer must win, or its tail leaks
    for secrets in (["tok", "token-9f8e"], ["token-9f8e", "tok"]):
        redact = Redactor(secrets)
        assert redact("a token-9f8e b tok c") == "a ******** b ******** c"
        assert redact
    assert Redactor(["xyz"])("key xyz") == "key ********"  # three characters are enough to redact


def test_child_env_is_minimal() -> None:
    env = child_env({"A": "1"}, {"PATH": "/bin", "HOME": "/h", "LANG": "C", "SECRET": "x", "VIRTUAL_ENV": "/v"})
    assert env == {"PATH": "/bin", "HOME": "/h", "LANG": "C", "A": "1"}


def test_metrics_file_is_complete_and_atomic(tmp_path: Path) -> None:
    runs = [
        RunRecord(1, "a", "a", 100.0, 112.5, "succeeded", 10, 10, None, "h", 1),
        RunRecord(2, 'b"q', "b", 100.0, 101.0, "failed", 5, 3, "boom", "h", 1),
    ]
    text = render(runs)
    assert 'sluice_last_run_success{pipeline="a",state_id="a"} 1\n' in text
    assert 'sluice_last_run_success{pipeline="b\\"q",state_id="b"} 0\n' in text
    assert 'sluice_last_run_duration_seconds{pipeline="a",state_id="a"} 12.5\n' in text
    assert 'sluice_last_run_records{pipeline="b\\"q",state_id="b"} 3\n' in text
    assert 'sluice_last_run_timestamp_seconds{pipeline="a",state_id="a"} 112.5\n' in text
    assert text.count("# TYPE ") == 5
    target = tmp_path / "m" / "sluice.prom"
    write_metrics_file(target, runs)
    assert target.read_text() == text and [p.name for p in target.parent.iterdir()] == ["sluice.prom"]
    assert json.dumps(runs[0].to_dict())


def test_interpolated_strings_are_coerced_to_the_settings_types() -> None:
    from runner.connectors import coerce_config

    info = {"settings": {"properties": {
        "port": {"type": "integer"}, "ratio": {"type": ["number", "null"]}, "on": {"type": "boolean"},
        "tags": {"type": "array"}, "name": {"type": ["string", "integer"]}, "bad": {"type": "integer"}}}}
    config = {"port": "5432", "ratio": "0.5", "on": "true", "tags": '["a"]', "name": "7", "bad": "x", "other": "1"}
    assert coerce_config(config, info) == {
        "port": 5432, "ratio": 0.5, "on": True, "tags": ["a"], "name": "7", "bad": "x", "other": "1"}
    assert coerce_config(config, None) == config


def test_redactor_hides_url_encoded_secrets() -> None:
    """A third-party tap's HTTP error quotes the URL: an API key with '+', '/' or '=' appears
    percent-encoded there (and a password with '@' in a DSN), which the runner did not hide."""
    redact = Redactor(["Xy7+Qa/9Lk=="])
    assert redact("401 for url: http://h/data?api_key=Xy7%2BQa%2F9Lk%3D%3D") == "401 for url: http://h/data?api_key=********"
    assert redact("q=Xy7%2BQa%2F9Lk%3D%3D&r=Xy7+Qa/9Lk==") == "q=********&r=********"


def test_metrics_file_has_one_series_per_state_id() -> None:
    """Two environments of one pipeline (state ids prod:p and dev:p): dev's success must not hide
    prod's failure, whichever ran last."""
    runs = [RunRecord(1, "p", "prod:p", 100.0, 101.0, "failed", 1, 0, "boom", "h", 1),
            RunRecord(2, "p", "dev:p", 200.0, 201.0, "succeeded", 1, 1, None, "h", 1)]
    lines = [line for line in render(runs).splitlines() if line.startswith("sluice_last_run_success")]
    assert lines == ['sluice_last_run_success{pipeline="p",state_id="dev:p"} 1',
                     'sluice_last_run_success{pipeline="p",state_id="prod:p"} 0']


def _escapes(secret: str) -> list[str]:
    """The forms a secret takes in other programs' words (an oracle written apart from the Redactor)."""
    from urllib.parse import quote, quote_plus

    go = json.dumps(secret).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")[1:-1]
    return [
        secret,
        json.dumps(secret)[1:-1],  # Python's json: \u00e9
        re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps(secret)[1:-1]),  # upper hex
        json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/"),  # PHP's \/
        go,  # Go's HTML-safe escapes
        json.dumps(json.dumps(secret))[3:-3],  # JSON in JSON: doubled backslashes
        quote(secret, safe=""), quote(secret, safe="").lower(),  # upper- and lower-case %XX
        quote(secret, safe="/&"),  # requests: only some characters encoded
        quote_plus(secret),  # a form's value: + for a space
    ]


@pytest.mark.parametrize("secret", ["p&ss<wd>/\u00e9xyz", 'quo"te\\back/slash', "with space+plus"])
def test_redactor_hides_every_escaped_form_of_a_secret(secret: str) -> None:
    redact = Redactor([secret, "other-secret"])
    for form in _escapes(secret):
        assert redact(f"[{form}]") == "[********]", form
    assert redact("text with \\u0026 and %2F but no secret") == "text with \\u0026 and %2F but no secret"


def test_redactor_hides_the_base64_of_a_secret_and_of_user_and_secret() -> None:
    import base64

    redact = Redactor()
    redact.add(["Sup3rS3cret!"], users=["loader"])
    basic = base64.b64encode(b"loader:Sup3rS3cret!").decode()
    alone = base64.b64encode(b"Sup3rS3cret!").decode()
    assert redact(f"Authorization: Basic {basic}") == "Authorization: Basic ********"
    assert "U3VwM3JTM2NyZXQh" not in redact(f"token {alone}")
    assert Redactor(["Sup3rS3cret!"])(f"Basic {basic}") == f"Basic {basic}"  # no user known: no such form


def test_redactor_hides_each_line_of_a_multi_line_secret() -> None:
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\r\nshort\n  QC7VJTUt9Us8cKj  \n-----END KEY-----"
    redact = Redactor([pem])
    assert redact("MIIEvQIBADANBgkqhkiG9w0B") == "********"
    assert redact("    QC7VJTUt9Us8cKj") == "    ********"  # its lines stripped of blanks
    assert redact("short") == "short"  # a line under 8 characters is no evidence
    assert redact(f"k={pem}") == "k=********"


def test_line_buffer_cuts_an_overlong_line_after_a_blank() -> None:
    """A piece cut inside a secret is two pieces that are no secret to the Redactor."""
    redact = Redactor(["s3cretXYZ"])
    buf = LineBuffer(limit=100)
    pieces = buf.feed(b"x" * 97 + b" s3cr") + buf.feed(b"etXYZ more\n")
    assert b"".join(pieces) == b"x" * 97 + b" s3cretXYZ more"
    assert all(len(piece) <= 100 for piece in pieces)
    assert [redact(piece.decode()) for piece in pieces] == ["x" * 97 + " ", "******** more"]
    long = LineBuffer(limit=10)  # no blank: cut at the limit
    assert long.feed(b"a" * 25) == [b"a" * 10, b"a" * 10] and long.close() == [b"a" * 5]


def test_a_non_state_line_is_passed_whole_for_redaction_before_any_cut() -> None:
    other: list[str] = []
    reader = StateReader(lambda value: None, other.append)
    line = "debug: " + "x" * 600 + " password=TargetPassw0rd end"
    reader.feed(line.encode() + b"\n")
    assert other == [line]

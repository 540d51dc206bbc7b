"""Deeply nested records and schemas through every target, on the fast and the reference path.

The limit (protocol._jsoncodec.MAX_DEPTH, documented in the READMEs): a Singer line nests up to
1024 levels (the message is level 1, its record level 2). Up to it everything loads, exact
numbers included; past it the run stops with one error line naming the line, stream and
field, exit 1, and the STATE before the bad line echoed with its records kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import target_states
from tests.integration.destinations import KINDS, make, room

LIMIT = 1024


def nested(depth: int, leaf: str, kind: str = "object") -> str:
    """JSON text of a value nesting ``depth`` levels around ``leaf``."""
    if kind == "object":
        return '{"a":' * depth + leaf + "}" * depth
    return "[" * depth + leaf + "]" * depth


def value(depth: int, leaf: Any, kind: str = "object") -> Any:
    for _ in range(depth):
        leaf = {"a": leaf} if kind == "object" else [leaf]
    return leaf


def schema_line(stream: str, value_schema: str) -> bytes:
    """A SCHEMA line (written as text: orjson encodes no more than 255 levels)."""
    return (f'{{"type":"SCHEMA","stream":"{stream}","key_properties":["id"],"schema":{{"type":"object",'
            f'"properties":{{"id":{{"type":"integer"}},"v":{value_schema}}}}}}}\n').encode()


def record_line(stream: str, i: int, v: str) -> bytes:
    return b'{"type":"RECORD","stream":"%s","record":{"id":%d,"v":%s}}\n' % (stream.encode(), i, v.encode())


def state_line(n: int) -> bytes:
    return b'{"type":"STATE","value":{"n":%d}}\n' % n


def deep_schema(levels: int, leaf: str = '{"type":"integer"}') -> str:
    """A schema describing ``levels`` nested objects {"a": ...} around an integer."""
    return '{"type":"object","properties":{"a":' * levels + leaf + "}}" * levels


# The deepest record value a line may hold: line (1) > record (2) > v (3 .. LIMIT).
DEEPEST = LIMIT - 2
# A schema line nests 2 levels per described object, plus SCHEMA message, schema and "v".
SCHEMA_LEVELS = (LIMIT - 3) // 2


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("kind", KINDS)
def test_nesting_up_to_the_limit_loads(kind: str, fast: bool, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make(kind, tmp_path, pg_dsn)
    big = "123456789012345678901234567890"  # exact path: a digit run no float holds
    expected = {
        1: value(DEEPEST, 1),
        2: value(DEEPEST - 1, [1, 2], "array"),
        3: value(DEEPEST - 1, int(big)),
        4: value(300, "x"),
    }
    deep_expected = {7: value(SCHEMA_LEVELS, 5), 8: value(SCHEMA_LEVELS, int(big))}
    data = b"".join([
        schema_line("loose", "{}"),
        record_line("loose", 1, nested(DEEPEST, "1")),
        state_line(1),
        record_line("loose", 2, nested(DEEPEST - 1, "[1,2]", "array")),
        record_line("loose", 3, nested(DEEPEST - 1, big)),
        record_line("loose", 4, nested(300, '"x"')),
        schema_line("typed", deep_schema(SCHEMA_LEVELS)),
        record_line("typed", 7, nested(SCHEMA_LEVELS, "5")),
        record_line("typed", 8, nested(SCHEMA_LEVELS, big)),
        state_line(2),
    ])
    result = dest.load(data, fast=fast)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"Traceback" not in result.stderr
    assert target_states(result.stdout) == [{"n": 1}, {"n": 2}]
    with room():
        assert sorted(dest.rows("loose", {"id": "int", "v": "json"})) == sorted(expected.items())
        assert sorted(dest.rows("typed", {"id": "int", "v": "json"})) == sorted(deep_expected.items())


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_deep_schema_sent_again_or_changed_deep_down(
    kind: str, fast: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make(kind, tmp_path, pg_dsn)
    levels = SCHEMA_LEVELS - 1  # room for the changed leaf's list
    data = b"".join([
        schema_line("s", deep_schema(levels)),
        record_line("s", 1, nested(levels, "1")),
        state_line(1),
        schema_line("s", deep_schema(levels)),  # the same again
        record_line("s", 2, nested(levels, "2")),
        schema_line("s", deep_schema(levels, '{"type":["integer","string"]}')),  # changed at the bottom
        record_line("s", 3, nested(levels, '"x"')),
        state_line(2),
    ])
    result = dest.load(data, fast=fast)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert target_states(result.stdout) == [{"n": 1}, {"n": 2}]
    with room():
        assert sorted(dest.rows("s", {"id": "int", "v": "json"})) == [
            (1, value(levels, 1)), (2, value(levels, 2)), (3, value(levels, "x"))]


TOO_DEEP = [
    # (line 4 is the bad one; what it holds)
    pytest.param(record_line("s", 2, nested(DEEPEST + 1, "1")), "v", id="record-just-past"),
    pytest.param(record_line("s", 2, nested(10_000, "1", "array")), "v", id="record-10000"),
    pytest.param(record_line("s", 2, nested(DEEPEST + 1, "12345678901234567890")), "v", id="record-exact-path"),
    pytest.param(schema_line("s", deep_schema(SCHEMA_LEVELS + 1)), "schema", id="schema"),
    pytest.param(b'{"type":"STATE","value":' + nested(LIMIT, "1").encode() + b"}\n", "value", id="state"),
]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize(("bad", "field"), TOO_DEEP)
@pytest.mark.parametrize("kind", KINDS)
def test_past_the_limit_is_one_error_and_keeps_what_came_before(
    kind: str, bad: bytes, field: str, fast: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make(kind, tmp_path, pg_dsn)
    data = b"".join([schema_line("s", "{}"), record_line("s", 1, nested(400, "1")), state_line(1), bad,
                     record_line("s", 3, "1"), state_line(2)])
    result = dest.load(data, fast=fast)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr[-2000:]
    assert "Traceback" not in stderr and "internal error" not in stderr
    errors = [ln for ln in stderr.splitlines() if "ERROR" in ln]
    assert len(errors) == 1, stderr[-2000:]
    stream = "" if field == "value" else "stream 's', "  # a STATE has no stream
    assert re.search(rf"line 4, {stream}field '{field}': nested deeper than {LIMIT} levels", errors[0]), errors[0]
    assert target_states(result.stdout) == [{"n": 1}]
    with room():
        assert dest.rows("s", {"id": "int", "v": "json"}) == [(1, value(400, 1))]

"""Strings with JSON escapes stay on the bulk CSV path of the SQL targets, and read back exact.

The bulk path undoes msgspec's escapes for a whole run at once (targets/sql/rawrows.py); the
oracle here is Python's csv reader over what it built, compared with the decoded values.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol._recordtype import compile_record_type
from targets.sql.rawrows import (
    _NOT_QUOTE_OR_NEWLINE,
    RawRows,
    _csv_text,
    _csv_text_backslash,
    _csv_value,
    _split_at_escapes,
)

SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "id": {"type": "integer"}, "a": {"type": ["null", "string"]}, "b": {"type": ["null", "string"]}}}
# Everything JSON escapes, what CSV quotes, and text that merely looks like structure.
TEXT = st.text(alphabet=st.sampled_from([*'ab,"\\\n\r\t\b\f]\n[é☃ /u0', "\x00", "\x01", "\x1f"]),
               max_size=12)
# Text whose only escapes are \" and \n (the three-pass step), with the letters and quotes that
# sit beside a backslash in an escape: "n", "u", '"n', 'n"'.
COMMON = st.lists(st.sampled_from([*'an,"\n u]é☃ ', '","', '"n', "\n\n", "00e9"]), max_size=8).map("".join)


def _build(values: list[tuple[str | None, str | None]], *, ascii_only: bool,
           backslash: bool = False) -> tuple[bytes | None, list[Any]]:
    lines = [json.dumps({"id": i, "a": a, "b": b}, ensure_ascii=ascii_only).encode()
             for i, (a, b) in enumerate(values)]
    records = list(msgspec.json.Decoder(compile_record_type(SCHEMA, ["id"])).decode_lines(b"\n".join(lines)))
    rows = RawRows([("id", "id"), ("a", "a"), ("b", "b")], [], backslash=backslash)
    return rows.build(records, b"\n".join(lines), None), records


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | TEXT, st.none() | TEXT), min_size=1, max_size=6), st.booleans())
def test_escaped_strings_read_back_exact(values: list[tuple[str | None, str | None]], ascii_only: bool) -> None:
    built, _ = _build(values, ascii_only=ascii_only)
    assert built is not None
    back = list(csv.reader(io.StringIO(built.decode(), newline="")))
    # NULL is the bare word null (COPY ... NULL 'null'); a quoted "null" would stay a string.
    want = [[str(i), "null" if a is None else a.replace("\x00", ""), "null" if b is None else b.replace("\x00", "")]
            for i, (a, b) in enumerate(values)]
    assert back == want


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | TEXT, st.none() | TEXT), min_size=1, max_size=6))
def test_the_bulk_step_alone_undoes_every_common_escape(values: list[tuple[str | None, str | None]]) -> None:
    encoded = msgspec.json.Encoder().encode_lines([(i, a, b) for i, (a, b) in enumerate(values)])
    rows = _csv_text(encoded[1:-2].replace(b"]\n[", b"\n") + b"\n")
    rare = any(v is not None and any(c in v for c in "\x00\x01\x1f") for pair in values for v in pair)
    if rare:
        assert rows is None  # the line-by-line path drops NUL and counts it
        return
    assert rows is not None
    back = list(csv.reader(io.StringIO(rows.decode(), newline="")))
    assert back == [[str(i), "null" if a is None else a, "null" if b is None else b] for i, (a, b) in enumerate(values)]


def test_quotes_newlines_and_unicode_escapes_are_undone_in_bulk() -> None:
    # what singer-python writes: non-ASCII as \u escapes; msgspec re-encodes it as UTF-8, so
    # only the quote, backslash and newline escapes are left, and the bulk step undoes them
    values = [('say "hi"\nZürich ☃', "back\\slash\\"), ("tab\there", "cr\r\b\f"), (None, '\\"')]
    lines = [json.dumps({"id": i, "a": a, "b": b}).encode() for i, (a, b) in enumerate(values)]
    assert all(b"\\u00fc" in line or i for i, line in enumerate(lines))
    encoded = msgspec.json.Encoder().encode_lines([(i, a, b) for i, (a, b) in enumerate(values)])
    rows = encoded[1:-2].replace(b"]\n[", b"\n") + b"\n"
    assert _csv_text(rows) == ('0,"say ""hi""\nZürich ☃","back\\slash\\"\n'
                               '1,"tab\there","cr\r\b\f"\n'
                               '2,null,"\\"""\n').encode()


def test_a_control_character_leaves_the_bulk_step_for_the_line_by_line_path() -> None:
    rows = msgspec.json.Encoder().encode_lines([(1, "nul\x00", "x"), (2, "unit\x1f", None)])
    assert _csv_text(rows[1:-2].replace(b"]\n[", b"\n") + b"\n") is None
    built, _ = _build([("nul\x00", "x"), ("unit\x1f", None)], ascii_only=True)
    assert built == b'0,"nul","x"\n1,"unit\x1f",null\n'


def _rows(values: list[tuple[str | None, str | None]]) -> bytes:
    encoded = msgspec.json.Encoder().encode_lines([(i, a, b) for i, (a, b) in enumerate(values)])
    return encoded[1:-2].replace(b"]\n[", b"\n") + b"\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | COMMON, st.none() | COMMON), min_size=1, max_size=6))
def test_quotes_and_newlines_take_three_passes_over_the_run(values: list[tuple[str | None, str | None]]) -> None:
    rows = _rows(values)
    assert _NOT_QUOTE_OR_NEWLINE.search(rows) is None  # the generator reaches the three-pass step
    built = _csv_text(rows)
    assert built is not None
    assert built == _split_at_escapes(rows)  # the same bytes as the split at every escape
    back = list(csv.reader(io.StringIO(built.decode(), newline="")))
    assert back == [[str(i), "null" if a is None else a, "null" if b is None else b] for i, (a, b) in enumerate(values)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | TEXT | COMMON, st.none() | TEXT | COMMON), min_size=1, max_size=6))
def test_the_three_passes_apply_exactly_when_only_quotes_and_newlines_are_escaped(
        values: list[tuple[str | None, str | None]]) -> None:
    rows = _rows(values)
    others = rb"\\" in rows or any(escape in rows for escape in (rb"\t", rb"\r", rb"\b", rb"\f", rb"\u"))
    assert (_NOT_QUOTE_OR_NEWLINE.search(rows) is None) == (not others)
    assert _csv_text(rows) == _split_at_escapes(rows)


# Backslashes beside the letters and quotes of the escapes the bulk step undoes: text "\n" (a
# backslash, then n) is JSON "\\n", whose second backslash and n look like a newline escape.
NEAR = st.lists(st.sampled_from(["\\", "n", '"', "\n", "\\n", '\\"', "é", ","]), max_size=10).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | NEAR | COMMON, st.none() | NEAR | COMMON), min_size=1, max_size=6),
       st.booleans())
def test_backslashes_beside_newline_and_quote_escapes_read_back_exact(
        values: list[tuple[str | None, str | None]], ascii_only: bool) -> None:
    """The bulk step against the split at every escape and a csv reader: a newline undone
    where a backslash was escaped (or a quote where a backslash ends the text) differs."""
    rows = _rows(values)
    assert _csv_text(rows) == _split_at_escapes(rows)
    built, _ = _build(values, ascii_only=ascii_only)
    assert built is not None
    back = list(csv.reader(io.StringIO(built.decode(), newline="")))
    assert back == [[str(i), "null" if a is None else a, "null" if b is None else b] for i, (a, b) in enumerate(values)]


# PostgreSQL's ESCAPE '\\' (targets/postgres): a quote inside a string is \\" and a backslash \\\\, as JSON
# writes them; what Python's csv reader reads with that escape and no doubled quotes.
def _backslash_csv(text: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.decode(), newline=""), escapechar="\\", doublequote=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | TEXT | NEAR | COMMON, st.none() | TEXT | NEAR | COMMON), min_size=1,
                max_size=6), st.booleans())
def test_backslash_escaped_csv_reads_back_exact(values: list[tuple[str | None, str | None]], ascii_only: bool) -> None:
    built, _ = _build(values, ascii_only=ascii_only, backslash=True)
    assert built is not None
    want = [[str(i), "null" if a is None else a.replace("\x00", ""), "null" if b is None else b.replace("\x00", "")]
            for i, (a, b) in enumerate(values)]
    assert _backslash_csv(built) == want


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | TEXT | NEAR | COMMON, st.none() | TEXT | NEAR | COMMON), min_size=1,
                max_size=6))
def test_the_backslash_bulk_step_writes_what_each_value_writes(values: list[tuple[str | None, str | None]]) -> None:
    """In bulk (no quote pass; escaped backslashes split out first) or not at all (a control
    character as \\u00XX), never different from the value-by-value text."""
    built = _csv_text_backslash(_rows(values))
    if any(v is not None and any(c in v for c in "\x00\x01\x1f") for pair in values for v in pair):
        assert built is None
        return
    assert built == b"".join(b",".join([str(i).encode(), *(b"null" if v is None else _csv_value(v, backslash=True)
                                                             for v in (a, b))]) + b"\n"
                             for i, (a, b) in enumerate(values))

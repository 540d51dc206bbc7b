"""The strict reader: every bad line gets one error naming its line, stream and field."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from protocol import (
    ActivateVersionMessage,
    BatchMessage,
    MessageReader,
    ProtocolError,
    RecordMessage,
    RecordValidationError,
    SchemaMessage,
    StateMessage,
)

SCHEMA = (
    b'{"type":"SCHEMA","stream":"users","key_properties":["id"],'
    b'"schema":{"type":"object","required":["id"],"properties":{"id":{"type":"integer"},'
    b'"amount":{"type":["null","number"]},"at":{"type":["null","string"],"format":"date-time"}}}}\n'
)


def read(data: bytes, **kw: object) -> list[object]:
    return list(MessageReader(io.BytesIO(data), **kw))  # type: ignore[arg-type]


def error_of(data: bytes, **kw: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        read(data, **kw)
    return info.value


def test_reads_every_message_type_typed() -> None:
    data = (
        SCHEMA
        + b'{"type":"RECORD","stream":"users","record":{"id":1},"version":3,"time_extracted":"2024-01-01T00:00:00Z"}\n'
        + b'{"type":"ACTIVATE_VERSION","stream":"users","version":3}\n'
        + b'{"type":"BATCH","stream":"users","encoding":{"format":"jsonl"},"manifest":["file:///x"]}\n'
        + b'{"type":"STATE","value":{"bookmarks":{}}}\n'
    )
    msgs = read(data)
    assert [type(m) for m in msgs] == [
        SchemaMessage, RecordMessage, ActivateVersionMessage, BatchMessage, StateMessage
    ]
    rec = msgs[1]
    assert isinstance(rec, RecordMessage)
    assert (rec.stream, rec.record, rec.version, rec.time_extracted, rec.line) == (
        "users", {"id": 1}, 3, "2024-01-01T00:00:00Z", 2
    )
    assert isinstance(msgs[0], SchemaMessage) and msgs[0].key_properties == ["id"]


def test_malformed_line_names_its_line() -> None:
    err = error_of(SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1}\n')
    assert err.line == 2
    assert str(err).startswith("line 2: malformed JSON")


def test_record_before_schema() -> None:
    err = error_of(b'{"type":"RECORD","stream":"users","record":{"id":1}}\n')
    assert str(err) == "line 1: RECORD for stream 'users' before its SCHEMA"
    assert err.stream == "users"


def test_missing_required_message_fields() -> None:
    assert error_of(b'{"type":"RECORD","record":{}}\n').field == "stream"
    assert error_of(SCHEMA + b'{"type":"RECORD","stream":"users"}\n').field == "record"
    assert error_of(b'{"type":"STATE"}\n').field == "value"
    assert error_of(b'{"type":"SCHEMA","stream":"s"}\n').field == "schema"
    assert error_of(b'{"stream":"s"}\n').field == "type"
    assert error_of(b'{"type":"ACTIVATE_VERSION","stream":"s","version":"x"}\n').field == "version"


def test_unknown_type_and_non_object() -> None:
    assert "unknown message type 'NOPE'" in str(error_of(b'{"type":"NOPE"}\n'))
    assert "not a JSON object" in str(error_of(b"[1,2]\n"))


def test_record_violating_schema_names_field() -> None:
    err = error_of(SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":"abc"}}\n')
    assert isinstance(err, RecordValidationError)
    assert (err.line, err.stream, err.field) == (2, "users", "amount")
    assert str(err).startswith("line 2, stream 'users', field 'amount': value 'abc' is not of type")


def test_missing_required_field_in_record() -> None:
    err = error_of(SCHEMA + b'{"type":"RECORD","stream":"users","record":{"amount":1}}\n')
    assert (err.line, err.field) == (2, "id")


def test_date_time_format_is_checked() -> None:
    bad = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1,"at":"2024-02-30T00:00:00Z"}}\n'
    assert error_of(bad).field == "at"
    good = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1,"at":"2024-02-29T23:59:59.5+02:00"}}\n'
    assert len(read(good)) == 2


def test_validation_can_be_turned_off() -> None:
    data = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":"x"}}\n'
    assert len(read(data, validate_records=False)) == 2


def test_line_longer_than_limit() -> None:
    long_line = b'{"type":"STATE","value":{"k":"' + b"x" * 200 + b'"}}\n'
    err = error_of(long_line, max_line_bytes=100)
    assert err.line == 1 and "longer than the limit of 100 bytes" in str(err)
    assert len(read(long_line, max_line_bytes=len(long_line) - 1)) == 1  # newline not counted


def test_decimals_and_big_integers_stay_exact() -> None:
    data = SCHEMA + (
        b'{"type":"RECORD","stream":"users","record":{"id":123456789012345678901234567890,'
        b'"amount":1234567890.123456789012}}\n'
        b'{"type":"RECORD","stream":"users","record":{"id":2,"amount":19.99}}\n'
    )
    recs = [m for m in read(data) if isinstance(m, RecordMessage)]
    assert recs[0].record["id"] == 123456789012345678901234567890
    assert recs[0].record["amount"] == Decimal("1234567890.123456789012")
    assert str(recs[1].record["amount"]) == "19.99"


def test_invalid_schema_rejected() -> None:
    err = error_of(b'{"type":"SCHEMA","stream":"s","schema":{"type":"object"},"key_properties":[]}\n')
    assert "no 'properties'" in str(err) and err.stream == "s"
    err = error_of(
        b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{}},"key_properties":["id"]}\n'
    )
    assert err.field == "id"


def test_blank_lines_are_skipped_but_counted() -> None:
    err = error_of(SCHEMA + b"\n" + b"oops\n")
    assert err.line == 3


def test_schema_with_remote_ref_is_refused_without_fetching() -> None:
    data = b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"a":{"$ref":"http://192.0.2.1/x.json"}}}}\n'
    err = error_of(data)
    assert err.stream == "s" and "remote $ref" in str(err)


def test_schema_with_bad_regex_or_dangling_ref() -> None:
    head = b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"a":'
    bad_regex = head + b'{"type":"string","pattern":"("}}}}\n'
    assert error_of(bad_regex).stream == "s"
    dangling = head + b'{"$ref":"#/definitions/x"}}}}\n'
    assert error_of(dangling).stream == "s"


def test_state_value_must_be_object() -> None:
    assert error_of(b'{"type":"STATE","value":1}\n').field == "value"


@pytest.mark.parametrize("number", [b"-999999999999999999999999999999.5", b"12345678901234567.5",
                                    b"9007199254740993.25", b"123456789012345678.0"])
def test_a_long_number_with_a_fraction_is_no_integer_though_its_float_is(number: bytes) -> None:
    """Read exactly (16 digits or more), it is checked as its float when the Decimal fails a
    validator; past 2**53 every float is integral, so the fraction must still count (a zero
    fraction is an integer: JSON Schema's integer is any number with a zero fraction)."""
    data = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":' + number + b'}}\n'
    if number.endswith(b".0"):
        assert [m.record["id"] for m in read(data) if isinstance(m, RecordMessage)] == [int(number[:-2])]
        return
    error = error_of(data)
    assert (error.line, error.stream, error.field) == (2, "users", "id")
    assert f"value {number.decode()} is not of type integer" in str(error), str(error)
    # a number field takes it, exactly
    ok = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":' + number + b'}}\n'
    assert [m.record["amount"] for m in read(ok) if isinstance(m, RecordMessage)] == [Decimal(number.decode())]


def test_a_number_past_a_floats_range_is_read_exactly() -> None:
    # JSON sets no range: orjson refuses 1e999 ("number is infinity"), the exact parser reads it
    data = SCHEMA + (b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":1e999}}\n'
                     b'{"type":"RECORD","stream":"users","record":{"id":2,"amount":-1E+309,"at":null}}\n')
    recs = [m for m in read(data) if isinstance(m, RecordMessage)]
    assert [r.record["amount"] for r in recs] == [Decimal("1E+999"), Decimal("-1E+309")]
    assert str(recs[0].record["amount"]) == "1E+999"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_malformed_on_the_exact_path_too(constant: bytes) -> None:
    # a 16-digit run sends the line to the exact parser (stdlib json), which reads NaN by default
    data = SCHEMA + (b'{"type":"RECORD","stream":"users","record":{"id":1234567890123456789,"amount":'
                     + constant + b"}}\n")
    error = error_of(data)
    assert error.line == 2 and "malformed JSON" in str(error) and constant.lstrip(b"-").decode() in str(error)


def test_a_malformed_line_with_a_huge_number_is_still_malformed() -> None:
    data = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":1e999,}}\n'
    assert error_of(data).line == 2


@pytest.mark.parametrize("version", [b"1.5", b'"7"', b"true", b"1e400"])
def test_a_record_version_must_be_an_integer(version: bytes) -> None:
    data = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1},"version":' + version + b"}\n"
    error = error_of(data)
    assert (error.line, error.stream, error.field) == (2, "users", "version")
    ok = SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1},"version":12345678901234567}\n'
    assert [m.version for m in read(ok) if isinstance(m, RecordMessage)] == [12345678901234567]


def test_an_integral_number_read_exactly_is_an_integer_as_a_short_one_is() -> None:
    # 2.0 is read as a float and is an integer; 1234567890123456.0 (16 digits: read exactly, a Decimal) is one too
    data = SCHEMA + (b'{"type":"RECORD","stream":"users","record":{"id":2.0}}\n'
                     b'{"type":"RECORD","stream":"users","record":{"id":1234567890123456.0}}\n'
                     b'{"type":"RECORD","stream":"users","record":{"id":12345678901234567890123.000}}\n')
    assert [m.record["id"] for m in read(data) if isinstance(m, RecordMessage)] == [
        2.0, Decimal("1234567890123456.0"), Decimal("12345678901234567890123.000")]
    error = error_of(SCHEMA + b'{"type":"RECORD","stream":"users","record":{"id":1234567890123456.5}}\n')
    assert (error.line, error.field) == (2, "id") and "is not of type" in str(error)


@pytest.mark.parametrize("number", [b"1E400", b"123456789012345678901234567890"])
@pytest.mark.parametrize("text", [b'"\\ud800"', b'"a\\udc00b"', b'"\\ud800\\ud800\\udc00"'])
def test_a_lone_surrogate_is_malformed_on_the_exact_path_too(number: bytes, text: bytes) -> None:
    # a number a float cannot hold sends the line to the exact parser (stdlib json), which reads a lone
    # \\u surrogate escape as text that no UTF-8 destination can store; orjson refuses it everywhere else
    data = SCHEMA + (b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":' + number
                     + b',"name":' + text + b"}}\n")
    error = error_of(data)
    assert error.line == 2 and "lone UTF-16 surrogate" in str(error)


def test_a_surrogate_pair_and_an_escaped_backslash_are_text_on_the_exact_path() -> None:
    data = SCHEMA + (b'{"type":"RECORD","stream":"users","record":{"id":1,"amount":1E400,'
                     b'"name":"\\ud83d\\ude00 \\\\ud800"}}\n')
    record = read(data)[1]
    assert record.record["name"] == "\U0001f600 \\ud800"  # type: ignore[attr-defined]


def test_bounds_leave_a_value_that_is_no_number_to_the_destination() -> None:
    # validate_records: false lets a string reach an integer column's bounds check: not a TypeError
    from protocol import Bounds

    bounds = Bounds(-(2**63), 2**63, "BIGINT")
    assert bounds.holds(5) and not bounds.holds(2**64) and bounds.holds("abc") and bounds.holds([1])

"""Schemas as third-party taps write them: Draft 4's boolean exclusive bounds (pipelinewise-tap-postgres
and -tap-mysql, on every numeric column) and SCHEMA lines read exactly because they hold a long run of
digits (singer-io tap-mysql: a BIGINT's ``maximum: 9223372036854775807`` beside a DECIMAL's
``multipleOf: 0.01``), whose bounds and multipleOf are then Decimals. Checked through the reader, as
every target reads them."""

from __future__ import annotations

import io
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pytest

from protocol import MessageReader, ProtocolError, RecordMessage, RecordValidationError, SchemaMessage, check_schema
from protocol._schema import draft6_bounds

BIGINT = '"id":{"type":["integer"],"minimum":-9223372036854775808,"maximum":9223372036854775807}'


def schema_line(props: str, key: str = "id") -> bytes:
    keys = f'["{key}"]' if key else "[]"
    return (b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{' + props.encode()
            + b'}},"key_properties":' + keys.encode() + b"}\n")


def record_line(record: str) -> bytes:
    return b'{"type":"RECORD","stream":"s","record":' + record.encode() + b"}\n"


def read(data: bytes, **kw: Any) -> list[Any]:
    return list(MessageReader(io.BytesIO(data), **kw))


def refusal(data: bytes) -> RecordValidationError:
    with pytest.raises(RecordValidationError) as refused:
        read(data)
    return refused.value


def is_multiple(value: str, multiple: str) -> bool:
    """The oracle: exact rational arithmetic on the numbers as written."""
    return (Fraction(value) / Fraction(multiple)).denominator == 1


# (value, multipleOf) as written; valid and invalid alike, so right is told from almost-right
MULTIPLES = [("19.99", "0.01"), ("0.1", "0.01"), ("1.005", "1e-06"), ("0.000123", "1e-06"), ("1e-30", "1e-38"),
             ("19.995", "0.01"), ("0.0001234", "1e-06"), ("7.5", "2.5"), ("12345678901234567.89", "0.01"),
             ("12345678901234567.891", "0.01"), ("99999999999999.999999", "1e-06"), ("3", "0.5"), ("7.5", "2")]


@pytest.mark.parametrize("exact_record", [False, True], ids=["plain-record", "exact-record"])
@pytest.mark.parametrize(("value", "multiple"), MULTIPLES)
def test_multiple_of_in_an_exactly_read_schema_is_exact(value: str, multiple: str, exact_record: bool) -> None:
    data = (schema_line(BIGINT + f',"price":{{"type":["null","number"],"multipleOf":{multiple}}}')
            # a 19-digit key makes the record's line exact too: its numbers are Decimals
            + record_line(f'{{"id":{"1234567890123456789" if exact_record else "1"},"price":{value}}}'))
    if is_multiple(value, multiple):
        record = read(data)[1]
        assert isinstance(record, RecordMessage) and Decimal(str(record.record["price"])) == Decimal(value)
    else:
        error = refusal(data)
        assert (error.line, error.field) == (2, "price")
        assert "multiple of" in str(error)


def test_a_19_digit_bound_is_still_compared_exactly() -> None:
    # 9223372036854775807.0 is read as a Decimal: compiled as the float 2**63 it would let 2**63 through
    props = '"id":{"type":"integer","maximum":9223372036854775807.0},"price":{"type":"number","multipleOf":0.01}'
    assert read(schema_line(props) + record_line('{"id":9223372036854775807,"price":1.5}'))[1].record["id"] == 2**63 - 1
    error = refusal(schema_line(props) + record_line('{"id":9223372036854775808,"price":1.5}'))
    assert error.field == "id"
    error = refusal(schema_line(BIGINT + ',"p":{"type":"number","multipleOf":0.01}')
                    + record_line('{"id":-9223372036854775809,"p":1}'))
    assert error.field == "id"


PW_AMOUNT = ('"amount":{"type":["null","number"],"exclusiveMaximum":true,"maximum":100000000000000,'
             '"multipleOf":1e-06,"exclusiveMinimum":true,"minimum":-100000000000000}')
PW_BIG = ('"big":{"type":["null","number"],"exclusiveMaximum":true,"maximum":1' + "0" * 62 + ','
          '"multipleOf":1e-38,"exclusiveMinimum":false,"minimum":-1' + "0" * 62 + "}")


@pytest.mark.parametrize("validate_records", [True, False])
def test_draft4_boolean_bounds_are_read_in_the_draft6_form(validate_records: bool) -> None:
    data = schema_line('"id":{"type":["integer"]},' + PW_AMOUNT + "," + PW_BIG) + record_line('{"id":1,"amount":12.5}')
    schema, record = read(data, validate_records=validate_records)
    assert isinstance(schema, SchemaMessage)
    assert schema.schema["properties"]["amount"] == {"type": ["null", "number"], "exclusiveMaximum": 10**14,
                                                     "multipleOf": Decimal("1e-06"), "exclusiveMinimum": -(10**14)}
    assert schema.schema["properties"]["big"] == {"type": ["null", "number"], "exclusiveMaximum": 10**62,
                                                  "multipleOf": Decimal("1e-38"), "minimum": -(10**62)}
    assert record.record == {"id": 1, "amount": 12.5}


@pytest.mark.parametrize(("amount", "valid"), [
    ("99999999999999.999999", True), ("100000000000000", False), ("100000000000000.000000", False),
    ("-99999999999999.999999", True), ("-100000000000000", False), ("0.000001", True), ("0.0000001", False),
])
def test_draft4_exclusive_bounds_are_exclusive_and_exact(amount: str, valid: bool) -> None:
    data = schema_line('"id":{"type":["integer"]},' + PW_AMOUNT + "," + PW_BIG) + record_line(
        f'{{"id":1,"amount":{amount},"big":-1' + "0" * 62 + "}")  # minimum is inclusive (exclusiveMinimum false)
    if valid:
        assert read(data)[1].record["amount"] == Decimal(amount)
    else:
        assert refusal(data).field == "amount"


def test_check_schema_takes_draft4_bounds_and_draft6_bounds_leaves_the_rest() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {
        "n": {"type": "number", "exclusiveMaximum": True, "maximum": 5, "exclusiveMinimum": False, "minimum": 0},
        "a": {"type": "array", "items": {"anyOf": [{"type": "integer", "exclusiveMinimum": True, "minimum": 1}]}},
        "d": {"type": "object", "default": {"exclusiveMaximum": True}, "enum": [{"exclusiveMinimum": True}]},
        "exclusiveMaximum": {"type": "boolean"}}}
    before = orjson.dumps(schema)
    check_schema(schema, stream="s")  # raised "True is not of type 'number'"
    normal = draft6_bounds(schema)
    assert orjson.dumps(schema) == before  # a copy: the caller's schema is not changed
    props = normal["properties"]
    assert props["n"] == {"type": "number", "exclusiveMaximum": 5, "minimum": 0}
    assert props["a"]["items"]["anyOf"] == [{"type": "integer", "exclusiveMinimum": 1}]
    assert props["d"] == schema["properties"]["d"]  # data (default, enum) is not a schema
    assert props["exclusiveMaximum"] == {"type": "boolean"}
    plain = {"type": "object", "properties": {"n": {"type": "number", "exclusiveMaximum": 5}}}
    assert draft6_bounds(plain) is plain


def test_a_draft4_schema_keeps_its_converted_bounds() -> None:
    line = (b'{"type":"SCHEMA","stream":"s","key_properties":[],"schema":{"$schema":"http://json-schema.org/draft-04/'
            b'schema#","type":"object","properties":{"n":{"type":"integer","exclusiveMaximum":true,"maximum":5}}}}\n')
    assert read(line + record_line('{"n":4}'))[1].record == {"n": 4}
    assert refusal(line + record_line('{"n":5}')).field == "n"


def test_a_bad_draft4_bound_is_still_refused() -> None:
    with pytest.raises(ProtocolError, match="invalid JSON Schema"):
        read(schema_line('"n":{"type":"number","exclusiveMaximum":true,"maximum":"5"}', key=""))


@pytest.mark.parametrize("big", ["1e-30", "0.000000000000000000000000000001"])
def test_the_error_names_the_field_at_fault(big: str) -> None:
    # the probe's case: 'big' is a multiple of 1e-38; 'j' is a string where the schema asks for an object
    props = ('"big":{"type":["null","number"],"maximum":1' + "0" * 60 + ',"multipleOf":1e-38},'
             '"j":{"type":["null","object"]}')
    error = refusal(schema_line(props, key="") + record_line(f'{{"big":{big},"j":"str"}}'))
    assert (error.line, error.field) == (2, "j")
    assert "'str' is not of type" in str(error)

"""multipleOf on a record parsed exactly (its line held a long run of digits, so its decimals are
Decimals): checked with the same answers as on any other line, never an internal error. Both
validators (fastjsonschema and jsonschema) divide by the float and cannot take a Decimal."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from protocol import RecordValidationError, RecordValidator
from tests.conftest import exe

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "big": {"type": "integer"},
                                           "amount": {"type": "number", "multipleOf": 0.01},
                                           "nested": {"type": "object", "properties": {
                                               "rate": {"type": "number", "multipleOf": 0.5}}}}}


def test_exact_decimals_that_are_multiples_pass() -> None:
    check = RecordValidator("s", SCHEMA, ["id"])
    check({"id": 1, "big": 12345678901234567890, "amount": Decimal("1234.56"), "nested": {"rate": Decimal("2.5")}}, 2)


@pytest.mark.parametrize(("record", "field"), [
    ({"id": 1, "big": 12345678901234567890, "amount": Decimal("1234.565")}, "amount"),
    ({"id": 1, "amount": Decimal("1.00"), "nested": {"rate": Decimal("2.25")}}, "nested.rate"),
])
def test_exact_decimals_that_are_not_multiples_are_refused_by_name(record: dict, field: str) -> None:
    check = RecordValidator("s", SCHEMA, ["id"])
    with pytest.raises(RecordValidationError) as refused:
        check(record, 7)
    assert refused.value.line == 7
    assert refused.value.field == field
    assert "multiple of" in str(refused.value)


def test_a_target_loads_the_line_exactly(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "out")}))
    lines = [{"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]},
             {"type": "STATE", "value": {"n": 0}}]
    body = [json.dumps(m) for m in lines]
    body.insert(1, '{"type":"RECORD","stream":"s","record":{"id":1,"big":12345678901234567890,"amount":1234.56}}')
    done = subprocess.run([exe("target-jsonl"), "--config", str(config)], input="\n".join(body) + "\n",
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "s.jsonl").read_text() == '{"id":1,"big":12345678901234567890,"amount":1234.56}\n'

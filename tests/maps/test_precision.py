"""Big integers and long decimals keep every digit through maps, where singer-sdk's engine rounds.

The SDK computes with the default decimal context (28 significant digits); mapper-sluice keeps
the digits of the input through passthrough, flattening and exact arithmetic (+, -, *).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.maps.streams import ours, reference, run

AMOUNT = "12345678901234567890.123456789"  # 29 significant digits: past a float and past the SDK's 28
DOUBLE = "24691357802469135780.246913578"  # AMOUNT * 2, every digit
BIG = "18446744073709551617"  # 2**64 + 1
LINES = (
    '{"type":"SCHEMA","stream":"t","schema":{"type":"object","properties":{"id":{"type":"integer"},'
    '"amount":{"type":"number"},"big":{"type":"integer"},"nested":{"type":"object","properties":'
    '{"x":{"type":"number"},"deep":{"type":"object","properties":{"y":{"type":"number"}}}}}}},"key_properties":["id"]}\n'
    f'{{"type":"RECORD","stream":"t","record":{{"id":1,"amount":{AMOUNT},"big":{BIG},'
    f'"nested":{{"x":{AMOUNT},"deep":{{"y":{AMOUNT}}}}}}}}}\n'
).encode()
CONFIG = {"stream_maps": {"t": {"double": "amount * 2", "sum": "amount + amount", "next": "big + 1",
                                 "bigger": "big * big"}},
          "flattening_enabled": True, "flattening_max_depth": 1}


def _record(stdout: bytes) -> tuple[dict[str, object], str]:
    for line in stdout.decode().splitlines():
        msg = json.loads(line, parse_float=Decimal)
        if msg["type"] == "RECORD":
            return msg["record"], line
    raise AssertionError("no RECORD in the output")


def test_ours_keeps_every_digit(tmp_path: Path) -> None:
    done = run(ours(), CONFIG, tmp_path, LINES)
    assert done.returncode == 0, done.stderr.decode()
    record, line = _record(done.stdout)
    amount = Decimal(AMOUNT)
    assert record["amount"] == amount and f'"amount":{AMOUNT}' in line
    assert record["double"] == Decimal(DOUBLE) == record["sum"]
    assert f'"double":{DOUBLE}' in line
    assert record["big"] == int(BIG) and record["next"] == int(BIG) + 1 and record["bigger"] == int(BIG) ** 2
    assert record["nested__x"] == amount
    assert record["nested__deep"] == '{"y":' + AMOUNT + "}"  # below the depth: JSON text, digits intact


def test_the_sdk_rounds_where_ours_does_not(tmp_path: Path) -> None:
    done = run(reference(), CONFIG, tmp_path, LINES)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    record, _ = _record(done.stdout)
    assert record["double"] != Decimal(DOUBLE)  # the SDK's 28-digit context rounds
    assert record["amount"] == Decimal(AMOUNT)  # passthrough is exact in both


def _records(stdout: bytes) -> list[dict[str, object]]:
    messages = [json.loads(line, parse_float=Decimal) for line in stdout.decode().splitlines()]
    return [msg["record"] for msg in messages if msg["type"] == "RECORD"]


DECIMALS = (
    b'{"type":"SCHEMA","stream":"e","schema":{"type":"object","properties":{"amount":{"type":"number"}}},'
    b'"key_properties":[]}\n'
    b'{"type":"RECORD","stream":"e","record":{"amount":0.12345678901234567890}}\n'
    b'{"type":"RECORD","stream":"e","record":{"amount":0.12345678901234567891}}\n'
    b'{"type":"RECORD","stream":"e","record":{"amount":1E+400}}\n'
    b'{"type":"RECORD","stream":"e","record":{"amount":1E-400}}\n'
    b'{"type":"RECORD","stream":"e","record":{"amount":2.50}}\n'
)


def test_json_dumps_writes_decimals_with_their_digits(tmp_path: Path) -> None:
    """The content-hash recipe: records that differ only past a float's 17th digit get other keys,
    and a number a float cannot hold is written as read (it was 0.0 and Infinity: not even JSON)."""
    config = {"stream_maps": {"e": {"__key_properties__": ["content_hash"],
                                    "content_hash": "sha256(json.dumps(record, sort_keys=True))",
                                    "text": "json.dumps(record)", "indented": "json.dumps(amount, indent=1)"}}}
    done = run(ours(), config, tmp_path, DECIMALS)
    assert done.returncode == 0, done.stderr.decode()
    records = _records(done.stdout)
    assert [r["text"] for r in records] == [
        '{"amount": 0.12345678901234567890}', '{"amount": 0.12345678901234567891}', '{"amount": 1E+400}',
        '{"amount": 1E-400}', '{"amount": 2.50}']
    assert [r["indented"] for r in records] == ["0.12345678901234567890", "0.12345678901234567891", "1E+400",
                                                "1E-400", "2.50"]
    assert len({r["content_hash"] for r in records}) == 5


UNDECLARED = (
    b'{"type":"SCHEMA","stream":"s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},'
    b'"key_properties":["id"]}\n'
    b'{"type":"RECORD","stream":"s","record":{"id":1,"amount":2.50,"items":[{"p":1.10}]}}\n'
)


@pytest.mark.parametrize("others", [{}, {"z": "str(record)"}], ids=["alone", "beside str(record)"])
def test_a_property_the_schema_does_not_declare_keeps_its_digits(tmp_path: Path, others: dict[str, str]) -> None:
    """It may hold a decimal: its text is its digits whatever else the map reads (it was "2.5" unless
    another expression read the whole record); a comprehension's own names are no properties."""
    config = {"stream_maps": {"s": {"t": "str(amount)", "h": "md5(str(amount))",
                                    "p": "[str(i['p']) for i in items]", **others}}}
    done = run(ours(), config, tmp_path, UNDECLARED)
    assert done.returncode == 0, done.stderr.decode()
    [record] = _records(done.stdout)
    assert record["t"] == "2.50" and record["p"] == ["1.10"]
    assert record["h"] == hashlib.md5(b"2.50").hexdigest()

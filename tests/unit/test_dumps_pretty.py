"""protocol.dumps_pretty: JSON for people (`sluice state get`, `discover`, the dashboard) with every number
exact and a number, where ``json.dumps(default=str)`` wrote Decimals as strings."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from protocol import dumps_pretty, loads


@pytest.mark.parametrize("value", [
    {"bookmarks": {"s": {"replication_key_value": Decimal("1234567890123456789012.125")}}},
    {"id": 123456789012345678901234567890, "neg": -(2**64), "tiny": Decimal("2.5E-400"), "big": Decimal("1E+400")},
    {"nested": [[{"x": Decimal("0.10000000000000001")}]], "text": "café", "none": None, "ok": True},
])
def test_numbers_stay_numbers_and_exact(value: dict[str, object]) -> None:
    text = dumps_pretty(value)
    assert loads(text) == value
    assert json.loads(text, parse_float=Decimal) == value  # numbers, not strings
    assert text.startswith("{\n  ")  # indented, also with an integer past 64 bits


def test_other_types_and_sorted_keys() -> None:
    text = dumps_pretty({"b": Path("/x"), "a": Decimal("1.50")}, other=str, sort_keys=True)
    assert text == '{\n  "a": 1.50,\n  "b": "/x"\n}'
    with pytest.raises(TypeError):
        dumps_pretty({"p": Path("/x")})

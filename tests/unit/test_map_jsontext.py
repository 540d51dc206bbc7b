"""protocol/maps/_jsontext.py: ``json.dumps`` in a map writes what the standard library writes,
with each Decimal's own digits in place of the float it rounds to."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from protocol.maps._jsontext import dumps

VALUE = {"b": [1, 2.5, None, True, {"z": "ü\n\"", "a": -0.0}], "a": "x", "n": 10**30}
OPTIONS: list[dict[str, Any]] = [{}, {"sort_keys": True}, {"indent": 2}, {"indent": "\t", "sort_keys": True},
                                 {"separators": (",", ":")}, {"ensure_ascii": False}, {"allow_nan": False}]


@pytest.mark.parametrize("options", OPTIONS)
def test_the_standard_librarys_text_for_every_option(options: dict[str, Any]) -> None:
    assert dumps(VALUE, **options) == json.dumps(VALUE, **options)
    # with a Decimal the exact encoder writes the rest as json.dumps does: 1.25 is the same text either way
    assert dumps({**VALUE, "d": Decimal("1.25")}, **options) == json.dumps({**VALUE, "d": 1.25}, **options)


def test_decimals_keep_their_text() -> None:
    value = [Decimal("2.50"), Decimal("1E+400"), Decimal("-0"), Decimal("0.123456789012345678901234567890")]
    assert dumps(value) == "[2.50, 1E+400, -0, 0.123456789012345678901234567890]"


def test_what_json_dumps_refuses_it_refuses() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        dumps([Decimal("1.5"), float("inf")], allow_nan=False)
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        dumps([Decimal("1.5"), {1}])
    loop: list[Any] = [Decimal("1.5")]
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)

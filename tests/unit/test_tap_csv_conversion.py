"""tap-csv: a typed column reads exactly the spellings its type was inferred from, no more.

The oracle here is the rule as the README and taps/csv/inference.py state it, written out
independently of the code: a converter must accept a cell if and only if the rule does, so
a value past the type-inference sample is never silently changed to fit its column.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from taps.csv.inference import CELL_ERRORS, converter_for, infer_properties, property_for, type_label

_INTEGER = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")  # as JSON writes an integer; "-0" is not one
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")  # a JSON number
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
                        r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z")


def _valid(parse: type[date] | type[datetime], text: str) -> bool:
    try:
        parse.fromisoformat(text)
    except ValueError:
        return False
    return True


RULES = {
    "integer": lambda v: bool(_INTEGER.match(v)),
    "number": lambda v: bool(_NUMBER.match(v)),
    "boolean": lambda v: v.lower() in ("true", "false"),
    "date": lambda v: bool(_DATE.match(v)) and _valid(date, v),
    "date-time": lambda v: bool(_DATE_TIME.match(v)) and _valid(datetime, v.upper()),
}

# What Python's int(), Decimal(), fromisoformat() and the old boolean table take besides the rules.
TRICKY = [
    "0", "-0", "7", "-12", "00501", "007", " 42 ", "42 ", "+5", "1_000", "0x1F", "1e3", "1E+3",
    "\u0663", "\uff11\uff12", "\u00b2",  # Arabic-Indic three, full-width twelve, superscript two
    "-0.0", "1.50", ".5", "5.", "1.", "-.5", "1e", "1e-7", "0.0000001", "NaN", "nan", "sNaN", "NaN12", "Infinity",
    "-inf", "1,5", "", " ", "true", "FALSE", "True ", "t", "f", "yes", "no", "y", "n", "1", "on",
    "2024-01-31", "2024-02-30", "20240131", "2024-1-31", "2024-W05-3", "2024-031",
    "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0663\u0661",  # 2024-01-31 in Arabic-Indic digits
    "2024-01-01T00:00:00Z", "2024-01-01 10:00", "2024-01-01T10:00:00+0530", "20240101T100000", "2024-01-01T10",
    "2024-01-01t10:00z", "2024-01-01T10:00:00,5", "2024-01-01T10:00:00.1234567Z", "2024-01-01T10:00:00+05",
    "2024-01-01T10:00:00+05:30:15", "2024-01-01T24:00:00", "2024-01-01T10:00:00 Z", "2024-01-01T10:00:00-00:00",
]


def accepts(type_name: str, value: str, *, declared: bool = False) -> bool:
    convert = converter_for(property_for(type_name, False), declared=declared)
    assert convert is not None
    try:
        convert(value)
    except CELL_ERRORS:
        return False
    return True


def inferred(value: str) -> str:
    return type_label(infer_properties(["c"], [[value]])["c"])


@pytest.mark.parametrize("value", TRICKY)
def test_conversion_and_inference_follow_the_same_rule(value: str) -> None:
    for type_name, rule in RULES.items():
        assert accepts(type_name, value) == rule(value), (type_name, value)
    expected = next((t for t, rule in RULES.items() if value and rule(value)), "string")
    assert inferred(value) == expected


def test_random_numerals_are_read_only_when_json_writes_them_so() -> None:
    rng = random.Random(20240101)
    alphabet = "0123456789-+._eE \u0663\u00a0"
    for _ in range(20_000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        assert accepts("integer", value) == RULES["integer"](value), value
        assert accepts("number", value) == RULES["number"](value), value


@pytest.mark.parametrize(("type_name", "value", "expected"), [
    ("integer", "-12", -12),
    ("integer", "0", 0),
    ("number", "-0", Decimal("-0")),
    ("number", "1e3", Decimal("1E+3")),
    ("number", "0.10", Decimal("0.10")),
    ("boolean", "FALSE", False),
    ("date-time", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),  # already RFC 3339: as written
    ("date-time", "2024-01-01 10:00:00", "2024-01-01T10:00:00+00:00"),  # naive: UTC
    ("date-time", "2024-01-01 10:00", "2024-01-01T10:00:00+00:00"),
    ("date-time", "2024-01-01T10:00:00+0530", "2024-01-01T10:00:00+05:30"),
    ("date-time", "2024-01-01t10:00:00,5z", "2024-01-01T10:00:00.500000+00:00"),
])
def test_accepted_values_are_converted_to_their_json_value(type_name: str, value: str, expected: object) -> None:
    convert = converter_for(property_for(type_name, False))
    assert convert is not None
    result = convert(value)
    assert result == expected and type(result) is type(expected)
    assert str(result) == str(expected)  # Decimal("-0") == 0: the text must be kept too


def test_minus_zero_makes_a_number_column_not_an_integer_one() -> None:
    props = infer_properties(["c"], [["-0"], ["1"]])
    assert props["c"] == {"type": ["number"]}


def test_only_a_declared_boolean_reads_other_spellings() -> None:
    for value in ("t", "f", "yes", "No", "y", "n", "1", "0"):
        assert accepts("boolean", value, declared=True)
        assert not accepts("boolean", value)
        assert inferred(value) != "boolean"
    # declaring a type widens nothing else
    for type_name, value in (("integer", "00501"), ("number", "+5"), ("date-time", "20240101T100000")):
        assert not accepts(type_name, value, declared=True)

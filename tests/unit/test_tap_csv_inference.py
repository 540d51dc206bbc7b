"""tap-csv: column type inference and the per-column converters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from protocol import dumps
from taps.csv.inference import comparable_for, converter_for, infer_properties, property_for, type_label


def infer(column: list[str]) -> dict:
    return infer_properties(["c"], [[cell] for cell in column])["c"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1", "-2", "30"], {"type": ["integer"]}),
        (["1", "2.50", "3"], {"type": ["number"]}),
        (["1e3", "-0.5"], {"type": ["number"]}),
        (["true", "False", "TRUE"], {"type": ["boolean"]}),
        (["2024-01-31", "1999-12-01"], {"type": ["string"], "format": "date"}),
        (["2024-01-31T10:00:00Z", "2024-02-01 08:30:00", "2024-02-01T08:30:00.123+02:00"],
         {"type": ["string"], "format": "date-time"}),
        (["abc", "1"], {"type": ["string"]}),
        # leading zeros are identifiers (zip codes), not numbers
        (["01234", "12345"], {"type": ["string"]}),
        # a calendar check, not just a shape
        (["2024-02-30"], {"type": ["string"]}),
        # dates and date-times mixed are neither
        (["2024-01-31", "2024-01-31T10:00:00Z"], {"type": ["string"]}),
        # t/f and yes/no are not inferred as booleans (only declared ones)
        (["t", "f"], {"type": ["string"]}),
        (["NaN", "1"], {"type": ["string"]}),
    ],
)
def test_inferred_types(cells: list[str], expected: dict) -> None:
    assert infer(cells) == expected


def test_empty_cells_make_a_column_nullable() -> None:
    assert infer(["1", "", "3"]) == {"type": ["integer", "null"]}
    assert infer(["", ""]) == {"type": ["string", "null"]}


def test_inference_looks_at_every_column_separately() -> None:
    props = infer_properties(["id", "name", "paid"], [["1", "Ada", "true"], ["2", "", "false"]])
    assert props == {
        "id": {"type": ["integer"]},
        "name": {"type": ["string", "null"]},
        "paid": {"type": ["boolean"]},
    }


def test_infer_types_false_makes_every_column_a_string() -> None:
    props = infer_properties(["id"], [["1"]], infer_types=False)
    assert props == {"id": {"type": ["string"]}}


def test_numbers_stay_exact_decimals_and_integers_stay_int() -> None:
    to_number = converter_for(property_for("number", False))
    to_integer = converter_for(property_for("integer", False))
    assert to_number is not None and to_integer is not None
    value = to_number("12345678901234567890.123456789")
    assert isinstance(value, Decimal)
    assert dumps({"v": value}) == b'{"v":12345678901234567890.123456789}'
    assert dumps({"v": to_number("0.10")}) == b'{"v":0.10}'
    assert to_integer("42") == 42 and isinstance(to_integer("42"), int)
    assert dumps({"v": to_integer("123456789012345678901234567890")}) == b'{"v":123456789012345678901234567890}'


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "abc", "1,5"])
def test_number_converter_rejects_what_json_cannot_hold(bad: str) -> None:
    to_number = converter_for(property_for("number", False))
    assert to_number is not None
    with pytest.raises((ValueError, ArithmeticError)):
        to_number(bad)


def test_boolean_converter_accepts_common_spellings_only() -> None:
    to_bool = converter_for(property_for("boolean", True), declared=True)  # a boolean the configuration sets
    assert to_bool is not None
    assert [to_bool(v) for v in ("true", "FALSE", "t", "f", "yes", "No", "1", "0")] == [
        True, False, True, False, True, False, True, False]
    with pytest.raises(ValueError):
        to_bool("maybe")


def test_date_time_values_come_out_as_rfc3339() -> None:
    to_dt = converter_for(property_for("date-time", False))
    assert to_dt is not None
    assert to_dt("2024-01-31T10:00:00Z") == "2024-01-31T10:00:00Z"  # already RFC 3339: as written
    assert to_dt("2024-01-31T10:00:00.5+05:30") == "2024-01-31T10:00:00.5+05:30"
    assert to_dt("2024-01-31 10:00:00") == "2024-01-31T10:00:00+00:00"  # naive: taken as UTC
    assert to_dt("2024-01-31t10:00:00z") == "2024-01-31T10:00:00+00:00"
    assert to_dt("2024-01-31T10:00:00+0200") == "2024-01-31T10:00:00+02:00"
    with pytest.raises(ValueError):
        to_dt("2024-02-30T10:00:00Z")  # the right shape, but no such day
    with pytest.raises(ValueError):
        to_dt("yesterday")


def test_date_converter_is_strict() -> None:
    to_date = converter_for(property_for("date", False))
    assert to_date is not None
    assert to_date("2024-01-31") == "2024-01-31"
    for bad in ("20240131", "2024-02-30", "31/01/2024"):
        with pytest.raises(ValueError):
            to_date(bad)


def test_strings_need_no_converter_and_json_columns_are_parsed() -> None:
    assert converter_for({"type": ["string", "null"]}) is None
    to_obj = converter_for({"type": ["object", "null"]})
    assert to_obj is not None and to_obj('{"a": [1, 2]}') == {"a": [1, 2]}


def test_type_labels_of_configured_schemas() -> None:
    assert type_label({"type": "integer"}) == "integer"
    assert type_label({"type": ["number", "integer", "null"]}) == "number"
    assert type_label({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}) == "date-time"
    assert type_label({"type": ["integer", "string"]}) == "string"


def test_date_times_order_by_instant_not_by_text() -> None:
    order = comparable_for(property_for("date-time", False))
    east = "2024-01-01T12:00:00+02:00"  # 10:00 UTC
    utc = "2024-01-01T11:00:00Z"
    assert east > utc  # as text
    assert order(east) < order(utc)  # as instants
    assert order(datetime.fromisoformat(utc).isoformat()) == order(utc)
    assert order("2024-01-01T11:00:00.5Z") > order(utc)

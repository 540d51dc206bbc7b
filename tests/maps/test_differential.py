"""mapper-sluice against the reference, singer-sdk's own stream-map engine (tests/maps/sdk_reference_mapper.py).

The same input (tests/maps/streams.py: nested objects, nulls, unicode, big integers, long decimals,
STATE and ACTIVATE_VERSION) and the same settings go through both programs; the SCHEMA, RECORD,
STATE and ACTIVATE_VERSION lines, parsed (numbers as exact decimals), must be equal, in order.
Where the SDK rounds (decimal arithmetic past 28 digits) test_precision.py checks ours apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.maps.streams import ours, parsed, reference, run

MASK = {"email": "sha256(email) if email else None", "ssn": "md5(ssn) if ssn else None"}

CASES: dict[str, dict[str, Any]] = {
    "no maps": {},
    "alias": {"stream_maps": {"users": {"__alias__": "people"}}},
    "alias from the stream name": {"stream_maps": {"orders": {"__alias__": "__stream_name__ + '_v2'"}}},
    "drop a property with null": {"stream_maps": {"users": {"ssn": None}}},
    "drop a property with __NULL__": {"stream_maps": {"users": {"ssn": "__NULL__", "tags": None}}},
    "mask with sha256 and md5": {"stream_maps": {"users": MASK}},
    "new property, string concatenation": {"stream_maps": {"users": {"label": "name + ' <' + str(id) + '>'"}}},
    "int( float( str( bool( json.dumps( types": {"stream_maps": {"users": {
        "age_int": "int(age or 0)", "score_f": "float(score or 0)", "id_s": "str(id)",
        "has_email": "bool(email)", "tags_json": "json.dumps(tags)"}}},
    "date and datetime types": {"stream_maps": {"users": {
        "day": "datetime.date.fromisoformat(created_at[:10]).isoformat()",
        "stamp": "datetime.datetime.fromisoformat(created_at).isoformat()"}}},
    "quoted literal": {"stream_maps": {"orders": {"source": "'shop'"}}},
    "filter on a number": {"stream_maps": {"orders": {"__filter__": "total > 10"}}},
    "filter with a method and in": {"stream_maps": {"users": {"__filter__": "email and 'navy' in email.lower()"}}},
    "else null keeps keys and mapped": {"stream_maps": {"users": {"__else__": None, "id": "id", "name": "name",
                                                                  "domain": "email.split('@')[1] if email else None"}}},
    "content-hash key": {"stream_maps": {"events": {"__key_properties__": ["hash"],
                                                    "hash": "sha256(json.dumps(record, sort_keys=True))"}}},
    "key properties null": {"stream_maps": {"orders": {"__key_properties__": None, "id": None}}},
    "source copy": {"stream_maps": {"paid_orders": {"__source__": "orders", "__filter__": "status == 'paid'",
                                                    "__else__": None, "id": "id", "total": "total"}}},
    "drop a stream": {"stream_maps": {"events": None}},
    "else null at the top": {"stream_maps": {"orders": {}, "__else__": None}},
    "wildcard": {"stream_maps": {"*rders": {"__alias__": "sales", "status": None}}},
    "config in an expression": {"stream_map_config": {"salt": "pepper", "limit": 50},
                                "stream_maps": {"users": {"email": "sha256(config['salt'] + (email or ''))",
                                                          "old": "(age or 0) > config['limit']"}}},
    "self, record and _": {"stream_maps": {"users": {"name": "self.upper()", "rid": "record['id'] * 10",
                                                     "city": "_['address']['city'] if _['address'] else None"}}},
    "whole record as a property": {"stream_maps": {"orders": {"copy": "record"}}},
    "nulls and unicode": {"stream_maps": {"users": {"shout": "name.upper() + '!'", "initial": "name[0]",
                                                    "email": "email.lower() if email is not None else 'none'"}}},
    "big integers and decimals pass and add exactly": {"stream_maps": {"users": {"big1": "big + 1",
                                                                                 "amt": "amount"}}},
    "f-string and comprehension": {"stream_maps": {"users": {"tagline": "f'{name} ({len(tags) if False else 0})'",
                                                             "tagset": "','.join([t.upper() for t in tags])"}}},
    "flatten depth 1": {"flattening_enabled": True, "flattening_max_depth": 1},
    "flatten depth 2": {"flattening_enabled": True, "flattening_max_depth": 2},
    "flatten deeper than the data": {"flattening_enabled": True, "flattening_max_depth": 10},
    "flatten with maps": {"flattening_enabled": True, "flattening_max_depth": 1,
                          "stream_maps": {"users": {"__alias__": "people", **MASK, "tags": None}}},
    "flatten off with a depth": {"flattening_enabled": False, "flattening_max_depth": 3,
                                 "stream_maps": {"users": {"ssn": None}}},
    "flatten the whole record as a property": {"flattening_enabled": True, "flattening_max_depth": 1,
                                               "stream_maps": {"odd": {"__else__": None, "id": "id", "all": "record"}}},
    "division and modulo": {"stream_maps": {"orders": {"half": "total / 4", "rest": "id % 3", "neg": "-total"}}},
    "filter on a missing value": {"stream_maps": {"users": {"__filter__": "age is not None and age > 40"}}},
    "a decimal as text keeps its digits": {"stream_maps": {"prices": {
        "label": "str(price)", "hashed": "sha256(str(price))", "line": "f'{qty} x {price}'",
        "total": "price * qty", "w": "str(box['inner']['w']) if box else None"}}},
    "a decimal only compared keeps its value": {"stream_maps": {"prices": {"__filter__": "price > 2.5"}}},
    "flatten a decimal into JSON text": {"flattening_enabled": True, "flattening_max_depth": 1},
    "dates and times as ISO 8601 text": {"stream_maps": {"users": {
        "at": "datetime.time.fromisoformat(created_at[11:19])",
        "utc_time": "datetime.time(1, 2, 3, 4, tzinfo=datetime.timezone.utc)",
        "odd_offset": "datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(seconds=1)))",
        "nested": "[datetime.date.fromisoformat(created_at[:10]), "
                  "{'at': datetime.datetime.fromisoformat(created_at)}]"}}},
    "a wildcard after an explicit entry replaces it": {"stream_maps": {
        "users": {"ssn": None}, "*": {"__alias__": "__stream_name__ + '_raw'"}}},
    "several maps at once": {"stream_maps": {
        "users": {"__alias__": "customers", "__filter__": "id != 2", **MASK, "domain": "email.split('@')[-1]"},
        "orders": {"__key_properties__": ["id", "user_id"], "cents": "int(total * 100)"},
        "big_users": {"__source__": "users", "__filter__": "big > 2**64", "__else__": None,
                      "id": "id", "big": "big"}}},
}


REFUSED: dict[str, dict[str, Any]] = {
    "dropping a key property": {"stream_maps": {"users": {"id": None}}},
    "else null without the key": {"stream_maps": {"orders": {"__else__": None, "total": "total"}}},
    "unknown key property": {"stream_maps": {"orders": {"__key_properties__": ["nope"]}}},
    "flattening to one name twice": {"flattening_enabled": True, "flattening_max_depth": 1,
                                     "stream_maps": {"users": {"address__city": "'x'"}}},
    "a non-null __else__": {"stream_maps": {"users": {"__else__": "keep"}}},
    "a stream mapped to a string": {"stream_maps": {"users": "keep"}},
    "an entry a later wildcard replaces is still checked": {"stream_maps": {"orders": {"__else__": None},
                                                                          "*": {"h": "1"}}},
}


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", list(CASES))
def test_same_output_as_singer_sdk(case: str, tmp_path: Path) -> None:
    config = CASES[case]
    expected = run(reference(), config, tmp_path)
    assert expected.returncode == 0, expected.stderr.decode()[-2000:]
    got = run(ours(), config, tmp_path)
    assert got.returncode == 0, got.stderr.decode()
    want = parsed(expected.stdout)
    have = parsed(got.stdout)
    assert [m["type"] for m in have] == [m["type"] for m in want]
    for mine, theirs in zip(have, want, strict=True):
        assert mine == theirs


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_by_both(case: str, tmp_path: Path) -> None:
    """What singer-sdk's engine refuses, ours refuses as a config error (exit 2) before any RECORD."""
    expected = run(reference(), REFUSED[case], tmp_path)
    assert expected.returncode != 0
    got = run(ours(), REFUSED[case], tmp_path)
    assert got.returncode == 2, got.stderr.decode()
    assert not any(m["type"] == "RECORD" for m in parsed(got.stdout))

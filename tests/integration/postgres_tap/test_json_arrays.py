"""Arrays whose elements' text may hold a raw line break: an element of a json array is copied
as written by to_json, and a raw line break split the COPY row (a record in two broken lines).
Line breaks between json tokens are made blanks, as for json columns; other arrays escape theirs."""

from __future__ import annotations

from typing import Any

from tests.integration.postgres_tap.conftest import Src, records, tap
from tests.integration.postgres_tap.test_values import _snapshot_then_changes

TABLE = """
CREATE DOMAIN jarr AS json[];
CREATE DOMAIN jdoc AS json;
CREATE TABLE ja (id int PRIMARY KEY, a json[], b jsonb[], d jarr, e jdoc[], t text[]);
INSERT INTO ja VALUES
  (1, ARRAY[E'{"a":\\n1}'::json, E'[\\r\\n2,\\n"x\\\\ny"]'::json, NULL], ARRAY[E'{"a":\\n1}'::jsonb],
   ARRAY[E'{"d":\\r\\n3}'::json], ARRAY[E'{"e":\\n4}'::jdoc], ARRAY[E'line\\none', E'cr\\rtwo']),
  (2, ARRAY[ARRAY[E'{"m":\\n1}'::json], ARRAY['null'::json]], '{}', NULL, NULL, '{}'),
  (3, ARRAY['[2]'::json], NULL, ARRAY[]::json[], '{}', NULL)
"""
EXPECTED: list[dict[str, Any]] = [
    {"id": 1, "a": [{"a": 1}, [2, "x\ny"], None], "b": [{"a": 1}], "d": [{"d": 3}], "e": [{"e": 4}],
     "t": ["line\none", "cr\rtwo"]},
    {"id": 2, "a": [[{"m": 1}], [None]], "b": [], "d": None, "e": None, "t": []},
    {"id": 3, "a": [[2]], "b": None, "d": [], "e": [], "t": None},
]


def test_json_array_elements_with_line_breaks_stay_one_valid_record(src: Src) -> None:
    src.sql(TABLE)
    config = src.config()
    catalog = src.catalog(config, {"public-ja": {"replication-method": "FULL_TABLE"}})
    assert records(tap(config, catalog)) == EXPECTED  # every stdout line parses (tap() checks it)


def test_json_arrays_read_the_same_in_the_snapshot_and_from_logical_decoding(src: Src) -> None:
    src.sql(TABLE)
    validator, snapshot, changes = _snapshot_then_changes(src, "ja", "INSERT INTO ja SELECT id + 100, a, b, d, e, t "
                                                                     "FROM ja")
    assert records(snapshot) == EXPECTED
    replayed = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in records(changes)]
    assert replayed == [{**r, "id": r["id"] + 100} for r in EXPECTED]
    for record in records(snapshot) + records(changes):
        assert not [e.message for e in validator.iter_errors(record)], record
    assert src.sql("SELECT id, a::text FROM dst.ja WHERE id IN (1, 101) ORDER BY id") == [
        (1, '[{"a": 1}, [2, "x\\ny"], null]'), (101, '[{"a": 1}, [2, "x\\ny"], null]')]

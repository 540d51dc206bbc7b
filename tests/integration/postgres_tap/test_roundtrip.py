"""Type fidelity: every supported type through tap-postgres into target-postgres, compared in SQL.

Rows travel both paths of the tap: the server-rendered snapshot (COPY of row_to_json) and
logical decoding (pgoutput text values converted in Python). The comparison runs in the
database, source column against loaded column, value for value.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import exe, target_states
from tests.integration.postgres_tap.conftest import Src

TYPES = ("CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN posint AS int CHECK (VALUE > 0); "
         "CREATE TYPE duo AS (a int, b text)")
COLUMNS = """
    id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric(40,12), nf numeric, f float8, r real, bo boolean,
    ts timestamptz, tt timestamp, d date, tm time, u uuid, j json, jb jsonb, a int[], na numeric[], ta text[],
    b bytea, m mood, iv interval, txt text, vc varchar(12), ch char(3), mo money, dom posint, ip inet,
    pr duo, oi oid, oa oid[], ov oidvector, i2v int2vector, bx box[], doma posint[]
"""

ROWS = [
    """(1, -32768, 9223372036854775807, 1234567890123456789012345678.123456789012, 0.000000000001, 1.5e-300,
        3.25, true, '2024-02-29 23:59:59.999999+05:30', '1999-12-31 23:59:59.5', '0001-01-01', '23:59:59.999999',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2.50, null], "s": "q\\"uote"}',
        '{"nested": {"x": 12345678901234567890.5}}', '{1,NULL,-3}', '{1.10,NULL,99999999999999999999.99}',
        '{"a,b","c\\"d",NULL,"","NULL"}', '\\x00ff7f80', 'happy', '1 year 2 mons 3 days 04:05:06.5',
        E'tab\\there\\nnew line \\\\ back ✓ 😀 ''quote''', 'varchar', 'ab', 1234.56, 7, '192.168.0.1/24',
        ROW(1, 'x,"y')::duo, 4294967295, '{1,4294967295}', '1 4294967295', '-32768 7',
        ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)'], '{1,2}')""",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    """(3, 0, -9223372036854775808, -0.5, -99999999999999999999999999999.99999, -0.0, -1, false,
        '1970-01-01 00:00:00+00', '2038-01-19 03:14:07', '9999-12-31', '00:00:00',
        '00000000-0000-0000-0000-000000000000',
        '[]', '"just a string"', '{}', '{}', '{}', '\\x', 'sad', '-00:00:01', '', '', '   ', 0, 1, '::1',
        ROW(NULL, NULL)::duo, 0, '{}', '', '', '{}', '{}')""",
]

# source expression = loaded expression, for every column
CHECKS = {
    "i2": ("s.i2", "d.i2"), "i8": ("s.i8", "d.i8"), "n": ("s.n::text", "d.n::text"), "nf": ("s.nf::text", "d.nf::text"),
    "f": ("s.f", "d.f::float8"), "r": ("s.r", "d.r::real"), "bo": ("s.bo", "d.bo"), "ts": ("s.ts", "d.ts"),
    "tt": ("s.tt AT TIME ZONE 'UTC'", "d.tt"), "d": ("s.d", "d.d"), "tm": ("s.tm", "d.tm"), "u": ("s.u::text", "d.u"),
    "j": ("s.j::jsonb", "d.j"), "jb": ("s.jb", "d.jb"), "a": ("to_jsonb(s.a)", "d.a"),
    "na": ("to_jsonb(s.na)", "d.na"),
    "ta": ("to_jsonb(s.ta)", "d.ta"), "b": ("encode(s.b, 'hex')", "d.b"), "m": ("s.m::text", "d.m"),
    "iv": ("s.iv", "d.iv::interval"), "txt": ("s.txt", "d.txt"), "vc": ("s.vc", "d.vc"),
    "ch": ("s.ch", "d.ch::char(3)"), "mo": ("s.mo::numeric", "d.mo"), "dom": ("s.dom", "d.dom"),
    # inet: the output function's form (a ::text cast would add /128)
    "ip": ("CASE WHEN s.ip IS NULL THEN NULL ELSE format('%s', s.ip) END", "d.ip"),
    # a composite: its text; one whose fields are all null ("(,)", of which IS NULL is true) is not a null
    "pr": ("s.pr::text", "d.pr"),
    # an oid: an integer (to_json writes it as a string); an oidvector an array of them
    "oi": ("s.oi::int8", "d.oi"), "oa": ("to_jsonb(s.oa::int8[])", "d.oa"),
    "ov": ("to_jsonb(s.ov::oid[]::int8[])", "d.ov"),
    # vectors (array types written "1 2" in logical decoding's text): arrays of integers
    "i2v": ("to_jsonb(s.i2v::int2[])", "d.i2v"),
    # box elements hold commas: box[] text separates them with ";"
    "bx": ("to_jsonb(s.bx::text[])", "d.bx"),
    # an array of a domain: of the domain's base type
    "doma": ("to_jsonb(s.doma::int[])", "d.doma"),
}


def pipe(tap_args: list[str], target_config: Path) -> list[Any]:
    """tap | target over an OS pipe; the state values the target printed."""
    tap = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = subprocess.run([exe("target-postgres"), "--config", str(target_config)], stdin=tap.stdout,
                            capture_output=True, timeout=120, check=False)
    assert tap.stdout is not None and tap.stderr is not None
    tap.stdout.close()
    tap_err = tap.stderr.read().decode()
    tap.stderr.close()
    assert tap.wait(timeout=60) == 0, tap_err
    assert target.returncode == 0, target.stderr.decode()
    return target_states(target.stdout)


def _mismatches(src: Src) -> list[tuple[Any, ...]]:
    bad = []
    for name, (left, right) in CHECKS.items():
        rows = src.sql(f"SELECT s.id, {left}, {right} FROM public.t s FULL JOIN dst.t d ON d.id = s.id "
                       f"WHERE s.id IS NULL OR d.id IS NULL OR ({left}) IS DISTINCT FROM ({right})")
        bad += [(name, *row) for row in rows]
    return bad


def test_every_type_round_trips_through_target_postgres(src: Src) -> None:
    src.sql(TYPES)
    src.sql(f"CREATE TABLE t ({COLUMNS})")
    src.sql("INSERT INTO t VALUES " + ", ".join(ROWS))
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    target = src.tmp / "target.json"
    target.write_text(json.dumps({"sqlalchemy_url": src.dsn, "default_target_schema": "dst"}))
    states = pipe([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)], target)
    assert src.sql("SELECT count(*) FROM dst.t")[0][0] == 3
    assert _mismatches(src) == []
    # the same rows again, now through logical decoding
    src.sql("INSERT INTO t SELECT id + 10, i2, i8, n, nf, f, r, bo, ts, tt, d, tm, u, j, jb, a, na, ta, b, m, iv, "
            "txt, vc, ch, mo, dom, ip, pr, oi, oa, ov, i2v, bx, doma FROM t")
    src.sql("UPDATE t SET txt = txt || ' (updated)', n = n + 1 WHERE id = 1")
    state_file = src.tmp / "state.json"
    state_file.write_text(json.dumps(states[-1]))
    pipe([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog), "--state", str(state_file)], target)
    assert src.sql("SELECT count(*) FROM dst.t")[0][0] == 6
    assert _mismatches(src) == []
    assert src.sql("SELECT count(*) FROM dst.t WHERE _sdc_deleted_at IS NOT NULL")[0][0] == 0

"""target-parquet's layout: hive partitions, compression and sizes, schema changes as new file
sets, bad input, and the missing extra."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, exe, run, target_states
from tests.integration.parquet.support import (
    config,
    duckdb_rows,
    parquet_files,
    pyarrow_rows,
    record,
    run_target,
    schema,
    state,
)

PROPS = {"id": {"type": "integer"}, "country": {"type": ["string", "null"]},
         "at": {"type": "string", "format": "date-time"}, "n": {"type": ["integer", "null"]}}
COUNTRIES = ["NL", "a/b c", None, "NL", "", "BE", "100%", None]


def rows(count: int = 40) -> list[dict[str, Any]]:
    return [{"id": i, "country": COUNTRIES[i % len(COUNTRIES)], "n": i * 7,
             "at": f"2024-03-0{1 + i % 3}T2{i % 4}:30:00+0{i % 2}:00"} for i in range(count)]


def data(recs: list[dict[str, Any]], stream: str = "s") -> bytes:
    return schema(stream, PROPS) + b"".join(record(stream, r) for r in recs) + state(1)


def test_partition_by_a_field_with_pyarrow_and_duckdb(tmp_path: Path) -> None:
    recs = rows()
    done = run_target(tmp_path, data(recs), partition_by="country")
    assert done.returncode == 0, done.stderr.decode()
    root = tmp_path / "out" / "s" / "v1"
    dirs = sorted({p.parent.name for p in parquet_files(root)})
    assert dirs == sorted(["country=NL", "country=a%2Fb%20c", "country=__HIVE_DEFAULT_PARTITION__",
                           "country=BE", "country=100%25"])
    # the partition field is not inside the files (the hive convention): it comes from the path
    import pyarrow.parquet as pq

    assert all("country" not in pq.read_schema(p).names for p in parquet_files(root))
    want = {r["id"]: (r["country"] or None) for r in recs}  # "" shares the null partition
    assert {r["id"]: r["country"] for r in pyarrow_rows(root)} == want
    assert dict(duckdb_rows(root, "id, country")) == want
    assert [r["n"] for r in pyarrow_rows(root)] == [r["n"] for r in recs]


def test_partition_by_a_date_time_field_is_by_its_utc_date_and_load_date(tmp_path: Path) -> None:
    recs = rows(12)
    before = datetime.now(UTC).date().isoformat()
    done = run_target(tmp_path, data(recs), partition_by={"s": "at"}, partition_by_load_date=True)
    assert done.returncode == 0, done.stderr.decode()
    root = tmp_path / "out" / "s" / "v1"
    subpaths = {str(p.parent.relative_to(root)) for p in parquet_files(root)}
    loads = {s.split("/")[0] for s in subpaths}
    assert len(loads) == 1 and loads.pop() in {f"load_date={before}", f"load_date={datetime.now(UTC).date()}"}
    utc_dates = {datetime.fromisoformat(r["at"]).astimezone(UTC).date().isoformat() for r in recs}
    assert {s.split("/")[1] for s in subpaths} == {f"at_date={d}" for d in utc_dates}
    got = pyarrow_rows(root)
    for rec, row in zip(recs, got, strict=True):
        moment = datetime.fromisoformat(rec["at"]).astimezone(UTC)
        assert row["at"] == moment  # the date-time stays in the files, exact
        assert row["at_date"] == moment.date().isoformat()
    assert [r[0] for r in duckdb_rows(root, "count(*)", "1")] == [len(recs)]


def test_partition_by_a_missing_field_of_a_named_stream_is_a_config_error(tmp_path: Path) -> None:
    done = run_target(tmp_path, data(rows(2)), partition_by={"s": "nope"})
    assert done.returncode == 2
    assert "stream 's' has no property 'nope'" in done.stderr.decode()
    # '*' (or a plain name) partitions only the streams that have the field
    done = run_target(tmp_path, data(rows(2)), partition_by="nope")
    assert done.returncode == 0, done.stderr.decode()
    assert [p.parent.name for p in parquet_files(tmp_path / "out")] == ["v1"]


@pytest.mark.parametrize("field", ["../../../escaped", "../x", "a/b", "=", ".."])
def test_a_partition_field_whose_name_is_no_directory_name_is_a_config_error(tmp_path: Path, field: str) -> None:
    """The directory is <field>=<value> and only the value was encoded: a field named ../../../escaped
    wrote its files outside destination_path (../x outside the stream's v1), exit 0, where no reader
    of the stream looks."""
    props = {"id": {"type": "integer"}, field: {"type": "string"}}
    done = run_target(tmp_path, schema("t", props) + record("t", {"id": 1, field: "v"}) + state(1),
                      partition_by=field)
    assert done.returncode == 2, done.stderr.decode()
    assert f"setting 'partition_by': field {field!r} cannot name a directory" in done.stderr.decode()
    assert not parquet_files(tmp_path)


@pytest.mark.parametrize("codec", ["snappy", "zstd", "gzip", "none"])
def test_compression_row_groups_and_file_size(tmp_path: Path, codec: str) -> None:
    import pyarrow.parquet as pq

    recs = rows(250)
    done = run_target(tmp_path, data(recs), compression=codec, row_group_rows=40, max_rows_per_file=100)
    assert done.returncode == 0, done.stderr.decode()
    files = parquet_files(tmp_path / "out")
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [100, 100, 50]
    for f in files:
        meta = pq.ParquetFile(f).metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] in ([40, 40, 20], [40, 10])
        assert meta.row_group(0).column(0).compression == ("UNCOMPRESSED" if codec == "none" else codec.upper())
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "s" / "v1")] == list(range(250))


def test_a_changed_schema_starts_a_new_file_set_and_both_read(tmp_path: Path) -> None:
    wider = {**PROPS, "n": {"type": ["string", "null"]}, "extra": {"type": ["boolean", "null"]}}
    described = {**PROPS, "n": {"type": ["integer", "null"], "description": "only a description changed"}}
    first = (schema("s", PROPS) + record("s", {"id": 1, "n": 5, "at": "2024-01-01T00:00:00Z"})
             + schema("s", described) + record("s", {"id": 2, "n": 6, "at": "2024-01-01T00:00:00Z"})
             + state(1)
             + schema("s", wider) + record("s", {"id": 3, "n": "x", "extra": True, "at": "2024-01-01T00:00:00Z"})
             + state(2))
    done = run_target(tmp_path, first, state_flush_seconds=0)
    assert done.returncode == 0, done.stderr.decode()
    assert target_states(done.stdout) == [{"n": 1}, {"n": 2}]
    out = tmp_path / "out" / "s"
    assert sorted(p.name for p in out.iterdir()) == ["v1", "v2"]
    assert [(r["id"], r["n"]) for r in pyarrow_rows(out / "v1")] == [(1, 5), (2, 6)]
    assert [(r["id"], r["n"], r["extra"]) for r in pyarrow_rows(out / "v2")] == [(3, "x", True)]
    # a later run with the newest schema adds files to v2; the first schema again starts v3
    again = schema("s", wider) + record("s", {"id": 4, "n": "y", "at": "2024-01-01T00:00:00Z"}) + state(3)
    assert run_target(tmp_path, again).returncode == 0
    assert [r["id"] for r in pyarrow_rows(out / "v2")] == [3, 4]
    back = schema("s", PROPS) + record("s", {"id": 5, "n": 7, "at": "2024-01-01T00:00:00Z"}) + state(4)
    assert run_target(tmp_path, back).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["v1", "v2", "v3"]
    import duckdb

    every = duckdb.sql(f"SELECT id, CAST(n AS VARCHAR) FROM read_parquet('{out}/v*/**/*.parquet', "
                       "union_by_name = true) ORDER BY id").fetchall()
    assert every == [(1, "5"), (2, "6"), (3, "x"), (4, "y"), (5, "7")]


def test_two_streams_never_share_a_directory(tmp_path: Path) -> None:
    """'a/b' and 'a_b' both map to the directory a_b: in one run and in later runs, the second is
    refused (their files would read as one table's versions), and the first's files are untouched."""
    at = "2024-01-01T00:00:00Z"
    both = (schema("a/b", PROPS) + schema("a_b", PROPS) + record("a/b", {"id": 1, "at": at})
            + record("a_b", {"id": 2, "at": at}) + state(1))
    done = run_target(tmp_path, both)
    assert done.returncode == 2, done.stderr.decode()
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "streams 'a/b' and 'a_b' would both write to" in errors[0], errors
    assert parquet_files(tmp_path / "out") == []
    first = run_target(tmp_path, data([{"id": 1, "at": at}], stream="a/b"))
    assert first.returncode == 0, first.stderr.decode()
    later = run_target(tmp_path, data([{"id": 2, "at": at, "n": 1}], stream="a_b"))
    assert later.returncode == 1
    assert "holds the file sets of stream 'a/b'" in later.stderr.decode()
    assert target_states(later.stdout) == []
    assert sorted(p.name for p in (tmp_path / "out" / "a_b").iterdir()) == ["v1"]
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "a_b" / "v1")] == [1]


def test_bad_input_is_one_error_line_and_keeps_what_a_state_covers(tmp_path: Path) -> None:
    good = [record("s", {"id": i, "at": "2024-01-01T00:00:00Z"}) for i in range(3)]
    stream = (schema("s", PROPS) + b"".join(good) + state(1) + record("s", {"id": 3, "at": "2024-01-01T00:00:00Z"})
              + record("s", {"id": 4, "n": "seven", "at": "2024-01-01T00:00:00Z"}) + state(2))
    done = run_target(tmp_path, stream, state_flush_seconds=0)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1 and "line 7" in errors[0] and "'s'" in errors[0] and "'n'" in errors[0], errors
    assert target_states(done.stdout) == [{"n": 1}]
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "s" / "v1")] == [0, 1, 2]


def test_without_pyarrow_one_line_names_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['pyarrow'] = None\n")
    env = {"PYTHONPATH": f"{blocker}:{ROOT}", "PATH": "/usr/bin:/bin"}
    args = [sys.executable, "-m", "targets.parquet", "--config", str(config(tmp_path))]
    done = subprocess.run(args, input=data(rows(1)), capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "target-parquet needs the extra: pip install 'sluice[parquet]'" in lines[0], lines
    about = subprocess.run([*args[:3], "--about"], capture_output=True, env=env, timeout=60, check=False)
    assert about.returncode == 0 and b"partition_by" in about.stdout


def test_test_flag_checks_the_destination(tmp_path: Path) -> None:
    done = run([exe("target-parquet"), "--config", str(config(tmp_path)), "--test"])
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "out").is_dir()

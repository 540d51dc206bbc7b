"""The `metadata:` block of a tap in sluice.yml, with tap-postgres on a real table, run by `sluice`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.integration.runner.helpers import sluice


def _project(tmp_path: Path, dsn: str, metadata: dict[str, Any], **tap_extra: Any) -> None:
    tap: dict[str, Any] = {"name": "tap-pg", "executable": "tap-postgres",
                           "config": {"sqlalchemy_url": dsn, "filter_schemas": ["public"]}, "metadata": metadata}
    tap.update(tap_extra)
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [tap, {"name": "target-jsonl", "executable": "target-jsonl",
                             "config": {"destination_path": str(tmp_path / "out")}}],
        "pipelines": [{"name": "pg", "tap": "tap-pg", "target": "target-jsonl"}],
    }, sort_keys=False))


def _tables(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table orders (id int primary key, total int, updated_at timestamptz not null)")
        conn.execute("insert into orders select i, i * 10, '2024-01-01'::timestamptz + i * interval '1 day' "
                     "from generate_series(1, 3) i")
        conn.execute("create table audit_log (id int primary key, what text)")
        conn.execute("insert into audit_log values (1, 'x'), (2, 'y')")


def _rows(tmp_path: Path, stream: str) -> list[dict[str, Any]]:
    path = tmp_path / "out" / f"{stream}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_metadata_switches_a_stream_to_incremental_on_its_key(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {"public-orders": {"replication-method": "INCREMENTAL",
                                                  "replication-key": "updated_at"}})
    first = sluice(["run", "pg"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(r["id"] for r in _rows(tmp_path, "public-orders")) == [1, 2, 3]
    state = json.loads(sluice(["state", "get", "pg"], tmp_path).stdout)
    bookmark = state["bookmarks"]["public-orders"]
    assert bookmark["replication_key"] == "updated_at"
    assert bookmark["replication_key_value"].startswith("2024-01-04")

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("insert into orders values (4, 40, '2024-02-01'), (5, 50, '2024-02-02')")
        conn.execute("update orders set total = 0 where id = 1")  # older than the bookmark: not read again
    second = sluice(["run", "pg"], tmp_path)
    assert second.returncode == 0, second.stderr
    new = [r["id"] for r in _rows(tmp_path, "public-orders")[3:]]
    assert sorted(set(new)) == [3, 4, 5]  # 3 is the row at the bookmark (reads are >= it), then the new rows
    assert 1 not in new and 2 not in new


def test_a_glob_deselects_streams_and_a_later_entry_wins(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {"public-*": {"selected": False},
                                "public-orders": {"selected": True, "total": {"selected": False}}})
    done = sluice(["run", "pg"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "out" / "public-audit_log.jsonl").exists()
    rows = _rows(tmp_path, "public-orders")
    assert sorted(r["id"] for r in rows) == [1, 2, 3]
    assert all("total" not in r for r in rows)


def test_metadata_over_a_catalog_file(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {}, catalog="catalog.json")
    assert sluice(["discover", "tap-pg", "-o", "catalog.json"], tmp_path).returncode == 0
    _project(tmp_path, pg_dsn, {"public-audit_log": {"selected": False}}, catalog="catalog.json")
    done = sluice(["run", "pg"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert _rows(tmp_path, "public-audit_log") == []
    assert len(_rows(tmp_path, "public-orders")) == 3
    assert "public-audit_log" in (tmp_path / "catalog.json").read_text()  # the file is not rewritten


def test_a_replication_key_that_is_not_a_property_is_one_clear_error(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {"public-orders": {"replication-method": "INCREMENTAL",
                                                  "replication-key": "modified"}})
    done = sluice(["run", "pg"], tmp_path)
    assert done.returncode != 0
    assert "replication-key 'modified' is not a property of stream 'public-orders'" in done.stderr
    assert "connector 'tap-pg'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_glob_matching_no_stream_is_a_warning(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {"public-ordres": {"selected": False}})
    done = sluice(["run", "pg"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "connector 'tap-pg': metadata 'public-ordres' matches no stream" in done.stderr
    assert len(_rows(tmp_path, "public-orders")) == 3


def test_an_unknown_replication_method_is_refused_by_validate(tmp_path: Path, pg_dsn: str) -> None:
    _project(tmp_path, pg_dsn, {"public-orders": {"replication-method": "INCREMENTL"}})
    done = sluice(["validate"], tmp_path)
    assert done.returncode == 2
    assert "connectors[0].metadata.public-orders.replication-method" in done.stderr
    assert "'INCREMENTL' is not one of" in done.stderr


def test_select_replication_round_trip_keeps_comments_and_drives_the_run(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    (tmp_path / "sluice.yml").write_text(
        "# the project\n"
        "connectors:\n"
        "  - name: tap-pg  # source\n"
        "    executable: tap-postgres\n"
        f"    config: {{sqlalchemy_url: '{pg_dsn}', filter_schemas: [public]}}\n"
        "    metadata:\n"
        "      public-audit_log:  # noisy\n"
        "        selected: false\n"
        "  - name: target-jsonl\n"
        "    executable: target-jsonl\n"
        f"    config: {{destination_path: '{tmp_path / 'out'}'}}\n"
        "pipelines:\n"
        "  - {name: pg, tap: tap-pg, target: target-jsonl}  # every 15 minutes\n")
    listed = sluice(["select", "tap-pg", "--list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "public-orders [selected]\n" in listed.stdout and "public-audit_log [excluded]\n" in listed.stdout

    done = sluice(["select", "tap-pg", "--replication", "public-orders", "INCREMENTAL:updated_at"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "public-orders [selected] INCREMENTAL:updated_at\n" in done.stdout
    text = (tmp_path / "sluice.yml").read_text()
    assert "# the project" in text and "# source" in text and "# noisy" in text and "# every 15 minutes" in text
    block = yaml.safe_load(text)["connectors"][0]["metadata"]
    assert block == {"public-audit_log": {"selected": False},
                     "public-orders": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}}
    assert sluice(["validate"], tmp_path).returncode == 0

    listed = sluice(["select", "tap-pg", "--list"], tmp_path)
    assert "public-orders [selected] INCREMENTAL:updated_at\n" in listed.stdout
    assert sluice(["run", "pg"], tmp_path).returncode == 0
    state = json.loads(sluice(["state", "get", "pg"], tmp_path).stdout)
    assert state["bookmarks"]["public-orders"]["replication_key"] == "updated_at"

    back = sluice(["select", "tap-pg", "--replication", "public-orders", "FULL_TABLE"], tmp_path)
    assert back.returncode == 0, back.stderr
    assert yaml.safe_load((tmp_path / "sluice.yml").read_text())["connectors"][0]["metadata"]["public-orders"] == {
        "replication-method": "FULL_TABLE"}


def test_select_replication_refuses_what_does_not_fit(tmp_path: Path, pg_dsn: str) -> None:
    _tables(pg_dsn)
    _project(tmp_path, pg_dsn, {})
    before = (tmp_path / "sluice.yml").read_text()
    for args, message in [
        (["public-orders", "INCREMENTAL:nope"], "replication-key 'nope' is not a property of stream 'public-orders'"),
        (["public-ordrs", "FULL_TABLE"], "--replication public-ordrs: matches no stream"),
        (["public-orders", "SOMETIMES"], "'SOMETIMES' is not a replication method"),
        (["public-orders", "INCREMENTAL"], "INCREMENTAL needs a key"),
    ]:
        done = sluice(["select", "tap-pg", "--replication", *args], tmp_path)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    assert (tmp_path / "sluice.yml").read_text() == before

"""ACTIVATE_VERSION, metadata columns, load methods, drop-in settings, --test and METRIC lines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
import pytest

from tests.conftest import exe, pg_address, run
from tests.integration.sql.helpers import Dest, error_lines, singer

SCHEMA = {"type": "SCHEMA", "stream": "items", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"}}}}


def _rec(i: int, v: str, version: int | None = None, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "RECORD", "stream": "items", "record": {"id": i, "v": v}, **extra}
    if version is not None:
        msg["version"] = version
    return msg


def _activate(version: int) -> dict[str, Any]:
    return {"type": "ACTIVATE_VERSION", "stream": "items", "version": version}


def _two_full_syncs(dest: Dest) -> None:
    first = dest.load(singer(SCHEMA, _activate(1), *(_rec(i, f"v1-{i}", 1) for i in (1, 2, 3)), _activate(1)))
    assert first.returncode == 0, first.stderr.decode()
    second = dest.load(singer(SCHEMA, _activate(2), *(_rec(i, f"v2-{i}", 2) for i in (2, 4)), _activate(2)))
    assert second.returncode == 0, second.stderr.decode()


@pytest.mark.parametrize("hard", [True, False])
def test_activate_version_retires_older_rows(dest_factory: Any, hard: bool) -> None:
    dest: Dest = dest_factory(hard_delete=hard)
    _two_full_syncs(dest)
    rows = {r["id"]: r for r in dest.rows("items")}
    if hard:
        assert sorted(rows) == [2, 4]
        assert "_sdc_deleted_at" not in dest.columns("items")
    else:
        assert sorted(rows) == [1, 2, 3, 4]
        assert {i for i, r in rows.items() if r["_sdc_deleted_at"] is not None} == {1, 3}
    assert {i: r["_sdc_table_version"] for i, r in rows.items() if i in (2, 4)} == {2: 2, 4: 2}
    assert rows[2]["v"] == "v2-2"


def test_activate_version_can_be_ignored(dest_factory: Any) -> None:
    dest: Dest = dest_factory(activate_version=False, hard_delete=True)
    _two_full_syncs(dest)
    assert sorted(r["id"] for r in dest.rows("items")) == [1, 2, 3, 4]


@pytest.mark.parametrize("hard", [True, False])
def test_a_declared_table_version_field_takes_the_message_version(dest_factory: Any, hard: bool) -> None:
    """A schema read back from a Singer-loaded warehouse declares _sdc_table_version: the column holds the
    RECORD's "version" (what ACTIVATE_VERSION compares), not the record's own value, so the version just
    loaded is not deleted (or marked deleted) by its own ACTIVATE_VERSION."""
    dest: Dest = dest_factory(hard_delete=hard)
    props = {"id": {"type": "integer"}, "v": {"type": "string"}, "_sdc_table_version": {"type": ["integer", "null"]},
             "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"}}
    schema = {"type": "SCHEMA", "stream": "items", "key_properties": ["id"],
              "schema": {"type": "object", "properties": props}}
    records = [{"type": "RECORD", "stream": "items", "version": 5, "record": record} for record in (
        {"id": 1, "v": "a", "_sdc_table_version": 1, "_sdc_deleted_at": None},
        {"id": 2, "v": "b", "_sdc_table_version": None},
        {"id": 3, "v": "c", "_sdc_table_version": 9})]
    for run_ in (1, 2):  # the second run finds the table (and its metadata columns) as the first left it
        result = dest.load(singer(schema, *records, _activate(5), {"type": "STATE", "value": {"run": run_}}))
        assert result.returncode == 0, result.stderr.decode()
        rows = {r["id"]: r for r in dest.rows("items")}
        assert {i: (r["v"], r["_sdc_table_version"], r["_sdc_deleted_at"]) for i, r in rows.items()} == \
            {1: ("a", 5, None), 2: ("b", 5, None), 3: ("c", 5, None)}


def test_a_soft_deleted_row_sent_again_is_no_longer_deleted(dest: Dest) -> None:
    """Version 2 lacks id 2 (marked _sdc_deleted_at), version 3, in a later run, has it again: its
    mark is cleared (it was kept: the run wrote _sdc_deleted_at only after its ACTIVATE_VERSION). A
    record's own _sdc_deleted_at (LOG_BASED taps mark deleted rows so) is still written as it is."""
    def sync(version: int, ids: tuple[int, ...]) -> dict[int, Any]:
        result = dest.load(singer(SCHEMA, *(_rec(i, f"v{version}-{i}", version) for i in ids), _activate(version),
                                  {"type": "STATE", "value": {"v": version}}))
        assert result.returncode == 0, result.stderr.decode()
        return {r["id"]: r for r in dest.rows("items")}

    sync(1, (1, 2, 3))
    second = sync(2, (1,))
    assert {i for i, r in second.items() if r["_sdc_deleted_at"] is not None} == {2, 3}
    third = sync(3, (1, 2))
    assert {i: (r["v"], r["_sdc_deleted_at"] is None) for i, r in third.items()} == \
        {1: ("v3-1", True), 2: ("v3-2", True), 3: ("v1-3", False)}
    logged = {**SCHEMA, "schema": {"type": "object", "properties": {
        **SCHEMA["schema"]["properties"], "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"}}}}
    gone = {"type": "RECORD", "stream": "items", "version": 3,
            "record": {"id": 1, "v": "gone", "_sdc_deleted_at": "2024-05-06T07:08:09Z"}}
    result = dest.load(singer(logged, gone, _rec(2, "back", 3), {"type": "STATE", "value": {"v": 4}}))
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["id"]: r for r in dest.rows("items")}
    assert datetime.fromisoformat(str(rows[1]["_sdc_deleted_at"]).replace(" ", "T")) == \
        datetime.fromisoformat("2024-05-06T07:08:09+00:00")
    assert rows[2]["v"] == "back" and rows[2]["_sdc_deleted_at"] is None


def test_record_metadata_columns(dest_factory: Any) -> None:
    dest: Dest = dest_factory(add_record_metadata=True)
    result = dest.load(singer(SCHEMA, _rec(1, "a", 5, time_extracted="2024-01-02T03:04:05+00:00"), _rec(2, "b")))
    assert result.returncode == 0, result.stderr.decode()
    rows = {r["id"]: r for r in dest.rows("items")}
    meta = ("_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_deleted_at", "_sdc_sequence",
            "_sdc_table_version")
    assert set(meta) <= set(dest.columns("items"))
    one, two = rows[1], rows[2]
    assert datetime.fromisoformat(str(one["_sdc_extracted_at"])) == datetime.fromisoformat("2024-01-02T03:04:05+00:00")
    assert one["_sdc_table_version"] == 5 and two["_sdc_table_version"] is None and two["_sdc_extracted_at"] is None
    assert one["_sdc_received_at"] is not None and one["_sdc_batched_at"] is not None
    assert isinstance(one["_sdc_sequence"], int) and one["_sdc_deleted_at"] is None


def test_load_methods(dest_factory: Any, tmp_path: Any) -> None:
    append: Dest = dest_factory(load_method="append-only")
    assert append.load(singer(SCHEMA, _rec(1, "a"), _rec(1, "b"))).returncode == 0
    assert append.load(singer(SCHEMA, _rec(1, "c"))).returncode == 0
    assert sorted(r["v"] for r in append.rows("items")) == ["a", "b", "c"]

    over: Dest = dest_factory(load_method="overwrite", table_prefix="o_")
    assert over.load(singer(SCHEMA, _rec(1, "a"), _rec(2, "b"))).returncode == 0
    assert over.load(singer(SCHEMA, _rec(3, "c"), _rec(3, "d"))).returncode == 0
    assert [(r["id"], r["v"]) for r in over.rows("o_items")] == [(3, "d")]


def test_each_batch_logs_metrics(dest_factory: Any) -> None:
    dest: Dest = dest_factory(batch_size_rows=2)
    result = dest.load(singer(SCHEMA, *(_rec(i, "x") for i in range(5))))
    assert result.returncode == 0
    metrics = [json.loads(line.split("METRIC: ", 1)[1]) for line in result.stderr.decode().splitlines()
               if "METRIC: " in line]
    batches = [m for m in metrics if m["metric"] == "batch_processing_time"]
    assert [m["tags"]["rows"] for m in batches] == [2, 2, 1]
    assert sum(m["value"] for m in metrics if m["metric"] == "record_count") == 5


def test_sqlite_path_alias_and_test_flag(tmp_path: Any) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"path": str(tmp_path / "sub" / "w.db")}))
    ok = run([exe("target-sqlite"), "--config", str(config), "--test"])
    assert ok.returncode == 0, ok.stderr.decode()
    assert "writable" in ok.stderr.decode()
    config.write_text(json.dumps({"path": str(tmp_path / "c.json" / "nope.db")}))
    bad = run([exe("target-sqlite"), "--config", str(config), "--test"])
    assert bad.returncode == 1 and len(error_lines(bad.stderr)) == 1


MELTANOLABS_SETTINGS = {
    "host", "port", "user", "password", "database", "sqlalchemy_url", "dialect+driver", "default_target_schema",
    "activate_version", "hard_delete", "add_record_metadata", "ssl_enable", "ssl_client_certificate_enable",
    "ssl_mode", "ssl_certificate_authority", "ssl_client_certificate", "ssl_client_private_key",
    "ssl_storage_directory", "load_method", "batch_size_rows", "validate_records",
}


def test_postgres_accepts_the_meltanolabs_settings() -> None:
    about = run([exe("target-postgres"), "--about", "--format", "json"])
    assert about.returncode == 0
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert MELTANOLABS_SETTINGS <= set(settings)
    assert settings["password"]["secret"] is True
    assert settings["load_method"]["enum"] == ["append-only", "upsert", "overwrite"]


def test_postgres_separate_fields_schema_and_driver_url(pg_dsn: str, tmp_path: Any) -> None:
    database = pg_dsn.rsplit("/", 1)[1]
    host, port = pg_address(pg_dsn)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"host": host, "port": port, "user": "postgres", "password": "s3cr3t-pw",
                                  "database": database, "default_target_schema": "melty", "ssl_enable": False,
                                  "dialect+driver": "postgresql+psycopg2", "batch_size_rows": 1000,
                                  "validate_records": True, "load_method": "upsert", "add_record_metadata": False}))
    result = run([exe("target-postgres"), "--config", str(config)], input=singer(SCHEMA, _rec(1, "a")))
    assert result.returncode == 0, result.stderr.decode()
    assert b"s3cr3t-pw" not in result.stderr
    url = pg_dsn.replace("postgresql://", "postgresql+psycopg2://")
    config.write_text(json.dumps({"sqlalchemy_url": url, "default_target_schema": "melty"}))
    again = run([exe("target-postgres"), "--config", str(config)], input=singer(SCHEMA, _rec(2, "b")))
    assert again.returncode == 0, again.stderr.decode()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT id, v FROM melty.items ORDER BY id").fetchall() == [(1, "a"), (2, "b")]


def test_postgres_test_flag_reports_missing_privileges(pg_dsn: str, tmp_path: Any) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"sqlalchemy_url": pg_dsn, "default_target_schema": "public"}))
    ok = run([exe("target-postgres"), "--config", str(config), "--test"])
    assert ok.returncode == 0, ok.stderr.decode()
    role = "sluice_test_" + pg_dsn.rsplit("_", 1)[1]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute("CREATE SCHEMA locked")
        conn.execute(f"GRANT USAGE ON SCHEMA locked TO {role}")
    try:
        url = pg_dsn.replace("postgres@", f"{role}@")
        config.write_text(json.dumps({"sqlalchemy_url": url, "default_target_schema": "locked"}))
        bad = run([exe("target-postgres"), "--config", str(config), "--test"])
        assert bad.returncode == 1
        (line,) = error_lines(bad.stderr)
        assert f'user "{role}" lacks CREATE' in line and "locked" in line
        config.write_text(json.dumps({"sqlalchemy_url": url.replace(f":{pg_address(pg_dsn)[1]}/", ":1/")}))
        down = run([exe("target-postgres"), "--config", str(config), "--test"])
        assert down.returncode == 1
        (line,) = error_lines(down.stderr)
        assert "cannot connect to PostgreSQL" in line
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA locked")
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_postgres_ssl_settings_reach_libpq(pg_dsn: str, tmp_path: Any) -> None:
    database = pg_dsn.rsplit("/", 1)[1]
    host, port = pg_address(pg_dsn)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config = tmp_path / "c.json"
    config.write_text(json.dumps({
        "host": host, "port": port, "user": "postgres", "database": database, "ssl_enable": True,
        "ssl_mode": "require", "ssl_certificate_authority": pem, "ssl_storage_directory": str(tmp_path / "certs")}))
    result = run([exe("target-postgres"), "--config", str(config), "--test"])
    with psycopg.connect(pg_dsn) as conn:
        ssl_on = conn.execute("SHOW ssl").fetchone() == ("on",)
    if ssl_on:  # pragma: no cover - the test server here has no SSL
        assert result.returncode == 0
    else:
        assert result.returncode == 1
        (line,) = error_lines(result.stderr)
        assert f"cannot connect to PostgreSQL at {host}:{port}" in line and "SSL" in line
    written = tmp_path / "certs" / "root.crt"
    assert written.read_text() == pem and oct(written.stat().st_mode & 0o777) == "0o600"
    config.write_text(json.dumps({"host": "127.0.0.1", "ssl_enable": True, "ssl_mode": "sometimes"}))
    bad = run([exe("target-postgres"), "--config", str(config), "--test"])
    assert bad.returncode == 2 and "ssl_mode" in bad.stderr.decode()

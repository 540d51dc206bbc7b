"""Unknown settings in the real connectors: the four typos of issue #11, nested keys, strict mode.

By default an unknown key is one warning line naming its path and the key it probably meant;
with ``strict_settings: true`` the connector refuses to start (exit 2) and writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import exe, run

CONNECTORS = ["tap-csv", "tap-postgres", "tap-github", "tap-rest",
              "target-postgres", "target-sqlite", "target-jsonl", "target-csv"]

STREAM = b"\n".join(json.dumps(m).encode() for m in (
    {"type": "SCHEMA", "stream": "users", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
     "key_properties": ["id"]},
    {"type": "RECORD", "stream": "users", "record": {"id": 1}},
    {"type": "RECORD", "stream": "users", "record": {"id": 2}},
    {"type": "STATE", "value": {"done": 1}},
)) + b"\n"


def config_file(tmp_path: Path, config: dict[str, Any], name: str = "config.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def warning_lines(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if "unknown setting" in line]


@pytest.mark.parametrize("name", CONNECTORS)
def test_every_connector_publishes_strict_settings(name: str) -> None:
    done = run([exe(name), "--about", "--format", "json"])
    assert done.returncode == 0, done.stderr.decode()
    prop = json.loads(done.stdout)["settings"]["properties"]["strict_settings"]
    assert prop["type"] == "boolean" and prop["default"] is False


def test_tap_csv_nested_delimeter_warns_and_strict_refuses(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id;name\n1;ann\n")
    files = [{"entity": "users", "path": str(tmp_path / "users.csv"), "delimeter": ";"}]
    done = run([exe("tap-csv"), "--config", config_file(tmp_path, {"files": files})])
    assert done.returncode == 0, done.stderr.decode()
    [line] = warning_lines(done.stderr)
    assert "WARNING" in line and "unknown setting 'files[0].delimeter' (did you mean 'delimiter'?)" in line

    strict = config_file(tmp_path, {"files": files, "strict_settings": True}, "strict.json")
    done = run([exe("tap-csv"), "--config", strict])
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().strip().endswith(
        "invalid config: unknown setting 'files[0].delimeter' (did you mean 'delimiter'?)")


def test_tap_csv_files_definition_entries_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id\n1\n")
    definition = config_file(tmp_path, [{"entity": "users", "path": str(tmp_path / "users.csv"), "kyes": ["id"]}],
                             "files.json")
    config = config_file(tmp_path, {"csv_files_definition": definition, "strict_settings": True})
    done = run([exe("tap-csv"), "--config", config, "--discover"])
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'csv_files_definition[0].kyes' (did you mean 'keys'?)" in done.stderr.decode()


def test_tap_postgres_filter_schema(tmp_path: Path, pg_dsn: str) -> None:
    config = {"sqlalchemy_url": pg_dsn, "filter_schema": ["public"]}
    done = run([exe("tap-postgres"), "--config", config_file(tmp_path, config), "--discover"])
    assert done.returncode == 0, done.stderr.decode()
    [line] = warning_lines(done.stderr)
    assert "unknown setting 'filter_schema' (did you mean 'filter_schemas'?)" in line

    strict = config_file(tmp_path, {**config, "strict_settings": True}, "strict.json")
    done = run([exe("tap-postgres"), "--config", strict, "--discover"])
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'filter_schema' (did you mean 'filter_schemas'?)" in done.stderr.decode()


@pytest.mark.parametrize("name", ["target-jsonl", "target-csv"])
def test_file_targets_destination_pth(tmp_path: Path, name: str) -> None:
    meant, cwd = tmp_path / "meant", tmp_path / "cwd"
    cwd.mkdir()
    config = {"destination_pth": str(meant)}
    done = run([exe(name), "--config", config_file(tmp_path, config)], input=STREAM, cwd=cwd)
    assert done.returncode == 0, done.stderr.decode()
    [line] = warning_lines(done.stderr)
    assert "unknown setting 'destination_pth' (did you mean 'destination_path'?)" in line
    assert [p.name for p in cwd.iterdir()] != []  # where it went: the warning said why

    for path in cwd.iterdir():
        path.unlink()
    strict = config_file(tmp_path, {**config, "strict_settings": True}, "strict.json")
    done = run([exe(name), "--config", strict], input=STREAM, cwd=cwd)
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'destination_pth' (did you mean 'destination_path'?)" in done.stderr.decode()
    assert list(cwd.iterdir()) == [] and not meant.exists()


def test_target_sqlite_batch_size_row(tmp_path: Path) -> None:
    database = tmp_path / "out.db"
    config = {"database": str(database), "batch_size_row": 1}
    done = run([exe("target-sqlite"), "--config", config_file(tmp_path, config)], input=STREAM)
    assert done.returncode == 0, done.stderr.decode()
    assert "unknown setting 'batch_size_row' (did you mean 'batch_size_rows'?)" in warning_lines(done.stderr)[0]
    database.unlink()

    strict = config_file(tmp_path, {**config, "strict_settings": True}, "strict.json")
    done = run([exe("target-sqlite"), "--config", strict], input=STREAM)
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'batch_size_row' (did you mean 'batch_size_rows'?)" in done.stderr.decode()
    assert not database.exists()


def test_target_postgres_batch_size_row(tmp_path: Path, pg_dsn: str) -> None:
    config = {"sqlalchemy_url": pg_dsn, "default_target_schema": "public", "batch_size_row": 1,
              "strict_settings": True}
    done = run([exe("target-postgres"), "--config", config_file(tmp_path, config)], input=STREAM)
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'batch_size_row' (did you mean 'batch_size_rows'?)" in done.stderr.decode()
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone() == (0,)

    config["strict_settings"] = False
    done = run([exe("target-postgres"), "--config", config_file(tmp_path, config)], input=STREAM)
    assert done.returncode == 0, done.stderr.decode()
    assert "unknown setting 'batch_size_row' (did you mean 'batch_size_rows'?)" in warning_lines(done.stderr)[0]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select count(*) from public.users").fetchone() == (2,)


def test_tap_rest_per_stream_key_is_refused_and_every_unknown_listed(tmp_path: Path) -> None:
    stream = {"name": "users", "path": "/users", "primary_key": ["id"]}
    config = {"api_url": "http://127.0.0.1:9", "streams": [stream], "records_pth": "$.items[*]"}
    done = run([exe("tap-rest"), "--config", config_file(tmp_path, config)])
    # a stream's keys are closed by its schema (additionalProperties: false): always an error
    assert done.returncode == 2 and done.stdout == b""
    stderr = done.stderr.decode()
    assert "unknown setting 'records_pth' (did you mean 'records_path'?); it is ignored" in stderr
    assert stderr.strip().endswith(
        "invalid config: unknown setting 'streams[0].primary_key' (did you mean 'primary_keys'?)")

    strict = config_file(tmp_path, {**config, "strict_settings": True}, "strict.json")
    done = run([exe("tap-rest"), "--config", strict])
    assert done.returncode == 2
    assert done.stderr.decode().strip().endswith(
        "invalid config: unknown setting 'streams[0].primary_key' (did you mean 'primary_keys'?); "
        "unknown setting 'records_pth' (did you mean 'records_path'?)")


def test_tap_github_strict_via_environment(tmp_path: Path) -> None:
    config = config_file(tmp_path, {"repositorys": ["octo/cat"], "auth_token": "t-123456"})
    env = {"PATH": "/usr/bin:/bin", "TAP_GITHUB_STRICT_SETTINGS": "true"}
    done = run([exe("tap-github"), "--config", config, "--config", "ENV"], env=env)
    assert done.returncode == 2 and done.stdout == b""
    assert "unknown setting 'repositorys' (did you mean 'repositories'?)" in done.stderr.decode()


SDK_TAP_KEYS = {"stream_maps": {}, "stream_map_config": {"salt": "x"}, "faker_config": {"seed": 1},
                "flattening_enabled": False, "flattening_max_depth": 2,
                "batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": "file://x"}}}
SDK_TARGET_KEYS = {"default_target_schema": "tap_csv", "add_record_metadata": False, "load_method": "append-only",
                   "hard_delete": False, "activate_version": True, "validate_records": True}


def test_singer_sdk_and_meltano_keys_are_quiet_even_when_strict(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id\n1\n2\n")
    tap_config = {"files": [{"entity": "users", "path": str(tmp_path / "users.csv"), "keys": ["id"]}],
                  "strict_settings": True, **SDK_TAP_KEYS}
    tapped = run([exe("tap-csv"), "--config", config_file(tmp_path, tap_config, "tap.json")])
    assert tapped.returncode == 0, tapped.stderr.decode()
    target_config = {"destination_path": str(tmp_path / "out"), "strict_settings": True,
                     **SDK_TAP_KEYS, **SDK_TARGET_KEYS}
    for name in ("target-jsonl", "target-sqlite"):
        config = {**target_config, "database": str(tmp_path / "out.db")} if name == "target-sqlite" else target_config
        if name == "target-sqlite":
            config.pop("destination_path")
        done = run([exe(name), "--config", config_file(tmp_path, config, f"{name}.json")], input=tapped.stdout)
        assert done.returncode == 0, done.stderr.decode()
        assert "unknown setting" not in done.stderr.decode() and "reserved" not in done.stderr.decode()
    assert "unknown setting" not in tapped.stderr.decode() and "reserved" not in tapped.stderr.decode()
    with closing(sqlite3.connect(tmp_path / "out.db")) as conn:
        assert conn.execute("select count(*) from users").fetchone() == (2,)

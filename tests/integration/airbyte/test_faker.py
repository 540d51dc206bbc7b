"""tap-airbyte running the real ``source-faker`` (airbyte-source-faker from the package index, in a venv of
its own): discovery, full refresh and incremental reads, a resume from the state, and a pipeline into
target-postgres under ``sluice run``.

Faker's semantics: with ``always_updated`` false, an incremental read resumed from its state
writes no record again (its users and purchases are generated once); a full refresh writes every
record each time. Its records are the same for the same ``seed`` and ``count``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
import yaml

from tests.conftest import exe
from tests.integration.airbyte.conftest import messages, records, states, tap
from tests.integration.runner.helpers import sluice, sluice_env

pytestmark = pytest.mark.slow

COUNT = 40
STREAMS = ["products", "users", "purchases"]


def _config(faker_exe: str, **extra: Any) -> dict[str, Any]:
    airbyte = {"count": COUNT, "seed": 1, "records_per_slice": 15, "always_updated": False, "parallelism": 1,
               **extra}
    return {"executable": faker_exe, "airbyte_config": airbyte}


def _ids(out: list[dict[str, Any]], stream: str) -> list[int]:
    return sorted(r["id"] for r in records(out, stream))


def _with_method(catalog: dict[str, Any], method: str) -> dict[str, Any]:
    for entry in catalog["streams"]:
        next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"]["replication-method"] = method
    return catalog


def test_discover_offers_faker_streams_with_keys_cursors_and_both_methods(faker_exe: str, tmp_path: Path) -> None:
    done = tap(tmp_path, _config(faker_exe), "--discover")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    catalog = json.loads(done.stdout)
    assert [s["tap_stream_id"] for s in catalog["streams"]] == STREAMS
    for entry in catalog["streams"]:
        md = next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"]
        assert entry["key_properties"] == ["id"]
        assert md["replication-key"] == "updated_at" and md["replication-method"] == "INCREMENTAL"
        assert "forced-replication-method" not in md
        assert entry["schema"]["properties"]["id"]["type"] == "integer"
    users = catalog["streams"][1]["schema"]["properties"]
    assert users["address"]["type"] == ["null", "object"]
    assert users["address"]["properties"]["city"]["type"] == ["null", "string"]


def test_full_refresh_writes_every_record_each_run(faker_exe: str, tmp_path: Path) -> None:
    config = _config(faker_exe)
    catalog = _with_method(json.loads(tap(tmp_path, config, "--discover").stdout), "FULL_TABLE")
    first = tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    out = messages(first.stdout)
    assert _ids(out, "users") == list(range(1, COUNT + 1))
    assert _ids(out, "purchases") and len(set(_ids(out, "purchases"))) == len(_ids(out, "purchases"))
    schema = next(m for m in out if m["type"] == "SCHEMA" and m["stream"] == "users")
    assert schema["key_properties"] == ["id"] and "bookmark_properties" not in schema
    assert {"name", "email", "address"} <= set(records(out, "users")[0])
    again = tap(tmp_path, config, catalog=catalog, state=states(out)[-1])
    assert again.returncode == 0
    # a full refresh starts over whatever the state: the same seed, the same users (updated_at is the run's time)
    def who(out: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        return [(r["id"], r["name"], r["email"]) for r in records(out, "users")]

    assert who(messages(again.stdout)) == who(out) and len(who(out)) == COUNT


def test_incremental_resumes_from_the_state_without_duplicates(faker_exe: str, tmp_path: Path) -> None:
    config = _config(faker_exe)
    first = tap(tmp_path, config)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    out = messages(first.stdout)
    assert _ids(out, "users") == list(range(1, COUNT + 1))
    schema = next(m for m in out if m["type"] == "SCHEMA" and m["stream"] == "users")
    assert schema["bookmark_properties"] == ["updated_at"]
    last = states(out)[-1]
    stored = {name: json.loads(b["airbyte_state"]) for name, b in last["bookmarks"].items()}
    assert stored["users"]["stream"]["stream_state"]["loop_offset"] == COUNT

    resumed = tap(tmp_path, config, state=last)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    again = messages(resumed.stdout)
    assert _ids(again, "users") == [] and _ids(again, "purchases") == []
    resumed_users = json.loads(states(again)[-1]["bookmarks"]["users"]["airbyte_state"])
    assert resumed_users["stream"]["stream_state"] == stored["users"]["stream"]["stream_state"]
    fresh = messages(tap(tmp_path, config).stdout)  # the state, not the config, is what held them back
    assert _ids(fresh, "users") == list(range(1, COUNT + 1))


def test_faker_into_target_postgres_under_sluice_run(faker_exe: str, tmp_path: Path, pg_dsn: str) -> None:
    dsn = urlparse(pg_dsn)
    project = {
        "connectors": [
            {"name": "faker", "executable": exe("tap-airbyte"), "config": _config(faker_exe)},
            {"name": "warehouse", "executable": exe("target-postgres"),
             "config": {"host": dsn.hostname, "port": dsn.port or 5432, "user": dsn.username or "postgres",
                        "password": dsn.password or "", "database": dsn.path.lstrip("/"),
                        "default_target_schema": "faker"}},
        ],
        "pipelines": [{"name": "fake", "tap": "faker", "target": "warehouse"}],
    }
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    env = sluice_env()
    done = sluice(["run", "fake"], tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with psycopg.connect(pg_dsn) as conn:
        users = conn.execute("select count(*), count(distinct id), min(id), max(id) from faker.users").fetchone()
        purchases = conn.execute("select count(*) from faker.purchases").fetchone()
        city = conn.execute("select address->>'city' from faker.users where id = 1").fetchone()
    assert users == (COUNT, COUNT, 1, COUNT)
    assert purchases is not None and purchases[0] > 0
    assert city is not None and city[0]
    stored = json.loads(sluice(["state", "get", "fake"], tmp_path, env=env).stdout)
    assert json.loads(stored["bookmarks"]["users"]["airbyte_state"])["stream"]["stream_state"]["loop_offset"] == COUNT

    rerun = sluice(["run", "fake"], tmp_path, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("select count(*) from faker.users").fetchone() == (COUNT,)

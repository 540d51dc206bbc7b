"""Stream maps and flattening in every connector, run as real processes (issue 14).

Each target reads two streams and is configured with an alias, a filter, a dropped property, a
sha256 mask, a dropped stream and flattening; the rows that land (files, a SQLite file, real
PostgreSQL) are compared with an oracle computed here in plain Python. Each tap is configured
the same way over its own source (CSV files, a loopback REST API, a GitHub-shaped API; tap-postgres
in tests/integration/postgres_tap/test_maps.py) and its stdout is checked. Both check that the
connector's ``--about`` lists ``stream-maps`` and ``schema-flattening``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.integration.destinations import KINDS, make
from tests.integration.http.servers import TOKEN, FakeApi
from tests.integration.http.tapio import tap

MAP_CAPABILITIES = {"stream-maps", "schema-flattening"}

USERS = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
    "address": {"type": ["object", "null"], "properties": {"city": {"type": ["string", "null"]},
                                                           "zip": {"type": ["string", "null"]}}}}}
LOGS = {"type": "object", "properties": {"id": {"type": "integer"}, "msg": {"type": ["string", "null"]}}}
EMAILS = ["ada@example.org", "grace@example.org", "ünïcode@example.org", "alan@example.org"]
MAPS = {
    "stream_maps": {
        "users": {"__alias__": "people", "__filter__": "id != 2", "email": "sha256(email)", "name": None},
        "logs": None,
    },
    "flattening_enabled": True,
    "flattening_max_depth": 1,
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def about(name: str) -> set[str]:
    done = run([exe(name), "--about", "--format", "json"])
    assert done.returncode == 0, done.stderr.decode()
    return set(json.loads(done.stdout)["capabilities"])


def singer_input() -> bytes:
    lines: list[dict[str, Any]] = [
        {"type": "SCHEMA", "stream": "users", "schema": USERS, "key_properties": ["id"]},
        {"type": "SCHEMA", "stream": "logs", "schema": LOGS, "key_properties": ["id"]},
    ]
    for i, email in enumerate(EMAILS, 1):
        lines.append({"type": "RECORD", "stream": "users", "record": {
            "id": i, "name": f"name {i}", "email": email, "address": {"city": f"city {i}", "zip": f"{i:05d}"}}})
        lines.append({"type": "RECORD", "stream": "logs", "record": {"id": i, "msg": f"log {i}"}})
    lines.append({"type": "STATE", "value": {"n": 1}})
    return b"".join(json.dumps(m).encode() + b"\n" for m in lines)


def expected_rows() -> list[tuple[Any, ...]]:
    """The oracle: users but id 2, email masked, name dropped, address flattened one level."""
    return [(i, sha(email), f"city {i}", f"{i:05d}") for i, email in enumerate(EMAILS, 1) if i != 2]


def columns_of(dest: Any, stream: str) -> set[str]:
    if dest.kind == "jsonl":
        return set().union(*(json.loads(line) for line in (dest.out / f"{stream}.jsonl").read_text().splitlines()))
    if dest.kind == "csv":
        return set((dest.out / f"{stream}.csv").read_text().splitlines()[0].split(","))
    if dest.kind == "sqlite":
        return {row[1] for row in dest.sql.sql(f'PRAGMA table_info("{stream}")')}
    return {row[0] for row in dest.sql.sql(
        f"SELECT column_name FROM information_schema.columns WHERE table_name = '{stream}'")}


@pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "reference-lane"])
@pytest.mark.parametrize("kind", KINDS)
def test_target_applies_maps_and_flattening(kind: str, fast: bool, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    pg_dsn = request.getfixturevalue("pg_dsn") if kind == "postgres" else None
    dest = make(kind, tmp_path, pg_dsn, **MAPS)
    done = dest.load(singer_input(), fast=fast)
    assert done.returncode == 0, done.stderr.decode()
    cols = {"id": "int", "email": "str", "address__city": "str", "address__zip": "str"}
    assert dest.rows("people", cols) == expected_rows()
    assert dest.rows("users", {"id": "int"}) == [] and dest.rows("logs", {"id": "int"}) == []
    found = columns_of(dest, "people")
    assert {"id", "email", "address__city", "address__zip"} <= found
    assert not {"name", "address"} & found
    assert json.loads(done.stdout.splitlines()[-1]) == {"n": 1}  # STATE untouched
    assert MAP_CAPABILITIES <= about(f"target-{kind}")


def test_a_target_without_maps_keeps_the_streams_as_they_came(tmp_path: Path) -> None:
    dest = make("jsonl", tmp_path, None, stream_maps={}, flattening_enabled=False)
    assert dest.load(singer_input()).returncode == 0
    rows = dest.rows("users", {"id": "int", "email": "str", "address": "json"})
    assert rows[1] == (2, EMAILS[1], {"city": "city 2", "zip": "00002"})


def test_an_invalid_map_is_a_config_error_listing_every_problem(tmp_path: Path) -> None:
    bad = {"users": {"a": "len((", "b": "__import__('os')"}}
    dest = make("jsonl", tmp_path, None, stream_maps=bad)
    done = dest.load(singer_input())
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "Traceback" not in err and "stream_maps" in err
    assert "'a'" in err or ".a" in err or " a" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# -- taps ------------------------------------------------------------------------------------

TAP_MAPS = {
    "flattening_enabled": True,
    "flattening_max_depth": 1,
}


def test_tap_csv_applies_maps(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id,name,email\n" + "".join(
        f"{i},name {i},{email}\n" for i, email in enumerate(EMAILS, 1)), encoding="utf-8")
    (tmp_path / "logs.csv").write_text("id,msg\n1,a\n2,b\n")
    config = {"files": [{"entity": "users", "path": str(tmp_path / "users.csv"), "keys": ["id"],
                         "replication_key": "id"},
                        {"entity": "logs", "path": str(tmp_path / "logs.csv"), "keys": ["id"]}], **MAPS}
    result = tap("tap-csv", tmp_path, config)
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"people"}
    assert result.records("people") == [{"id": i, "email": sha(email)} for i, email in enumerate(EMAILS, 1)
                                        if i != 2]
    assert set(result.schema("people")["schema"]["properties"]) == {"id", "email"}
    # bookmarks speak of the source: its stream names, its values (record 4 filtered in, 2 out)
    assert result.state["bookmarks"]["users"]["replication_key_value"] == len(EMAILS)
    assert "people" not in result.state["bookmarks"]
    assert MAP_CAPABILITIES <= about("tap-csv")


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        server.add_repo("octo/hello", issues=3, pulls=1, commits=1, comments=1)
        server.add_repo("octo/world", issues=2, pulls=1, commits=1, comments=1)
        yield server


def test_tap_rest_applies_maps(tmp_path: Path, api: FakeApi) -> None:
    streams = [{"name": "items", "path": "/offset", "records_path": "$.data[*]", "primary_keys": ["id"],
                "pagination": {"style": "offset", "page_size": 40, "total_path": "$.total"}},
               {"name": "pages", "path": "/pages", "primary_keys": ["id"], "pagination": {"style": "page"}}]
    maps = {"items": {"__alias__": "goods", "__filter__": "id <= 4 and id != 2", "name": "sha256(name)",
                      "price": None}, "pages": None}
    config = {"api_url": api.url + "/api", "streams": streams, "auth_method": "api_key",
              "api_keys": {"X-API-Key": "k-123"}, "stream_maps": maps, **TAP_MAPS}
    result = tap("tap-rest", tmp_path, config)
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"goods"}
    assert [(r["id"], r["name"], "price" in r) for r in result.records("goods")] == [
        (i, sha(f"item {i}"), False) for i in (1, 3, 4)]
    assert MAP_CAPABILITIES <= about("tap-rest")


def test_tap_github_applies_maps_and_flattens_nested_objects(tmp_path: Path, api: FakeApi) -> None:
    maps = {"repositories": {"__alias__": "repos", "__filter__": "full_name != 'octo/world'",
                             "description": "sha256(description)"},
            "issues": None, "pull_requests": None, "commits": None, "issue_comments": None}
    config = {"repositories": ["octo/hello", "octo/world"], "auth_token": TOKEN, "api_url": api.url,
              "stream_maps": maps, **TAP_MAPS}
    result = tap("tap-github", tmp_path, config)
    result.validate()
    assert {m["stream"] for m in result.messages if m["type"] in ("SCHEMA", "RECORD")} == {"repos"}
    [repo] = result.records("repos")
    assert repo["full_name"] == "octo/hello" and repo["description"] == sha("The hello repository")
    assert (repo["owner__login"], repo["owner__type"]) == ("octo", "Organization")
    assert "owner" not in repo and "owner" not in result.schema("repos")["schema"]["properties"]
    assert "owner__login" in result.schema("repos")["schema"]["properties"]
    assert MAP_CAPABILITIES <= about("tap-github")

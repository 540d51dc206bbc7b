"""Big STATE values through a real `sluice run`: stored whole, resumed from, and failing loudly past the limit.

Airbyte's file-based sources keep the list of files they read in their state: megabytes. The tap
here is a script the test writes: ten keyless records after its bookmark, then a STATE with a
long list of file names. Our targets commit the rows with that STATE (exactly-once) and echo it;
the runner must store it, or the next run loads the rows again.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.integration.runner.helpers import PY, sluice, sluice_env, stored_state

# a STATE past the 1 MiB the runner used to cut target lines at: 40,000 names of ~80 bytes
FILES = 40_000
BIG = 1 << 40  # a bookmark a float would change

_TAP = '''
import argparse, json, sys
p = argparse.ArgumentParser()
for flag in ("--config", "--state", "--catalog", "--format"):
    p.add_argument(flag)
p.add_argument("--about", action="store_true")
a = p.parse_args()
if a.about:
    print(json.dumps({"name": "big-state-tap", "capabilities": ["state"], "settings": {"type": "object"}}))
    sys.exit(0)
config = json.load(open(a.config))
state = json.load(open(a.state)) if a.state else {"bookmarks": {"s": {"id": 0, "files": []}}}
if a.state:  # what the runner handed back, as it came
    open(config["got"], "w").write(json.dumps(state, ensure_ascii=False))
start = state["bookmarks"]["s"]["id"]
def w(message):
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\\n")
w({"type": "SCHEMA", "stream": "s", "key_properties": [],
   "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "blob": {"type": "string"}}}})
for i in range(start + 1, start + 11):
    w({"type": "RECORD", "stream": "s", "record": {"id": i, "blob": "b" * config.get("blob", 0)}})
files = [f"s3://bucket/année-{start}/part-{n:06d}-ü.parquet/{'p' * 40}" for n in range(config["files"])]
w({"type": "STATE", "value": {"bookmarks": {"s": {"id": start + 10, "files": files, "big": config["big"]}}}})
'''

# a target that commits nothing and echoes one STATE line of `pad` bytes of padding: past the runner's limit
_LONG_ECHO_TARGET = '''
import json, sys
if "--about" in sys.argv:
    print(json.dumps({"name": "long-echo", "settings": {"type": "object"}}))
    sys.exit(0)
config = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
for _ in sys.stdin.buffer:
    pass
out = sys.stdout.buffer
out.write(b'{"type": "STATE", "value": {"bookmarks": {"s": {"id": 1}}}}\\n')
out.write(b'{"type": "STATE", "value": {"pad": "')
left = config["pad"]
while left > 0:
    out.write(b"x" * min(left, 1 << 20))
    left -= 1 << 20
out.write(b'"}}\\n')
'''


def _project(root: Path, target: str, *, files: int = FILES, blob: int = 0) -> None:
    (root / "tap.py").write_text(_TAP)
    targets = {"jsonl": {"name": "tgt", "executable": "target-jsonl", "config": {"destination_path": "out"}},
               "sqlite": {"name": "tgt", "executable": "target-sqlite", "config": {"database": "out.db"}}}
    (root / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [{"name": "big-tap", "executable": PY, "args": [str(root / "tap.py")],
                        "config": {"files": files, "big": BIG, "got": str(root / "got.json"), "blob": blob}},
                       targets[target]],
        "pipelines": [{"name": "p", "tap": "big-tap", "target": "tgt"}],
    }, sort_keys=False))


def _ids(root: Path, target: str) -> list[int]:
    if target == "jsonl":
        return [json.loads(line)["id"] for line in (root / "out" / "s.jsonl").read_text().splitlines()]
    with closing(sqlite3.connect(root / "out.db")) as db:
        return [row[0] for row in db.execute("select id from s order by id")]


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("target", ["jsonl", "sqlite"])
def test_a_state_over_a_mebibyte_is_stored_and_the_next_run_resumes_from_it(
        tmp_path: Path, target: str, store_env: dict[str, str]) -> None:
    _project(tmp_path, target)
    first = sluice(["run", "p"], tmp_path, env=store_env)
    assert first.returncode == 0, first.stderr
    assert "1 STATE value stored under 'p'" in first.stderr
    state = stored_state(tmp_path, "p", store_env)
    assert state is not None
    assert len(json.dumps(state)) > 3 * (1 << 20)
    mark = state["bookmarks"]["s"]
    assert mark["id"] == 10 and len(mark["files"]) == FILES and mark["big"] == BIG
    assert mark["files"][-1].startswith(f"s3://bucket/année-0/part-{FILES - 1:06d}-ü.parquet/")

    second = sluice(["run", "p"], tmp_path, env=store_env)
    assert second.returncode == 0, second.stderr
    assert "resuming from the stored state" in second.stderr
    assert json.loads((tmp_path / "got.json").read_text()) == state  # the tap got it back whole, exactly
    assert _ids(tmp_path, target) == list(range(1, 21))  # each row once: no run loaded one twice
    assert stored_state(tmp_path, "p", store_env)["bookmarks"]["s"]["id"] == 20  # type: ignore[index]


def test_a_tap_line_over_a_mebibyte_reaches_the_target_whole(tmp_path: Path) -> None:
    """The tap's stdout is the target's stdin (an OS pipe): the runner never cuts those lines."""
    _project(tmp_path, "jsonl", files=30_000, blob=3 << 20)
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "s.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == list(range(1, 11))
    assert {len(row["blob"]) for row in rows} == {3 << 20}


def test_the_state_line_limit_holds_what_a_target_reads() -> None:
    """A target reads lines up to its reader's limit; its echo of such a STATE must fit the runner's."""
    from io import BytesIO

    from protocol import MessageReader
    from runner.pumps import MAX_STATE_LINE, TARGET_LINE_BYTES

    assert MessageReader(BytesIO(b"")).max_line_bytes == TARGET_LINE_BYTES
    assert MAX_STATE_LINE >= 3 * TARGET_LINE_BYTES


def test_a_state_line_past_the_limit_fails_the_run_with_one_line(tmp_path: Path) -> None:
    _project(tmp_path, "jsonl", files=1)
    (tmp_path / "long_echo.py").write_text(_LONG_ECHO_TARGET)
    project = yaml.safe_load((tmp_path / "sluice.yml").read_text())
    project["connectors"][1] = {"name": "tgt", "executable": PY, "args": [str(tmp_path / "long_echo.py")],
                                "config": {"pad": 256 << 20}}  # runner.pumps.MAX_STATE_LINE
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    done = sluice(["run", "p"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert _last_line(done.stderr) == (
        "sluice: pipeline 'p' failed: runner failed: target 'tgt' wrote a line of 256.0 MiB on stdout, "
        "longer than the 256 MiB the runner reads for a STATE: the state it carried was not stored")
    assert "succeeded" not in done.stderr
    assert stored_state(tmp_path, "p") == {"bookmarks": {"s": {"id": 1}}}  # the STATE before it was stored
    history = sluice(["runs", "p"], tmp_path)
    assert "failed" in history.stdout, history.stdout


def _old_store(dsn: str) -> None:
    """A state store as sluice made it before: its states in a jsonb column."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter table sluice_state alter column value type jsonb using value::jsonb")
        conn.execute("""insert into sluice_state (state_id, value) values
            ('p', '{"bookmarks": {"s": {"id": 0, "files": [], "big": 1}}}')""")


def _value_type(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select pg_typeof(value)::text from sluice_state where state_id = 'p'").fetchone()
    assert row is not None
    return str(row[0])


def test_a_postgresql_store_keeps_a_state_with_a_nul_character_exactly(tmp_path: Path, pg_dsn: str) -> None:
    """jsonb cannot hold "\\u0000" (nor keep key order or a number as written): a store made
    before, with a jsonb column, is changed to json on first use and keeps the state as sent."""
    env = sluice_env(SLUICE_STATE_URL=pg_dsn)
    _project(tmp_path, "jsonl", files=2)
    assert sluice(["state", "list"], tmp_path, env=env).returncode == 0  # creates the store's tables
    _old_store(pg_dsn)
    tap = (tmp_path / "tap.py").read_text()
    (tmp_path / "tap.py").write_text(tap.replace('"big": config["big"]', '"zz": "a\\u0000b", "big": 1'))
    first = sluice(["run", "p"], tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert _value_type(pg_dsn) == "json"
    second = sluice(["run", "p"], tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    got = (tmp_path / "got.json").read_text()
    assert got.endswith('"zz": "a\\u0000b", "big": 1}}}')  # and its keys in the order they came
    assert _ids(tmp_path, "jsonl") == list(range(1, 21))


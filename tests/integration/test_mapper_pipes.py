"""mapper-sluice in a plain shell pipe between real connectors, and the content-hash key recipe
of docs/content-hash-keys.md delivered twice into a real PostgreSQL.

The pipes are built as a shell builds them: each program's stdout is the next one's stdin, and
each runs to the end of its input (no runner, no exactly-once: at-least-once delivery).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from protocol import ExitCode
from tests.conftest import exe

CSV = "id,name,email,amount\n1,Ann,ann@example.com,10\n2,Bob,bob@example.com,20\n3,Cé,ce@example.com,30\n"


def shell_pipe(commands: list[list[str]], cwd: Path) -> tuple[list[int], bytes, str]:
    """Run ``commands[0] | commands[1] | ...``: every exit code, the last stdout, all stderr."""
    procs: list[subprocess.Popen[bytes]] = []
    upstream: Any = subprocess.DEVNULL
    for argv in commands:
        proc = subprocess.Popen(argv, stdin=upstream, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        if procs and procs[-1].stdout is not None:
            procs[-1].stdout.close()  # the next program holds it now: SIGPIPE reaches the writer
        procs.append(proc)
        upstream = proc.stdout
    out, last_err = procs[-1].communicate(timeout=120)
    errors = []
    for proc in procs[:-1]:
        assert proc.stderr is not None
        errors.append(proc.stderr.read().decode())
        proc.wait(timeout=120)
        proc.stderr.close()
    errors.append(last_err.decode())
    return [proc.returncode for proc in procs], out, "\n".join(errors)


def _write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_tap_csv_through_mapper_sluice_into_target_jsonl(tmp_path: Path) -> None:
    _write(tmp_path / "people.csv", CSV)
    tap = _write(tmp_path / "tap.json", {"files": [{"entity": "people", "path": "people.csv", "keys": ["id"]}]})
    # int(): an integer column, as the SDK infers it ("amount * 10" alone would be a string)
    maps = _write(tmp_path / "maps.json", {
        "stream_maps": {"people": {"__alias__": "customers", "__filter__": "amount >= 20",
                                   "email": "sha256(email)", "name": None, "big": "int(amount * 10)"}}})
    target = _write(tmp_path / "target.json", {"destination_path": "out"})
    codes, stdout, stderr = shell_pipe([[exe("tap-csv"), "--config", tap], [exe("mapper-sluice"), "--config", maps],
                                        [exe("target-jsonl"), "--config", target]], tmp_path)
    assert codes == [ExitCode.OK] * 3, stderr
    landed = [json.loads(line) for line in (tmp_path / "out" / "customers.jsonl").read_text().splitlines()]
    # the oracle, computed here from the CSV in plain Python
    expected = [{"id": i, "email": hashlib.sha256(e.encode()).hexdigest(), "amount": a, "big": a * 10}
                for i, _, e, a in ((1, "Ann", "ann@example.com", 10), (2, "Bob", "bob@example.com", 20),
                                   (3, "Cé", "ce@example.com", 30)) if a >= 20]
    assert landed == expected
    assert not (tmp_path / "out" / "people.jsonl").exists()
    # STATE went through the mapper: the target echoed the tap's bookmark
    states = [json.loads(line) for line in stdout.splitlines()]
    assert states and "people" in json.dumps(states[-1])


def _pg_rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return list(conn.execute(f"select id, name, amount from public.{table} order by id, name"))


@pytest.mark.parametrize("with_map", [True, False], ids=["content-hash-key", "no-map"])
def test_content_hash_keys_upsert_a_keyless_stream_delivered_twice(tmp_path: Path, pg_dsn: str,
                                                                   with_map: bool) -> None:
    # a keyless stream whose source repeats one line: ids are not unique, nothing identifies a row
    _write(tmp_path / "events.csv", CSV + "1,Ann,ann@example.com,10\n")
    tap = _write(tmp_path / "tap.json", {"files": [{"entity": "events", "path": "events.csv"}]})
    recipe = {"stream_maps": {"events": {"row_hash": "sha256(json.dumps(record, sort_keys=True))",
                                         "__key_properties__": ["row_hash"]}}}
    maps = _write(tmp_path / "maps.json", recipe if with_map else {})
    target = _write(tmp_path / "target.json", {"sqlalchemy_url": pg_dsn})
    for _ in range(2):  # the same content delivered twice (a rerun without state)
        codes, _, stderr = shell_pipe([[exe("tap-csv"), "--config", tap], [exe("mapper-sluice"), "--config", maps],
                                       [exe("target-postgres"), "--config", target]], tmp_path)
        assert codes == [ExitCode.OK] * 3, stderr
    rows = _pg_rows(pg_dsn, "events")
    distinct = [(1, "Ann", 10), (2, "Bob", 20), (3, "Cé", 30)]
    if with_map:
        assert rows == distinct  # one row per distinct record, however often it came
        import psycopg

        with psycopg.connect(pg_dsn) as conn:
            hashes = dict(conn.execute("select id, row_hash from public.events"))
        record = {"id": 2, "name": "Bob", "email": "bob@example.com", "amount": 20}
        assert hashes[2] == hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    else:
        assert len(rows) == 2 * 4 and sorted(set(rows)) == distinct  # every delivery added every line

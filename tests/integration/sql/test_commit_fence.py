"""The committed state's sequence fences an SQL destination's commits (targets/sql/statetable.py) in
target-postgres too, whose statements run on a session of their own: a run whose pipeline lock another
host took over (that host resumed and committed) fails at its next commit and rolls it back."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from protocol import Committed, MessageWriter, TargetError
from runner.reconcile import ControlPipe
from targets.postgres.target import PostgresTarget
from tests.conftest import pg_address
from tests.unit.test_exactly_once import _Chunks  # the input in parts, a callback between them

SCHEMA = {"type": "SCHEMA", "stream": "s", "key_properties": [],
          "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
S1 = {"bookmarks": {"s": {"position": 1}}}
S2 = {"bookmarks": {"s": {"position": 2}}}


def _lines(*messages: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def _record(n: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "s", "record": {"n": n}}


def test_a_run_whose_lock_was_taken_over_commits_nothing_more_to_postgres(
        pg_dsn: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host, port = pg_address(pg_dsn)
    config = {"host": host, "port": port, "user": "postgres", "database": pg_dsn.rsplit("/", 1)[1],
              "batch_size_rows": 1, "state_flush_seconds": 0}
    pipe_a = ControlPipe("p", 0)
    for name, value in pipe_a.env.items():
        monkeypatch.setenv(name, value)
    host_a = PostgresTarget(config)
    pipe_a.tap_exited(True)  # without the fence, A would commit to its end

    def host_b_takes_over() -> None:
        pipe_b = ControlPipe("p", 0)
        with monkeypatch.context() as env:
            for name, value in pipe_b.env.items():
                env.setenv(name, value)
            pipe_b.tap_exited(True)
            PostgresTarget(config).run(io.BytesIO(_lines(SCHEMA, _record(2), _record(3),
                                                         {"type": "STATE", "value": S2})), MessageWriter(io.BytesIO()))
        pipe_b.close()

    first = _lines(SCHEMA, _record(1), {"type": "STATE", "value": S1})
    then = _lines(_record(2), {"type": "STATE", "value": {"bookmarks": {"s": {"position": 9}}}})
    out = io.BytesIO()
    with pytest.raises(TargetError, match="another run committed state 'p'"):
        host_a.run(io.BufferedReader(_Chunks([first, then], host_b_takes_over)), MessageWriter(out))
    pipe_a.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]
    monkeypatch.delenv("SLUICE_CONTROL_FD")
    committed = PostgresTarget(config).load_committed("p")
    assert committed == Committed(0, 3, True, S2)  # B's, committed at its STATE and at its end

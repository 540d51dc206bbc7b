"""The in-memory DuckDB instance opened ahead (targets/duckdb/instance.py): taken once, opened
again when none waits, with one worker thread fewer than the CPUs the process may use; and the
target's command line opens it before the config is read, never for ``--about``. Real DuckDB."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import exe, run
from tests.integration.sql.helpers import require_duckdb


@pytest.fixture(autouse=True)
def _duckdb_present() -> None:
    require_duckdb()


def _threads(conn: object) -> int:
    ((value,),) = conn.execute("SELECT current_setting('threads')").fetchall()  # type: ignore[attr-defined]
    return int(value)


def _openers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sluice-duckdb-open"]


def test_worker_threads_leave_one_cpu_to_the_reader() -> None:
    from targets.duckdb.instance import worker_threads

    assert worker_threads() == max(1, len(os.sched_getaffinity(0)) - 1)


def test_an_instance_opened_ahead_is_taken_once() -> None:
    from targets.duckdb.connection import load_duckdb
    from targets.duckdb.instance import instance, open_ahead, worker_threads

    engine = load_duckdb()
    open_ahead(engine)
    open_ahead(engine)  # one waits already: no second
    assert len(_openers()) <= 1
    first = instance(engine)
    second = instance(engine)  # none waits: opened now
    try:
        assert first is not second
        first.execute("CREATE TABLE t AS SELECT 1 AS x")
        assert second.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'").fetchall() == [(0,)]
        assert _threads(first) == _threads(second) == worker_threads()
    finally:
        first.close()
        second.close()
    assert not _openers()


def test_the_command_line_opens_it_ahead_and_about_does_not(tmp_path: Path) -> None:
    """``--about`` leaves DuckDB unloaded; a run with a config the target refuses still says why
    in one line (the instance opened ahead changes nothing it reports)."""
    probe = ("import os, runpy, sys\n"
             "def said(code, _exit=os._exit):\n"
             "    loaded = any(sys.modules.get(m) for m in ('_duckdb', 'duckdb'))\n"
             "    sys.stderr.write('duckdb loaded: %s\\n' % loaded); sys.stderr.flush()\n"
             "    _exit(code)\n"
             "os._exit = said\n"
             "sys.argv = ['target-duckdb', *sys.argv[1:]]\n"
             "try:\n    runpy.run_path(EXE, run_name='__main__')\n"
             "except SystemExit as stop:\n    said(stop.code or 0)\n")
    script = tmp_path / "probe.py"
    script.write_text(probe.replace("EXE", repr(exe("target-duckdb"))))
    about = run([exe("python"), str(script), "--about"])
    assert about.returncode == 0 and "duckdb loaded: False" in about.stderr.decode()
    config = tmp_path / "bad.json"
    config.write_text('{"path": 5}')
    bad = run([exe("python"), str(script), "--config", str(config)])
    lines = [line for line in bad.stderr.decode().splitlines() if line.strip()]
    assert bad.returncode == 2, bad.stderr.decode()
    assert "duckdb loaded: True" in lines[-1]  # opened ahead, before the config was read
    assert sum("| ERROR" in line for line in lines) == 1 and "path" in lines[-2]


def test_a_connection_hands_the_gil_over_within_the_engine_interval(tmp_path: Path) -> None:
    """DuckDB's client takes the GIL between the tasks of a load; at the default 5 ms the loads ran
    at 40% of their speed beside the main thread (protocol/_threads.py)."""
    from protocol import ENGINE_SWITCH_INTERVAL
    from targets.duckdb.connection import Connection

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default
    try:
        conn = Connection(str(tmp_path / "t.duckdb"))
        try:
            assert sys.getswitchinterval() == pytest.approx(ENGINE_SWITCH_INTERVAL)
        finally:
            conn.close()
    finally:
        sys.setswitchinterval(before)

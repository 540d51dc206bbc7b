"""target-parquet under kill -9, and the order of files and STATEs, on a real process.

A STATE is echoed only after the files holding every record before it are renamed into place;
a target killed while writing leaves no partial file where readers look, and a rerun from the
last echoed STATE loads the rest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import exe
from tests.integration.parquet.support import need_readers, parquet_files, record, schema, state

PROPS = {"id": {"type": "integer"}, "note": {"type": ["string", "null"]}, "x": {"type": ["number", "null"]}}


@pytest.fixture(autouse=True)
def _readers() -> None:
    need_readers()


def _rec(i: int) -> bytes:
    return record("s", {"id": i, "note": f"note {i} " + "abcdefghij" * (i % 13), "x": i / 8})


def _ids(root: Path) -> list[int]:
    """The ids in every visible file, each file read whole (a partial file fails here)."""
    import pyarrow.parquet as pq

    found: list[int] = []
    for path in parquet_files(root):
        found += pq.read_table(path).column("id").to_pylist()
    return sorted(found)


def _start(tmp_path: Path, **settings: Any) -> subprocess.Popen[bytes]:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"destination_path": str(tmp_path / "out"), **settings}))
    return subprocess.Popen([exe("target-parquet"), "--config", str(cfg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _drain(pipe: IO[bytes], into: list[bytes]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.extend(iter(pipe.readline, b"")), daemon=True)
    thread.start()
    return thread


def test_each_state_comes_after_the_files_of_its_records(tmp_path: Path) -> None:
    """Read stdout line by line while the target runs: at each STATE, the visible files hold
    exactly the records sent before it (the feeder sends nothing more until the STATE is back)."""
    with _start(tmp_path, state_flush_seconds=0) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        errors: list[bytes] = []
        _drain(proc.stderr, errors)  # type: ignore[arg-type]
        proc.stdin.write(schema("s", PROPS))
        sent = 0
        for batch in range(1, 6):
            size = 50 * batch
            proc.stdin.write(b"".join(_rec(i) for i in range(sent, sent + size)) + state(batch))
            proc.stdin.flush()
            sent += size
            echoed = proc.stdout.readline()
            assert json.loads(echoed) == {"n": batch}, b"".join(errors).decode()
            assert _ids(tmp_path / "out") == list(range(sent))  # at this moment, nothing missing or extra
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0, b"".join(errors).decode()
    assert _ids(tmp_path / "out") == list(range(sent))


def _feed_until_killed(tmp_path: Path, total: int, every: int, delay: float) -> tuple[int, bool]:
    """Feed ``total`` records with a STATE (their count) every ``every``; SIGKILL the target
    ``delay`` seconds after its first STATE. Returns (the last STATE echoed, whether a hidden
    temporary file was there when it was killed)."""
    with _start(tmp_path, state_flush_seconds=0, compression="gzip", row_group_rows=500) as proc:
        return _kill_after_first_state(proc, tmp_path, total, every, delay)


def _kill_after_first_state(proc: subprocess.Popen[bytes], tmp_path: Path, total: int, every: int,
                            delay: float) -> tuple[int, bool]:
    assert proc.stdin is not None and proc.stdout is not None
    echoed: list[bytes] = []
    errors: list[bytes] = []
    reader = _drain(proc.stdout, echoed)
    _drain(proc.stderr, errors)  # type: ignore[arg-type]

    def feed() -> None:
        try:
            proc.stdin.write(schema("s", PROPS))  # type: ignore[union-attr]
            for start in range(0, total, every):
                proc.stdin.write(b"".join(_rec(i) for i in range(start, start + every)) + state(start + every))  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:  # killed: the rest is never read
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    deadline = time.monotonic() + 60
    while not echoed:
        assert proc.poll() is None and time.monotonic() < deadline, b"".join(errors).decode()
        time.sleep(0.001)
    time.sleep(delay)
    temps = list((tmp_path / "out").rglob(".part-*.tmp"))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    reader.join(10)
    feeder.join(10)
    return json.loads(echoed[-1])["n"], bool(temps)


def test_kill_9_mid_write_leaves_no_partial_file_and_a_rerun_loads_the_rest(tmp_path: Path) -> None:
    import duckdb
    import pyarrow.dataset as ds

    total, every = 60_000, 3_000
    caught = False
    for trial, delay in enumerate((0.05, 0.15, 0.3, 0.02, 0.1, 0.2)):
        work = tmp_path / f"trial{trial}"
        work.mkdir()
        last, temp_seen = _feed_until_killed(work, total, every, delay)
        caught = caught or temp_seen
        root = work / "out"
        ids = _ids(root)  # every visible file reads whole
        assert set(range(last)) <= set(ids), f"records before the last STATE {last} are missing"
        # readers that scan the directory see whole files only (the hidden temp files are skipped)
        assert ds.dataset(root / "s" / "v1", format="parquet").count_rows() == len(ids)
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/s/v1/**/*.parquet')").fetchall() == [(len(ids),)]
        # the rerun resumes after the last STATE (as a tap given that state) and removes the temp files
        rerun = subprocess.run(
            [exe("target-parquet"), "--config", str(work / "config.json")], capture_output=True, timeout=120,
            input=schema("s", PROPS) + b"".join(_rec(i) for i in range(last, total)) + state(total), check=False)
        assert rerun.returncode == 0, rerun.stderr.decode()
        assert set(_ids(root)) == set(range(total))
        assert not list(root.rglob(".part-*.tmp"))
        if caught:
            break
    assert caught, "no kill landed while a file was being written: raise the data size or change the delays"

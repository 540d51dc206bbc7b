"""target-parquet writes a run's text: with stream maps, runs are mapped by worker processes
(``map_workers``, protocol/_mapruns.py), and the files hold what one process writes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import exe, run
from tests.integration.parquet.support import config, pyarrow_rows
from tests.integration.test_stream_maps_workers import MAPS, big_input


def test_workers_write_what_one_process_writes(tmp_path: Path) -> None:
    data = big_input(wide=False)
    rows = {}
    for workers in (1, 2):
        home = tmp_path / f"w{workers}"
        home.mkdir()
        done = run([exe("target-parquet"), "--config", str(config(home, **MAPS, map_workers=workers))], input=data,
                   env={**os.environ, "SLUICE_LOG_LEVEL": "DEBUG"}, timeout=300)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert (b"mapping runs with 2 worker processes" in done.stderr) == (workers == 2)
        rows[workers] = (pyarrow_rows(home / "out" / "sales"), pyarrow_rows(home / "out" / "events"))
    assert rows[2] == rows[1]
    sales, events = rows[1]
    assert len(sales) > 30_000 and sum(r["tier_upper"] == "GOLD" for r in sales) > 8_000
    assert len(events) > 300

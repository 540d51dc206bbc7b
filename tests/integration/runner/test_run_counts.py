"""Counts a user reads from `sluice run` (issue #11): live progress, empty incremental runs,
per-pipeline run numbers, plural wording."""

from __future__ import annotations

import json
import queue
import re
import threading
from pathlib import Path

import yaml

from tests.integration.runner.helpers import (
    fixture_connector,
    sluice,
    sluice_env,
    start_sluice,
    write_project,
)
from tests.integration.runner.test_real_connectors import CUSTOMERS


def test_the_first_run_of_a_second_pipeline_is_its_run_1(tmp_path: Path) -> None:
    out = str(tmp_path / "out.jsonl")
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 3}),
        fixture_connector("target-fix", "fixture_target.py", {"path": out}),
    ], pipelines=[{"name": "x", "tap": "tap-fix", "target": "target-fix"},
                  {"name": "y", "tap": "tap-fix", "target": "target-fix", "state_id": "y-state"}])
    for expected in ["run 1 of pipeline 'x'", "run 2 of pipeline 'x'", "run 1 of pipeline 'y'",
                     "run 3 of pipeline 'x'", "run 2 of pipeline 'y'"]:
        name = expected.split("'")[1]
        done = sluice(["run", name, "--full-refresh"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert expected in done.stderr, done.stderr
    table = sluice(["runs"], tmp_path).stdout.splitlines()
    assert table[0].startswith("RUN\tPIPELINE")
    assert [tuple(line.split("\t")[:2]) for line in table[1:]] == [
        ("2", "y"), ("3", "x"), ("1", "y"), ("2", "x"), ("1", "x")]
    history = [json.loads(line) for line in sluice(["runs", "y", "--json"], tmp_path).stdout.splitlines()]
    assert [h["run"] for h in history] == [2, 1]
    logs = sorted(p.name for p in (tmp_path / ".sluice" / "logs" / "y").iterdir())
    assert [name.split("-")[-1] for name in logs] == ["run1.log", "run2.log"]


def _csv_project(tmp_path: Path) -> None:
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [
            {"name": "tap-csv", "executable": "tap-csv",
             "config": {"files": [{"entity": "customers", "path": str(CUSTOMERS), "keys": ["id"],
                                   "replication_key": "updated_at"}]}},
            {"name": "target-jsonl", "executable": "target-jsonl",
             "config": {"destination_path": str(tmp_path / "out")}}],
        "pipelines": [{"name": "customers", "tap": "tap-csv", "target": "target-jsonl"}],
    }))


def test_an_incremental_run_that_moves_nothing_reports_0_records(tmp_path: Path) -> None:
    _csv_project(tmp_path)
    first = sluice(["run", "customers"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "0 records:" not in first.stderr
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sluice |   0 records: nothing new since the last run" in done.stderr, done.stderr
    assert "reported no record counts" not in done.stderr and "MISMATCH" not in done.stderr
    last = json.loads(sluice(["runs", "customers", "--json"], tmp_path).stdout.splitlines()[0])
    assert (last["records_emitted"], last["records_committed"]) == (0, 0)


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        into.put(raw.decode(errors="replace"))
    into.put(None)


def test_progress_shows_records_emitted_while_the_run_goes(tmp_path: Path) -> None:
    hold = tmp_path / "go-on"
    write_project(tmp_path, connectors=[
        fixture_connector("tap-slow", "slow_kit_tap.py",
                          {"records": 14, "sleep": 0.15, "hold_after": 10, "hold_until": str(hold)}),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ], pipelines=[{"name": "slow", "tap": "tap-slow", "target": "target-fix"}])
    # off a terminal progress lines are asked for; the tap holds after record 10 until we saw one
    proc = start_sluice(["run", "slow"], tmp_path, env=sluice_env(SLUICE_PROGRESS="0.2"))
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    live = None
    try:
        while live is None:
            line = lines.get(timeout=60)
            if line is None:
                break
            seen.append(line)
            m = re.search(r"sluice \| progress: .*\((\d[\d,]*) emitted, (\d[\d,]*) committed\)", line)
            if m and int(m.group(1).replace(",", "")) > 0:
                live = line
        written = (tmp_path / "out.jsonl").read_text().splitlines() if (tmp_path / "out.jsonl").exists() else []
    finally:
        hold.touch()
        code = proc.wait(timeout=60)
        reader.join(timeout=60)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    while (line := lines.get_nowait()) is not None:
        seen.append(line)
    assert live is not None, "".join(seen)
    assert len(written) < 14  # seen while the tap was held, before the end
    assert code == 0, "".join(seen)
    assert "records/s" in live and "elapsed" in live
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 14
    assert any(re.search(r"ticks +14 +14$", line.rstrip()) for line in seen), "".join(seen)


def test_progress_setting_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    write_project(tmp_path, tap={"records": 3})
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(SLUICE_PROGRESS="often"))
    assert done.returncode == 0, done.stderr
    assert "SLUICE_PROGRESS='often' is not a number of seconds; ignored" in done.stderr
    assert "progress:" not in done.stderr

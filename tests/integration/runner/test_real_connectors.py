"""`sluice` with our real connectors, run as programs: tap-csv | target-jsonl, and the demo project."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.integration.runner.helpers import sluice

CUSTOMERS = ROOT / "examples" / "data" / "customers.csv"


def _project(tmp_path: Path, catalog: bool = False) -> None:
    tap: dict[str, object] = {
        "name": "tap-csv", "executable": "tap-csv",
        "config": {"files": [{"entity": "customers", "path": str(CUSTOMERS), "keys": ["id"],
                              "replication_key": "updated_at"}]},
    }
    if catalog:
        tap["catalog"] = "catalogs/tap-csv.json"
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [tap, {"name": "target-jsonl", "executable": "target-jsonl",
                             "config": {"destination_path": str(tmp_path / "out")}}],
        "pipelines": [{"name": "customers", "tap": "tap-csv", "target": "target-jsonl"}],
    }))


def _rows(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "out" / "customers.jsonl").read_text().splitlines()]


def test_tap_csv_into_target_jsonl_stores_state_and_counts(tmp_path: Path) -> None:
    _project(tmp_path)
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path)
    assert len(rows) == len(CUSTOMERS.read_text().splitlines()) - 1
    row = next(line for line in done.stderr.splitlines() if line.strip().startswith("sluice |   customers"))
    assert row.split()[-2:] == [str(len(rows))] * 2
    state = json.loads(sluice(["state", "get", "customers"], tmp_path).stdout)
    assert state["bookmarks"]["customers"]["replication_key"] == "updated_at"
    # the second run resumes from the bookmark: nothing newer, nothing re-sent
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(_rows(tmp_path)) == len(rows)


def test_discover_select_then_run_with_the_catalog(tmp_path: Path) -> None:
    _project(tmp_path, catalog=True)
    done = sluice(["discover", "tap-csv", "-o", "catalogs/tap-csv.json"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = sluice(["select", "tap-csv", "customers.*", "!customers.email", "!customers.amount"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "  customers.email [excluded]" in done.stdout and "  customers.id [automatic]" in done.stdout
    done = sluice(["run", "customers"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = _rows(tmp_path)
    assert rows and all("email" not in r and "amount" not in r and "name" in r for r in rows)


def test_check_and_spec_of_our_connectors(tmp_path: Path) -> None:
    _project(tmp_path)
    done = sluice(["check", "tap-csv"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tap-csv: ok: ")
    spec = json.loads(sluice(["spec", "target-jsonl"], tmp_path).stdout)
    assert "destination_path" in spec["properties"]


def test_demo_project_file_runs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("output", ".sluice", "meltano"))
    done = sluice(["--project", "examples/sluice.yml", "run", "demo"], tmp_path)
    assert done.returncode == 0, done.stderr
    database = tmp_path / "examples" / "output" / "demo.db"
    assert f"loaded into {database}" in done.stderr  # the README promises it says where
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("select count(*) from customers").fetchone() == (50,)
        assert conn.execute("select count(*) from orders").fetchone() == (200,)
    assert (tmp_path / "examples" / ".sluice" / "state.db").exists()
    again = sluice(["--project", "examples/sluice.yml", "run", "demo"], tmp_path)
    assert again.returncode == 0, again.stderr
    with closing(sqlite3.connect(database)) as conn:  # keyed upserts: a rerun leaves one row per key
        assert conn.execute("select count(*) from customers").fetchone() == (50,)
    jsonl = sluice(["--project", "examples/sluice.yml", "run", "demo-jsonl"], tmp_path)
    assert jsonl.returncode == 0, jsonl.stderr
    assert (tmp_path / "examples" / "output" / "customers.jsonl").stat().st_size > 0
    masked = sluice(["--project", "examples/sluice.yml", "run", "demo-masked"], tmp_path)
    assert masked.returncode == 0, masked.stderr
    rows = [json.loads(line) for line in
            (tmp_path / "examples" / "output" / "customers_masked.jsonl").read_text().splitlines()]
    assert len(rows) == 50 and all(len(r["email"]) == 64 and "@" not in r["email"] and "name" not in r for r in rows)
    assert sluice(["--project", "examples/sluice.yml", "validate"], tmp_path).returncode == 0

"""Meltano drives our executables: `meltano run tap-csv target-jsonl` lands rows and keeps state.

Installs Meltano into its own virtual environment (cached between runs) and runs the
checked-in example project in place, exactly as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROJECT = ROOT / "examples" / "meltano"
CACHE = Path(os.environ.get("SLUICE_TEST_CACHE", Path.home() / ".cache" / "sluice-tests"))


def meltano_exe() -> Path:
    venv = CACHE / "meltano-venv"
    exe = venv / "bin" / "meltano"
    if not exe.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "meltano"], check=True, timeout=600)
    return exe


def meltano(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "VIRTUAL_ENV"))}, **(env or {})}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["MELTANO_DISABLE_TRACKING"] = "true"
    return subprocess.run([str(meltano_exe()), *args], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def test_meltano_run_lands_rows_and_stores_state() -> None:
    shutil.rmtree(PROJECT / ".meltano", ignore_errors=True)
    shutil.rmtree(PROJECT / "output", ignore_errors=True)
    installed = meltano("install")
    assert installed.returncode == 0, installed.stderr[-3000:]

    result = meltano("run", "tap-csv", "target-jsonl")
    assert result.returncode == 0, result.stderr[-3000:]
    # the config files Meltano writes hold only keys our settings schemas know: no typo warning
    assert "tap-csv" in result.stderr and "target-jsonl" in result.stderr  # both sides' logs are there
    assert "unknown setting" not in result.stderr and "is reserved" not in result.stderr

    source_rows = (ROOT / "examples" / "data" / "customers.csv").read_text().strip().splitlines()[1:]
    landed = [json.loads(line) for line in (PROJECT / "output" / "customers.jsonl").read_text().splitlines()]
    assert len(landed) == len(source_rows) > 0
    assert sorted(r["id"] for r in landed) == sorted(int(row.split(",")[0]) for row in source_rows)

    state = meltano("state", "get", "dev:tap-csv-to-target-jsonl")
    assert state.returncode == 0, state.stderr[-3000:]
    stored = json.loads(state.stdout.strip().splitlines()[-1])
    # Meltano stores what the target echoed: the bare state value, as with SDK targets.
    bookmark = stored["singer_state"]["bookmarks"]["customers"]
    assert bookmark["replication_key"] == "updated_at" and bookmark["replication_key_value"]

    # A second run resumes from the state Meltano handed back: the file is unchanged since
    # the stored bookmark, so nothing is re-sent and nothing lands twice.
    again = meltano("run", "tap-csv", "target-jsonl")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "unchanged since" in again.stderr
    assert "unknown setting" not in again.stderr

    # ... and a real typo does reach the user through Meltano (so the checks above can fail)
    typo = [{"entity": "customers", "path": "../data/customers.csv", "delimeter": ","}]
    invoked = meltano("invoke", "tap-csv", "--discover", env={"TAP_CSV_FILES": json.dumps(typo)})
    assert invoked.returncode == 0, invoked.stderr[-3000:]
    assert "unknown setting 'files[0].delimeter' (did you mean 'delimiter'?)" in invoked.stderr
    relanded = (PROJECT / "output" / "customers.jsonl").read_text().splitlines()
    assert len(relanded) == len(source_rows)


def test_meltano_runs_mapper_sluice_as_a_mapping() -> None:
    """`meltano run tap-csv mask-emails target-jsonl`: Meltano starts mapper-sluice with the
    settings of its `mask-emails` mapping (examples/meltano/meltano.yml) between the two."""
    import csv
    import hashlib

    shutil.rmtree(PROJECT / ".meltano", ignore_errors=True)
    shutil.rmtree(PROJECT / "output", ignore_errors=True)
    installed = meltano("install")
    assert installed.returncode == 0, installed.stderr[-3000:]

    result = meltano("run", "tap-csv", "mask-emails", "target-jsonl")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "unknown setting" not in result.stderr

    # the oracle, from the CSV in plain Python: rows with a country, e-mail hashed, name dropped
    with (ROOT / "examples" / "data" / "customers.csv").open(newline="") as fh:
        source = [row for row in csv.DictReader(fh) if row["country"] != ""]
    landed = [json.loads(line) for line in (PROJECT / "output" / "customers_masked.jsonl").read_text().splitlines()]
    total = len((ROOT / "examples" / "data" / "customers.csv").read_text().strip().splitlines()) - 1
    assert 0 < len(landed) < total  # the filter dropped some
    assert sorted(r["id"] for r in landed) == sorted(int(row["id"]) for row in source)
    by_id = {int(row["id"]): row for row in source}
    for record in landed:
        assert record["email"] == hashlib.sha256(by_id[record["id"]]["email"].encode()).hexdigest()
        assert "name" not in record and record["country"] == by_id[record["id"]]["country"]
    assert not (PROJECT / "output" / "customers.jsonl").exists()  # the stream went through the mapping

    # the state went through the mapper: Meltano stored the target's echo of the tap's bookmark
    state = meltano("state", "get", "dev:tap-csv-to-target-jsonl")
    assert state.returncode == 0, state.stderr[-3000:]
    assert json.loads(state.stdout.strip().splitlines()[-1])["singer_state"]["bookmarks"]["customers"]

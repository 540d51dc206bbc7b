"""Two pipelines (two state ids) loading one stream into one output directory of a file target,
in turn: each run's roll-back (targets/files/marker.py) cuts only what no pipeline committed.
Before, a pipeline's start truncated the shared file back to its own last commit and removed the
rows the other pipeline had committed since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import exe
from tests.integration.runner.helpers import FIXTURES, PY, sluice

RECORDS = 30


def _project(root: Path, kind: str) -> Path:
    out = root / "out"
    target = {"destination_path": str(out)} if kind == "jsonl" else {"output_path": str(out), "mode": "append"}
    tap = {"name": "tap-keyless", "executable": PY, "args": [str(FIXTURES / "keyless_tap.py")],
           "config": {"records": RECORDS, "state_every": 10}}
    project = {"connectors": [tap, {"name": "files", "executable": exe(f"target-{kind}"),
                                    "config": {**target, "batch_size_rows": 5, "state_flush_seconds": 0}}],
               "pipelines": [{"name": "a", "tap": "tap-keyless", "target": "files"},
                             {"name": "b", "tap": "tap-keyless", "target": "files"}]}
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return out / f"events.{kind}"


def _seqs(path: Path, kind: str) -> list[int]:
    lines = path.read_text().splitlines()
    if kind == "jsonl":
        return [json.loads(line)["seq"] for line in lines]
    return [int(line.split(",")[0]) for line in lines[1:]]  # seq is the first column of target-csv's file


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_pipeline_never_removes_what_another_committed_in_a_shared_file(tmp_path: Path, kind: str) -> None:
    path = _project(tmp_path, kind)
    for name in ("a", "b", "a", "b"):
        done = sluice(["run", name], tmp_path)
        assert done.returncode == 0, done.stderr
        assert "removed" not in done.stderr, done.stderr
    # each pipeline delivered the stream once; the second runs resumed from their states (nothing new)
    assert sorted(_seqs(path, kind)) == sorted(list(range(1, RECORDS + 1)) * 2)

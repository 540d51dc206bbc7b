"""target-csv writes objects and arrays as JSON text and booleans as ``true``/``false`` in every
column, whichever way the column came: the header of a file a previous run wrote (append, or a
resumed run under `sluice`), or a SCHEMA re-sent mid-stream that changes a column's type. Python's
repr (``{'k': 1}``, ``True``) is never written (found by a probe)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.reconcile import ControlPipe
from targets.files.marker import Marker
from tests.conftest import exe
from tests.integration.test_target_csv import config, record, rows, schema, state, states, target

NESTED: dict[str, Any] = {"obj": {"type": ["null", "object"]}, "arr": {"type": ["null", "array"]},
                          "flag": {"type": ["null", "boolean"]}}
VALUES: dict[str, Any] = {"obj": {"k": 1, "s": 'é"q'}, "arr": ["a", 2], "flag": True}
CELLS = ['{"k":1,"s":"é\\"q"}', '["a",2]', "true"]  # compact JSON text (no spaces, UTF-8 kept)


def test_append_run_two_encodes_the_columns_it_reads_from_the_header(tmp_path: Path) -> None:
    cfg = config(tmp_path, mode="append")
    for i in (1, 2):
        result = target(cfg, schema(**NESTED) + record(id=i, name=f"n{i}", **VALUES) + state(i))
        assert result.returncode == 0, result.stderr.decode()
    # a column only the header names (no SCHEMA declares it) gets an undeclared object: JSON too
    third = target(cfg, schema() + record(id=3, name="n3", flag=False, obj=[{"x": None}]) + state(3))
    assert third.returncode == 0, third.stderr.decode()
    assert rows(tmp_path / "out" / "users.csv") == [
        ["id", "name", "obj", "arr", "flag"],
        ["1", "n1", *CELLS],
        ["2", "n2", *CELLS],
        ["3", "n3", '[{"x":null}]', "", "false"],
    ]


@pytest.mark.parametrize("fast_path", ["1", "0"], ids=["default", "reference-lane"])
def test_a_schema_that_changes_a_column_to_object_or_boolean_encodes_it(
        tmp_path: Path, fast_path: str) -> None:
    data = (schema(obj={"type": ["null", "string"]}, flag={"type": ["null", "string"]})
            + record(id=1, name="a", obj="{'k': 1}", flag="True")  # strings: written as they are
            + schema(obj={"type": ["null", "object"]}, flag={"type": ["null", "boolean"]})
            + record(id=2, name="b", obj=VALUES["obj"], flag=True)
            + schema(obj={"type": ["null", "string"]}, flag={"type": ["null", "boolean"]})
            + record(id=3, name="c", obj="plain", flag=False) + state(3))
    env = {**os.environ, "SLUICE_FAST_PATH": fast_path}
    cfg = config(tmp_path)
    result = subprocess.run([exe("target-csv"), "--config", str(cfg)], input=data, env=env,
                            capture_output=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert rows(tmp_path / "out" / "users.csv") == [
        ["id", "name", "obj", "flag"],
        ["1", "a", "{'k': 1}", "True"],
        ["2", "b", CELLS[0], "true"],
        ["3", "c", "plain", "false"],
    ]


def _under_sluice(cfg: Path, data: bytes, tap_ok: bool) -> subprocess.CompletedProcess[bytes]:
    """target-csv as `sluice` runs it for state id 'p' (generation 1), told how the tap ended."""
    pipe = ControlPipe("p", 1)
    try:
        pipe.tap_exited(tap_ok)
        return subprocess.run([exe("target-csv"), "--config", str(cfg)], input=data,
                              env={**os.environ, **pipe.env}, pass_fds=(pipe.read_fd,),
                              capture_output=True, check=False, timeout=120)
    finally:
        pipe.close()


def test_a_resumed_overwrite_run_encodes_the_columns_of_the_file_it_continues(tmp_path: Path) -> None:
    """The default (overwrite) under `sluice`: a run whose tap failed committed row 1; the next
    run of the same generation resumes it, so it appends to that file under the header it reads."""
    cfg = config(tmp_path, state_flush_seconds=0)
    stream = schema(**NESTED) + record(id=1, name="n1", **VALUES) + state(1)
    first = _under_sluice(cfg, stream + record(id=2, name="n2", **VALUES), tap_ok=False)
    assert states(first.stdout) == [{"n": 1}], first.stderr.decode()
    committed = Marker(tmp_path / "out", "p").load()
    assert committed is not None and not committed.complete
    second = _under_sluice(cfg, schema(**NESTED) + record(id=2, name="n2", **VALUES) + state(2), tap_ok=True)
    assert second.returncode == 0, second.stderr.decode()
    assert rows(tmp_path / "out" / "users.csv") == [
        ["id", "name", "obj", "arr", "flag"],
        ["1", "n1", *CELLS],
        ["2", "n2", *CELLS],
    ]

"""A project file that passed its checks is not checked again until it (or the schema) changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from protocol import ConfigError
from runner.project import load_project

VALID = """version: 1
connectors:
  - {name: src, executable: tap-csv, config: {files: []}}
  - {name: dst, executable: target-jsonl}
pipelines:
  - {name: p, tap: src, target: dst}
"""


def _imports_jsonschema(path: Path) -> bool:
    code = ("import sys; from pathlib import Path; from runner.project import load_project; "
            f"load_project(Path({str(path)!r})); print('jsonschema' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip() == "True"


def test_a_checked_file_loads_without_the_schema_check(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(VALID)
    assert _imports_jsonschema(path)  # first load: checked, then remembered
    assert (tmp_path / ".sluice" / "cache" / "valid-project").exists()
    assert not _imports_jsonschema(path)
    assert load_project(path).pipelines["p"].tap == "src"


def test_an_edit_is_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(VALID)
    load_project(path)
    path.write_text(VALID.replace("target: dst", "target: dst, colour: blue"))
    with pytest.raises(ConfigError) as caught:
        load_project(path)
    assert any("colour" in problem for problem in caught.value.problems)


def test_a_digest_of_other_text_does_not_pass_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(VALID)
    load_project(path)  # remembers VALID's digest
    path.write_text(VALID.replace("tap: src", "tap: nowhere"))
    with pytest.raises(ConfigError):
        load_project(path)

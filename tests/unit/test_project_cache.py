"""A project file that passed its checks is not checked again until it (or the schema) changes; only its
digest is kept (an inline secret of sluice.yml never lands under .sluice/)."""

from __future__ import annotations

import json
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


def _imports(path: Path) -> list[str]:
    """Which of jsonschema and yaml loading the project imported, in a fresh interpreter."""
    code = ("import json, sys; from pathlib import Path; from runner.project import load_project; "
            f"load_project(Path({str(path)!r})); print(json.dumps([m for m in ('jsonschema', 'yaml') "
            "if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_a_checked_file_loads_without_the_schema_check(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(VALID.replace("config: {files: []}", "config: {files: [], password: hunter2-inline}"))
    assert _imports(path) == ["jsonschema", "yaml"]  # first load: checked, then remembered
    cached = tmp_path / ".sluice" / "cache" / "valid-project"
    assert cached.exists() and b"hunter2" not in cached.read_bytes()
    assert _imports(path) == ["yaml"]
    assert load_project(path).pipelines["p"].tap == "src"


def test_a_tenant_problem_keeps_its_line_with_the_file_cached(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(VALID.replace("{name: p, tap: src, target: dst}", "{name: p, tap: src, target: dst, "
                                  "for_each: tenants.yml}"))
    (tmp_path / "tenants.yml").write_text("- id: acme\n")
    assert list(load_project(path).pipelines) == ["p@acme"]  # remembered
    (tmp_path / "tenants.yml").write_text("- id: acme\n- id: acme\n")
    with pytest.raises(ConfigError) as caught:
        load_project(path)
    assert any("duplicate tenant id 'acme'" in problem for problem in caught.value.problems)
    assert any("sluice.yml:" in problem or "tenants.yml:" in problem for problem in caught.value.problems)


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

"""run_sluice() reads the pipeline's one error line, also from an error that lists its problems."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from runner.orchestrators.sluice_run import run_sluice
from tests.conftest import exe

UNSET = "SLUICE_RUN_ERRORS_TEST_UNSET"


def test_a_config_error_with_problems_is_one_line(tmp_path: Path) -> None:
    project = tmp_path / "sluice.yml"
    project.write_text(yaml.safe_dump({"version": 1, "connectors": [
        {"name": "tap-csv", "executable": exe("tap-csv"), "config": {"files": [{"entity": "a", "path": "a.csv"}]}},
        {"name": "target-unset", "executable": exe("target-jsonl"),
         "config": {"destination_path": f"${{{UNSET}}}", "file_naming_scheme": f"${{{UNSET}_TOO}}"}},
    ], "pipelines": [{"name": "p", "tap": "tap-csv", "target": "target-unset"}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(UNSET)}
    result = run_sluice("p", project, command=[exe("sluice")], env=env)
    assert result.exit_code == 2
    # sluice printed "sluice: error: ...cannot be used:" and one indented line per problem
    assert result.message() == (
        f"{project}: connector 'target-unset' cannot be used: "
        f"connectors[1].config.destination_path: environment variable {UNSET} is not set; "
        f"connectors[1].config.file_naming_scheme: environment variable {UNSET}_TOO is not set")

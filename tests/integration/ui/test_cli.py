"""`sluice ui` as a command: listed by `sluice --help` without importing the extra, and one clear line
when the extra is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HELP = """
import sys
from click.testing import CliRunner
from runner.cli import cli
result = CliRunner().invoke(cli, ["--help"])
assert result.exit_code == 0, result.output
assert any(line.split()[:1] == ["ui"] for line in result.output.splitlines()), result.output
loaded = sorted(m for m in ("starlette", "uvicorn", "jinja2", "runner.ui.app") if m in sys.modules)
assert not loaded, loaded
"""

WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if the package were not installed
from runner.cli import main
main(["ui"])
"""


def test_help_lists_ui_without_the_extra() -> None:
    done = subprocess.run([sys.executable, "-c", HELP], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("module", ["starlette", "jinja2", "uvicorn"])
def test_missing_extra_is_one_line(module: str, tmp_path: Path) -> None:
    (tmp_path / "sluice.yml").write_text("connectors: []\npipelines: []\n")
    done = subprocess.run([sys.executable, "-c", WITHOUT.format(module=module)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["sluice: error: sluice ui needs the extra, which is not installed: "
                                                "pip install 'sluice[ui]'"]

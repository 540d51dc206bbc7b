"""ConfigError carries its summary and its problems as fields, and renders itself in one place:
one line for a connector's stderr, one problem per line for ``sluice``. Nothing cuts its text apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol._errors import ConfigError
from protocol._exitcodes import ExitCode
from runner.cli import main


def test_the_fields_and_both_renderings() -> None:
    # a summary and problems that hold the separators themselves: only the fields tell them apart
    exc = ConfigError("sluice.yml: invalid project file", ["a: b; c", "d"])
    assert exc.summary == "sluice.yml: invalid project file"
    assert exc.problems == ["a: b; c", "d"]
    assert str(exc) == exc.one_line() == "sluice.yml: invalid project file: a: b; c; d"
    assert exc.block() == "sluice.yml: invalid project file:\n  a: b; c\n  d"
    assert exc.exit_code == ExitCode.USAGE


def test_without_problems_it_is_its_summary() -> None:
    exc = ConfigError("state file s.json must hold a JSON object")
    assert exc.problems == []
    assert str(exc) == exc.block() == exc.summary == "state file s.json must hold a JSON object"


def test_problems_may_be_any_iterable_and_are_kept_as_a_list() -> None:
    exc = ConfigError("invalid config", (p for p in ["x", "y"]))
    assert exc.problems == ["x", "y"]
    assert str(exc) == "invalid config: x; y"


def test_sluice_prints_the_summary_then_one_problem_per_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sluice.yml").write_text(
        "connectors:\n  - {name: a, executable: x}\n  - {name: a, executable: y}\n"
        "pipelines:\n  - {name: p, tap: a, target: nope}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLUICE_PROJECT", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["run", "p"])
    assert stopped.value.code == ExitCode.USAGE
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("sluice: error: ") and err[0].endswith("sluice.yml: invalid project file:")
    assert err[1:] == ["  sluice.yml:3: connectors[1].name: duplicate name 'a'",
                       "  sluice.yml:5: pipelines[0].target: no connector named 'nope'"]

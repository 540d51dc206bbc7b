"""One table of exit codes (protocol/_exitcodes.py): every code has a meaning, the README and the
help say the same, no exit code is written as a bare number elsewhere, and ``sluice run --all``
combines its pipelines' codes without folding a stop into a failure."""

from __future__ import annotations

import ast
import re
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

import protocol._cli
from protocol._exitcodes import CONNECTOR_CODES, RUNNER_CODES, ExitCode, signal_exit_code
from protocol._exitcodes import describe_exit_codes as describe
from runner.cli import cli
from runner.outcome import ALL_EXIT_HELP, ALL_PRECEDENCE, Outcome, RunStatus, StopCause, combine_exit_codes

ROOT = Path(__file__).resolve().parents[2]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_code_has_a_meaning_and_the_signal_codes_are_the_shells() -> None:
    for code in ExitCode:
        assert code.meaning and code.meaning[0].islower(), code
    assert ExitCode.INTERRUPTED == signal_exit_code(signal.SIGINT) == 130
    assert ExitCode.TERMINATED == signal_exit_code(signal.SIGTERM) == 143
    assert [int(c) for c in RUNNER_CODES] == [0, 1, 2, 3, 124, 130, 143]
    assert [int(c) for c in CONNECTOR_CODES] == [0, 1, 2, 130, 143]


def test_the_readme_documents_every_code_once_per_program() -> None:
    readme = _flat((ROOT / "README.md").read_text())
    # the connector contract's sentence is the table's own words
    assert f"Exit codes: {describe(CONNECTOR_CODES, connector=True, sep=', ')}." in readme
    runner = re.search(r"Exit codes \(one table for sluice and every connector: `protocol/_exitcodes.py`\): ([^.]*)\.",
                       readme)
    assert runner is not None
    said = [int(n) for n in re.findall(r"\b(\d+) ", runner.group(1) + " ")]
    assert sorted(said) == sorted(int(c) for c in RUNNER_CODES)
    every = ", ".join(str(int(c)) for c in ALL_PRECEDENCE)
    assert f"`sluice run --all` exits 130 or 143 when it is itself interrupted, else with the first of {every}" \
        in readme


def test_the_help_of_sluice_and_the_connector_contract_come_from_the_table() -> None:
    shown = CliRunner().invoke(cli, ["run", "--help"])
    assert shown.exit_code == ExitCode.OK
    text = _flat(shown.output)
    assert f"Exit codes: {describe(RUNNER_CODES)}" in text
    for code in RUNNER_CODES:
        assert f"{int(code)} {code.meaning}" in text
    assert _flat(ALL_EXIT_HELP) in text
    assert describe(CONNECTOR_CODES, connector=True, sep=", ") in _flat(protocol._cli.__doc__ or "")


def _literal_exit_codes(path: Path) -> list[str]:
    """Exit codes written as numbers: sys.exit(2), os._exit(0), rc == 0, returncode != 1, exit_code = 3."""
    names = {"rc", "returncode", "exit_code", "code"}
    found = []

    def is_int(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) is int

    def named(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id in names) or (
            isinstance(node, ast.Attribute) and node.attr in names)

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"exit", "_exit"}:
            hit = any(is_int(arg) for arg in node.args)
        elif isinstance(node, ast.Compare) and all(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn)
                                                   for op in node.ops):  # rc < 0: killed by a signal, not a code
            sides = [node.left, *node.comparators]
            consts = [c for s in sides for c in ([s] if not isinstance(s, ast.Tuple) else s.elts)]
            hit = any(named(s) for s in sides) and any(is_int(c) for c in consts)
        elif isinstance(node, ast.Assign):
            hit = any(named(t) for t in node.targets) and is_int(node.value)
        else:
            continue
        if hit:
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_exit_code_is_a_bare_number_in_the_kit_or_the_runner() -> None:
    files = sorted([*(ROOT / "protocol").rglob("*.py"), *(ROOT / "runner").rglob("*.py")])
    assert files
    found = [hit for path in files if path.name != "exitcodes.py" for hit in _literal_exit_codes(path)]
    assert found == []


def test_the_literal_scan_sees_what_it_is_written_for(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import sys, os\nrc = 3\nif done.returncode in (0, 2):\n    sys.exit(130)\nos._exit(0)\n"
                       "ok = rc == ExitCode.OK\n")
    assert len(_literal_exit_codes(planted)) == 4


@pytest.mark.parametrize(("codes", "stopped_by", "expected"), [
    ([], None, ExitCode.OK),
    ([0, 0], None, ExitCode.OK),
    ([0, 1, 2, 3], None, ExitCode.FAILED),
    ([3, 2, 0], None, ExitCode.USAGE),
    ([124, 3], None, ExitCode.TIMEOUT),  # 3: running already (another host), skipped
    ([0, 3, 3], None, ExitCode.OK),
    ([0, 124], None, ExitCode.TIMEOUT),  # a pipeline that timed out is not folded into 1
    ([143, 130, 0], None, ExitCode.INTERRUPTED),
    ([0, 143], None, ExitCode.TERMINATED),
    ([0, -9], None, ExitCode.FAILED),  # a runner killed by a signal failed
    ([0, 127], None, ExitCode.FAILED),
    ([1, 143, 143], signal.SIGINT, ExitCode.INTERRUPTED),  # sluice itself was stopped: its own signal
    ([0, 1], signal.SIGTERM, ExitCode.TERMINATED),
])
def test_run_all_combines_the_codes_of_its_pipelines(codes: list[int], stopped_by: int | None,
                                                     expected: ExitCode) -> None:
    assert combine_exit_codes(codes, stopped_by) is expected


def test_the_outcome_of_a_run_gives_its_exit_code() -> None:
    def outcome(status: RunStatus, stopped_by: StopCause | None = None) -> Outcome:
        return Outcome(status, None, None, None, None, 0, 0.0, stopped_by)  # type: ignore[arg-type]

    assert outcome(RunStatus.SUCCEEDED).exit_code is ExitCode.OK
    assert outcome(RunStatus.FAILED).exit_code is ExitCode.FAILED
    assert outcome(RunStatus.INTERRUPTED, StopCause.SIGINT).exit_code is ExitCode.INTERRUPTED
    assert outcome(RunStatus.INTERRUPTED, StopCause.SIGTERM).exit_code is ExitCode.TERMINATED
    assert outcome(RunStatus.FAILED, StopCause.TIMEOUT).exit_code is ExitCode.TIMEOUT
    lost = outcome(RunStatus.SUCCEEDED)
    lost.fail("target", "3 records not committed")
    assert (lost.status, lost.failed_side, lost.exit_code) == (RunStatus.FAILED, "target", ExitCode.FAILED)
    assert f"{RunStatus.INTERRUPTED} {StopCause.TIMEOUT}" == "interrupted timeout"  # the words stores and targets see

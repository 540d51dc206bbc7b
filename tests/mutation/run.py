"""Mutation testing of the critical modules with mutmut, each group against its own narrow tests.

Not run by CI. Usage, from the repository root, with the dev extra installed:

    .venv/bin/python tests/mutation/run.py                 # every group
    .venv/bin/python tests/mutation/run.py redaction retry # some groups
    .venv/bin/python tests/mutation/run.py --list
    .venv/bin/python tests/mutation/run.py drain --mutants 'protocol._target.xǁTargetǁdrain*'

Each group runs in its own copy of the work tree (the tracked files, as they are on disk)
under $SLUICE_MUTATION_DIR (default /tmp/sluice-mutation/<group>), so a crash never leaves
a mutant in the repository. At the end the surviving mutants of each group are listed;
``cd <dir> && mutmut show <name>`` prints the diff of one.

mutmut picks the tests for a mutant from the functions each test called *in-process*.
Connectors and ``sluice`` run as subprocesses in most of our tests, so for groups marked
``subprocess`` the script maps every function of the group to every test of the group
(in mutants/mutmut-stats.json) before the mutants run, and puts the mutated copy first on
PYTHONPATH so that a connector started by a test imports the mutant too. (Connectors that
``sluice`` itself starts get a minimal environment and run the original code.)
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Group:
    modules: tuple[str, ...]  # files to mutate
    mutants: tuple[str, ...]  # mutmut name globs (which functions)
    tests: tuple[str, ...]  # the narrow test selection
    subprocess: bool = False


GROUPS = {
    "config": Group(("protocol/_config.py",), ("protocol._config.*",),
                    ("tests/unit/test_config_state.py", "tests/unit/test_cli_contract.py",
                     "tests/unit/test_config_env.py")),
    "drain": Group(("protocol/_target.py",), ("protocol._target.*",),
                   ("tests/unit/test_target_files.py", "tests/unit/test_exactly_once.py",
                    "tests/integration/test_target_jsonl.py",
                    "tests/faults/test_target_sigterm.py", "tests/faults/test_commit_reply_lost.py"),
                   subprocess=True),
    "redaction": Group(("runner/isolation.py",), ("runner.isolation.xǁRedactorǁ*",),
                       ("tests/unit/test_runner_pumps.py",
                        "tests/faults/test_runner_faults.py::test_secrets_never_reach_logs_history_or_errors"),
                       subprocess=True),
    "retry": Group(("protocol/http/_retry.py", "protocol/http/_errors.py"),
                   ("protocol.http._retry.*", "protocol.http._errors.*"), ("tests/unit/test_http_kit.py",)),
    "bookmarks": Group(("protocol/_state.py",), ("protocol._state.*",),
                       ("tests/unit/test_config_state.py", "tests/unit/test_bookmarks.py")),
    "slot": Group(("taps/postgres/cdc.py",), ("taps.postgres.cdc.*",),
                  ("tests/unit/test_tap_postgres.py", "tests/integration/postgres_tap/test_cdc.py"),
                  subprocess=True),
}
PACKAGES = ("protocol", "runner", "taps", "targets")


def _copy_tree(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        src = ROOT / name
        if name and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _setup_cfg(group: Group) -> str:
    def lines(values: tuple[str, ...]) -> str:
        return "".join(f"\n    {v}" for v in values)

    return ("[mutmut]\n"
            f"source_paths ={lines(tuple(p + '/' for p in PACKAGES))}\n"
            f"only_mutate ={lines(group.modules)}\n"
            f"pytest_add_cli_args_test_selection ={lines(group.tests)}\n")


# mutmut reads its configuration from the current directory, which a connector started by a
# test does not share; this sitecustomize loads it from the work directory at start-up (the
# variable is not named SLUICE_*: the runner's tests strip those from the environment).
SITECUSTOMIZE = """\
import os

_root = os.environ.get("MUTMUT_WORK_ROOT")
if _root and os.environ.get("MUTANT_UNDER_TEST"):
    _cwd = os.getcwd()
    os.chdir(_root)
    try:
        from mutmut.configuration import config

        config()
    finally:
        os.chdir(_cwd)
"""


def _mutmut(work: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    site = work / "mutation-site"
    site.mkdir(exist_ok=True)
    (work / "mutants").mkdir(exist_ok=True)  # a PYTHONPATH entry missing at start-up is never looked at again
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": f"{work / 'mutants'}{os.pathsep}{site}", "MUTMUT_WORK_ROOT": str(work)}
    return subprocess.run([str(BIN / "mutmut"), *args], cwd=work, env=env, text=True, capture_output=True,
                          check=check)


def _synthesize_stats(work: Path, group: Group) -> None:
    """The stats mutmut would not save (no test called the module in-process): every test of
    the group, as pytest collects it, for every function that has mutants."""
    env = {**os.environ, "PYTHONPATH": str(work / "mutants")}
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *group.tests],
                            cwd=work / "mutants", env=env, text=True, capture_output=True, check=False).stdout
    tests = [line.strip() for line in listed.splitlines() if "::" in line]
    functions = set()
    for module in group.modules:
        meta = json.loads((work / "mutants" / f"{module}.meta").read_text())
        functions |= {re.sub(r"__mutmut_\d+$", "", key) for key in meta["exit_code_by_key"]}
    stats = {"tests_by_mangled_function_name": {f: tests for f in sorted(functions)},
             "duration_by_test": dict.fromkeys(tests, 1.0), "stats_time": 1.0}
    (work / "mutants" / "mutmut-stats.json").write_text(json.dumps(stats))


def _widen_stats(work: Path, group: Group) -> None:
    """Every function of the group's modules is covered by every test of the group."""
    path = work / "mutants" / "mutmut-stats.json"
    stats = json.loads(path.read_text())
    tests = sorted(stats["duration_by_test"])
    prefixes = tuple(m.removesuffix(".py").replace("/", ".") + "." for m in group.modules)
    for name in {*stats.get("function_hashes", {}), *stats["tests_by_mangled_function_name"]}:
        if name.startswith(prefixes):
            stats["tests_by_mangled_function_name"][name] = tests
    path.write_text(json.dumps(stats))


def run_group(name: str, group: Group, base: Path, children: int) -> list[str]:
    work = base / name
    _copy_tree(work)
    (work / "setup.cfg").write_text(_setup_cfg(group))
    if group.subprocess:  # collect the stats (no mutant matches the pattern), then widen them
        stats = _mutmut(work, "run", "--max-children", str(children), "no-such-mutant")
        if "Stopping early" in stats.stdout:
            _synthesize_stats(work, group)
        elif not (work / "mutants" / "mutmut-stats.json").exists():
            sys.stderr.write(stats.stdout[-3000:] + stats.stderr[-3000:])
            raise SystemExit(f"mutmut could not collect the stats of group {name}; see {work}")
        _widen_stats(work, group)
    done = _mutmut(work, "run", "--max-children", str(children), *group.mutants)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"mutmut failed for group {name} (exit {done.returncode}); see {work}")
    results = _mutmut(work, "results", "--all", "true").stdout.splitlines()
    wanted = [r.strip() for r in results
              if ":" in r and any(fnmatch.fnmatch(r.strip().rsplit(":", 1)[0], g) for g in group.mutants)]
    counts: dict[str, int] = {}
    for line in wanted:
        status = line.rsplit(":", 1)[1].strip()
        counts[status] = counts.get(status, 0) + 1
    survivors = [line.rsplit(":", 1)[0] for line in wanted if line.endswith(": survived")]
    print(f"== {name}: {counts} (work dir {work})")
    for survivor in survivors:
        print(f"   survived: {survivor}")
    return survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", choices=[*GROUPS, []], metavar="GROUP")
    parser.add_argument("--list", action="store_true", help="list the groups and their tests")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--mutants", metavar="GLOB", action="append",
                        help="only these mutants (mutmut names, e.g. 'protocol._target.xǁTargetǁdrain*')")
    args = parser.parse_args()
    if args.list:
        for name, group in GROUPS.items():
            print(f"{name}: {' '.join(group.modules)} <- {' '.join(group.tests)}")
        return 0
    base = Path(os.environ.get("SLUICE_MUTATION_DIR", "/tmp/sluice-mutation"))
    survivors = 0
    for name in args.groups or list(GROUPS):
        group = GROUPS[name]
        if args.mutants:
            group = dataclasses.replace(group, mutants=tuple(args.mutants))
        survivors += len(run_group(name, group, base, args.max_children))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

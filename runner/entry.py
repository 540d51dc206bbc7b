"""The ``sluice`` console script. ``sluice run PIPELINE [--full-refresh] [--environment NAME]``, the
command a cron host starts every few minutes, is read here without click (whose import is a fifth of a
run's own start-up cost); any other command line, and a pipeline with ``for_each:``, go to the click interface
(:mod:`runner.cli`), which gives every command its options, help and usage errors.

Both ways end in the same code (:func:`runner.run.run_pipeline`, the same :class:`RunOptions` defaults)
and report errors with the same lines and exit codes (:func:`report`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from protocol import ConfigError, ExitCode, SluiceError

__all__ = ["main", "report", "simple_run"]

_FLAGS = ("--full-refresh",)
_GLOBAL = {"-p": "project", "--project": "project", "-e": "environment", "--environment": "environment"}
_AFTER_RUN = {"-e": "environment", "--environment": "environment"}


def _options(rest: list[str], known: dict[str, str], found: dict[str, str]) -> list[str] | None:
    """``rest`` without the options of ``known`` (``-x V``, ``--xx V``, ``--xx=V``), each put in ``found``;
    None when one is given twice or has no value."""
    out: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, value = arg.partition("=")
        if arg in known and i + 1 < len(rest):
            key, value, i = known[arg], rest[i + 1], i + 2
        elif eq and name.startswith("--") and name in known:
            key, i = known[name], i + 1
        elif arg in known:
            return None
        else:
            out.append(arg)
            i += 1
            continue
        if key in found or not value:
            return None
        found[key] = value
    return out


def simple_run(args: Sequence[str]) -> tuple[str | None, str, bool, str | None] | None:
    """``(project file or None, PIPELINE, full refresh, environment or None)`` when ``args`` are
    ``[-p FILE] [-e NAME] run PIPELINE [--full-refresh] [-e NAME]`` (in any order after ``run``); None
    for any other command line."""
    found: dict[str, str] = {}
    rest = list(args)
    cut = rest.index("run") if "run" in rest else len(rest)
    head = _options(rest[:cut], _GLOBAL, found)
    if head != [] or rest[cut:cut + 1] != ["run"]:
        return None
    tail = _options(rest[cut + 1:], _AFTER_RUN, found)
    if tail is None:
        return None
    names = [arg for arg in tail if arg not in _FLAGS]
    flags = [arg for arg in tail if arg in _FLAGS]
    if len(names) != 1 or not names[0] or names[0].startswith("-") or len(flags) != len(set(flags)):
        return None
    project = found.get("project") or os.environ.get("SLUICE_PROJECT") or None
    return project, names[0], bool(flags), found.get("environment")


def _run_simple(project_arg: str | None, name: str, full_refresh: bool, environment: str | None) -> int | None:
    """Run one pipeline as ``sluice run`` does; None when it is a pipeline with tenants (for click's path)."""
    from runner.cli_context import Ctx
    from runner.install.needed import check_installed, refuse_missing, run_connectors

    obj = Ctx(project_arg, environment)
    project = obj.project
    if name in project.templates:
        return None
    refuse_missing(check_installed(project, run_connectors(project, (name,), False)))
    from runner.run import RunOptions, plan_pipeline, run_pipeline

    options = RunOptions(full_refresh=full_refresh)
    return run_pipeline(project, plan_pipeline(project, name, options), options)


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def report(exc: BaseException, echo: Callable[[str], None] = _stderr_line) -> int:
    """The one line on stderr for an error that ends a command, and the exit code it gets."""
    if isinstance(exc, ConfigError):
        echo(f"sluice: error: {exc.block()}")
        return int(exc.exit_code)
    if isinstance(exc, SluiceError):
        echo(f"sluice: error: {exc}")
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        echo("sluice: interrupted by SIGINT (Ctrl-C)")
        return int(ExitCode.INTERRUPTED)
    raise exc


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``sluice`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    simple = simple_run(args)
    if simple is not None:
        try:
            code = _run_simple(*simple)
        except (SluiceError, KeyboardInterrupt) as exc:
            sys.exit(report(exc))
        if code is not None:
            sys.exit(code)
    from runner.cli import main as cli_main

    cli_main(args)
    sys.exit(ExitCode.OK)  # cli_main exits itself; for the type checker

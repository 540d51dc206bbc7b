"""``sluice crontab``: one crontab line per scheduled pipeline.

The lines are the same whatever directory ``sluice crontab`` runs in: they name the project
file and the ``sluice`` program by absolute path, and need no ``cd`` (connectors run in the
project directory whatever the current one is).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from protocol import ConfigError
from runner.project import Project

__all__ = ["crontab_lines"]

CRON_PATH_TAIL = "/usr/local/bin:/usr/bin:/bin"


def _sluice_command() -> list[str]:
    """This very runner: the ``sluice`` it was started as, the one beside its Python (its venv), or
    ``python -m runner``; never another ``sluice`` that happens to come first on PATH."""
    argv0 = Path(sys.argv[0])
    if os.sep in sys.argv[0] and argv0.name == "sluice" and argv0.exists():
        return [str(argv0.resolve())]
    beside = Path(sys.executable).absolute().parent / "sluice"
    if beside.exists():
        return [str(beside)]
    return [str(Path(sys.executable).absolute()), "-m", "runner"]


def _refuse_unsafe(text: str, what: str) -> None:
    """A crontab line is one line, and cron reads ``%`` and ``\\`` itself: a path or name holding a
    control character (a newline would start another crontab entry) or a backslash is refused."""
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in text):
        raise ConfigError(f"sluice crontab: {what} {text!r} holds a control character or a backslash, which a "
                          "crontab line cannot carry safely; rename it")


def _cron_path() -> str:
    """This shell's PATH without its relative (and empty) entries: they meant the directory the
    command was typed in, which cron does not run in."""
    entries = [e for e in (os.environ.get("PATH") or "").split(os.pathsep) if os.path.isabs(e)]
    return os.pathsep.join(dict.fromkeys(entries)) or CRON_PATH_TAIL


def crontab_lines(project: Project, metrics_file: Path | None = None) -> list[str]:
    """One line per scheduled pipeline, independent of the current directory.

    Cron runs with a bare PATH: each line sets the PATH this shell had, so connectors are found.
    """
    if os.environ.get("SLUICE_STATE_URL"):
        raise ConfigError("sluice crontab: SLUICE_STATE_URL is set here, but cron runs without it: its lines would "
                          "use sluice.yml's state_store (or the local SQLite file), with other bookmarks and locks. "
                          "Put the store in sluice.yml's state_store: (its password as ${VAR} from .env), or unset "
                          "SLUICE_STATE_URL to print lines for the store sluice.yml names")
    scheduled = [p for p in project.pipelines.values() if p.schedule]
    where = project.path.resolve() if project.path else None
    _refuse_unsafe(str(where or project.dir), "the project path")
    lines = [f"# sluice pipelines of {where or project.dir}"]
    if not scheduled:
        lines.append("# (no pipeline has a schedule)")
        return lines
    log = project.dir / ".sluice" / "logs" / "cron.log"
    for pipe in scheduled:
        cmd = [*_sluice_command()]
        if where:
            cmd += ["--project", str(where)]
        if project.environment:
            cmd += ["--environment", project.environment.name]
        cmd += ["run", pipe.name]
        if metrics_file:
            cmd += ["--metrics-file", str(metrics_file.absolute())]
        for part in [*cmd, _cron_path(), pipe.schedule or ""]:
            _refuse_unsafe(part, "the value")
        command = (
            f"mkdir -p {shlex.quote(str(log.parent))} && "
            f"PATH={shlex.quote(_cron_path())} {shlex.join(cmd)} >> {shlex.quote(str(log))} 2>&1"
        )
        lines.append(f"{pipe.schedule} {command.replace('%', chr(92) + '%')}")  # % is a newline to cron
    return lines

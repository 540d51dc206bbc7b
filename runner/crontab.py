"""``sluice crontab``: one crontab line per scheduled pipeline.

The lines are the same whatever directory ``sluice crontab`` runs in: they name the project
file and the ``sluice`` program by absolute path, and need no ``cd`` (connectors run in the
project directory whatever the current one is).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from runner.project import Project

__all__ = ["crontab_lines"]

CRON_PATH_TAIL = "/usr/local/bin:/usr/bin:/bin"


def _sluice_command() -> list[str]:
    argv0 = Path(sys.argv[0])
    if os.sep in sys.argv[0] and argv0.name == "sluice" and argv0.exists():
        return [str(argv0.resolve())]
    found = shutil.which("sluice")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).absolute()), "-m", "runner"]


def _cron_path() -> str:
    """This shell's PATH without its relative (and empty) entries: they meant the directory the
    command was typed in, which cron does not run in."""
    entries = [e for e in (os.environ.get("PATH") or "").split(os.pathsep) if os.path.isabs(e)]
    return os.pathsep.join(dict.fromkeys(entries)) or CRON_PATH_TAIL


def crontab_lines(project: Project, metrics_file: Path | None = None) -> list[str]:
    """One line per scheduled pipeline, independent of the current directory.

    Cron runs with a bare PATH: each line sets the PATH this shell had, so connectors are found.
    """
    scheduled = [p for p in project.pipelines.values() if p.schedule]
    where = project.path.resolve() if project.path else None
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
        command = (
            f"mkdir -p {shlex.quote(str(log.parent))} && "
            f"PATH={shlex.quote(_cron_path())} {shlex.join(cmd)} >> {shlex.quote(str(log))} 2>&1"
        )
        lines.append(f"{pipe.schedule} {command.replace('%', chr(92) + '%')}")  # % is a newline to cron
    return lines

"""``sluice crontab``: one crontab line per scheduled pipeline."""

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
    if argv0.name == "sluice" and argv0.exists():
        return [str(argv0.resolve())]
    found = shutil.which("sluice")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "runner"]


def crontab_lines(project: Project, metrics_file: Path | None = None) -> list[str]:
    """One line per scheduled pipeline, run from the current directory (connectors run there).

    Cron runs with a bare PATH: each line sets the PATH this shell had, so connectors are found.
    """
    scheduled = [p for p in project.pipelines.values() if p.schedule]
    where = project.path.resolve() if project.path else None
    lines = [f"# sluice pipelines of {where or project.dir}"]
    if not scheduled:
        lines.append("# (no pipeline has a schedule)")
        return lines
    path = os.environ.get("PATH") or CRON_PATH_TAIL
    log = project.dir / ".sluice" / "logs" / "cron.log"
    for pipe in scheduled:
        cmd = [*_sluice_command()]
        if where:
            cmd += ["--project", str(where)]
        cmd += ["run", pipe.name]
        if metrics_file:
            cmd += ["--metrics-file", str(metrics_file)]
        command = (
            f"cd {shlex.quote(os.getcwd())} && mkdir -p {shlex.quote(str(log.parent))} && "
            f"PATH={shlex.quote(path)} {shlex.join(cmd)} >> {shlex.quote(str(log))} 2>&1"
        )
        lines.append(f"{pipe.schedule} {command.replace('%', chr(92) + '%')}")  # % is a newline to cron
    return lines

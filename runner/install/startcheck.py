"""After a build: the connector's program is in its environment and starts.

An install can succeed while its program cannot run: a console script the distributions do not
provide (a misspelt ``executable``), or one that dies at import (a connector that imports
``pkg_resources`` in an environment whose setuptools no longer has it). Both fail the install, with
the program's own last words, instead of the first ``sluice run``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from protocol import ExitCode
from runner.install.builder import InstallFailed
from runner.install.envs import ConnectorEnv, installed_distributions, normalize, site_packages

#: a shell's "cannot execute" and "command not found": what the program's interpreter line may give
_CANNOT_RUN = frozenset({126, ExitCode.NOT_STARTED})

__all__ = ["START_TIMEOUT", "check_starts"]

START_TIMEOUT = 30.0  # seconds `EXECUTABLE --help` may take; a slower one is not taken for a failure


def check_starts(env: ConnectorEnv, log: list[str], timeout: float = START_TIMEOUT) -> None:
    """Fail (:class:`InstallFailed`) when ``env.executable`` is not in the environment's ``bin/``, or
    when ``EXECUTABLE --help`` dies with a Python traceback (or a signal, or "cannot execute").
    An executable given as a path, or none, is not checked."""
    name = env.executable
    if not name or "/" in name or "$" in name:
        return
    program = env.bin / name
    if not program.is_file() or not os.access(program, os.X_OK):
        provided = _console_scripts(env.home)
        offer = f"; it provides: {', '.join(provided)}" if provided else "; it provides no program"
        raise InstallFailed(f"the executable '{name}' is not in what pip_url '{' '.join(env.specs)}' "
                            f"installed (no {program}){offer}")
    from runner.connectors import run_bounded
    from runner.isolation import child_env

    environ = {**child_env({}), "VIRTUAL_ENV": str(env.home),
               "PATH": f"{env.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
    try:
        done = run_bounded([str(program), "--help"], env=environ, cwd=env.cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        log.append(f"$ {program} --help: no answer in {timeout:g} s (stopped; not taken for a failure)")
        return
    except OSError as exc:
        raise InstallFailed(f"'{name}' cannot start: {exc.strerror or exc}") from exc
    stderr = done.stderr.decode("utf-8", "replace")
    log.append(f"$ {program} --help  (exit {done.returncode})")
    log.append(stderr.rstrip())
    if done.returncode and ("Traceback (most recent call last)" in stderr or done.returncode < 0
                            or done.returncode in _CANNOT_RUN):
        last = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        why = last[-1] if last else f"exit code {done.returncode}"
        raise InstallFailed(f"'{name}' was installed but cannot start: {why}", stderr)


def _console_scripts(home: Path) -> list[str]:
    """The programs the connector's distributions declare (``console_scripts``), seeded ones left out."""
    wanted = set(installed_distributions(home))
    found: set[str] = set()
    for folder in site_packages(home):
        for info in folder.glob("*.dist-info"):
            if normalize(info.name.removesuffix(".dist-info").rsplit("-", 1)[0]) not in wanted:
                continue
            try:
                lines = (info / "entry_points.txt").read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            section = ""
            for line in (ln.strip() for ln in lines):
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif section == "console_scripts" and "=" in line:
                    found.add(line.split("=", 1)[0].strip())
    return sorted(found)

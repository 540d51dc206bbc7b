"""Finding a connector's program: on PATH, or beside the running interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["find_program", "which"]


def which(program: str) -> str | None:
    """A program on PATH, or else beside the running interpreter (the venv sluice is installed in)."""
    found = _on_path(program, os.environ.get("PATH", os.defpath)) or _on_path(program, str(Path(sys.executable).parent))
    # absolute: connectors run in the project directory, where a relative PATH entry means something else
    return os.path.abspath(found) if found else None


def find_program(executable: str, base: Path, where: str, problems: list[str]) -> str:
    """A connector's ``executable``: a path (relative to ``base``, the project directory) that must be
    an executable file, or a program found by :func:`which`; a problem is added to ``problems``."""
    if "/" in executable:
        path = Path(executable).expanduser()
        path = path if path.is_absolute() else base / path
        if not os.access(path, os.X_OK) or path.is_dir():
            problems.append(f"{where}: {path} is not an executable file")
        return str(path)
    found = which(executable)
    if not found:
        problems.append(f"{where}: program '{executable}' not found on PATH")
        return executable
    return found


def _on_path(program: str, path: str) -> str | None:
    """POSIX ``shutil.which`` (an executable file, not a directory), without importing shutil: a run's
    start-up reads this for each of its connectors."""
    dirs = path.split(os.pathsep)
    candidates = [program] if os.sep in program else [os.path.join(d or os.curdir, program) for d in dirs]
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return candidate
    return None

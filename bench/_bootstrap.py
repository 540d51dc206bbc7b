"""Imported first by run.py: make sure the harness runs in the project's venv, with our bytecode compiled.

Our connectors and the harness's own deps (orjson) live in the `.venv` at the
repository root. A bare `python bench/run.py` (another interpreter, perhaps with an older orjson)
re-runs itself there with the same arguments.

The checkout is installed editable, so its modules are compiled to bytecode on first import, and
never when ``PYTHONDONTWRITEBYTECODE`` is set: then every measured run of ours would compile its
source again (30-60 ms a process), which no installed package does (pip compiles at install time,
the peers' packages included). Our packages are compiled here once, as pip would.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PACKAGES = ("protocol", "taps", "targets", "runner")  # pyproject.toml's packages

if VENV.is_dir() and Path(sys.prefix).resolve() != VENV.resolve():
    os.execv(VENV / "bin" / "python", [str(VENV / "bin" / "python"), *sys.argv])

for _package in PACKAGES:
    compileall.compile_dir(ROOT / _package, quiet=1)

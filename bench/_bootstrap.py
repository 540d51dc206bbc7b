"""Imported first by run.py: make sure the harness runs in the project's venv.

Our connectors and the harness's own deps (orjson) live in the `.venv` at the
repository root. A bare `python bench/run.py` (another interpreter, perhaps with an older orjson)
re-runs itself there with the same arguments.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv"

if VENV.is_dir() and Path(sys.prefix).resolve() != VENV.resolve():
    os.execv(VENV / "bin" / "python", [str(VENV / "bin" / "python"), *sys.argv])

"""Virtual environments the tests build with ``uv`` for packages kept out of ours (a source's pins,
an older engine), cached under $SLUICE_TEST_CACHE (or ~/.cache/sluice-tests): built once per
machine and requirement set, a few seconds with uv's cache. Without uv or the package index the
tests that need one skip, except under CI=true, where they fail."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import service_unavailable

__all__ = ["CACHE", "cached_venv"]

CACHE = Path(os.environ.get("SLUICE_TEST_CACHE", Path.home() / ".cache" / "sluice-tests"))


def cached_venv(name: str, requirements: list[str], program: str) -> Path:
    """The path of ``program`` (under the venv's ``bin``) in the venv ``name`` holding ``requirements``
    (pip requirement strings or ``-e PATH``), built when missing."""
    key = hashlib.sha256(" ".join(requirements).encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-{key}"
    path = venv / "bin" / program
    if path.exists():
        return path
    uv = Path(sys.executable).parent / "uv"
    uv_exe = str(uv) if uv.exists() else shutil.which("uv")
    if uv_exe is None:
        service_unavailable("uv is not installed (pip install -e '.[dev]' installs it)")
    shutil.rmtree(venv, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    built = subprocess.run([str(uv_exe), "venv", "-q", "--python", sys.executable, str(venv)],
                           capture_output=True, text=True, check=False)
    if built.returncode == 0:
        args = [a for r in requirements for a in (r.split(" ", 1) if r.startswith("-e ") else [r])]
        built = subprocess.run([str(uv_exe), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *args],
                               capture_output=True, text=True, timeout=600, check=False)
    if built.returncode != 0 or not path.exists():
        shutil.rmtree(venv, ignore_errors=True)
        service_unavailable(f"cannot install {' '.join(requirements)} with uv (is the package index reachable?): "
                            f"{built.stderr.strip()[-500:]}")
    return path

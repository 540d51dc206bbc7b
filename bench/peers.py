"""The comparison table, and the virtual environments of the public connectors.

A comparison is ours against one public peer (or against goals alone). Adding one is a table
entry: a ``Venv`` (PyPI requirements, interpreters to try), a ``Program`` per side (console
script, config builder, output check) and its ``Goal``s. Each public connector gets its own
venv under bench/.venvs/<name>, made with ``python -m venv`` and pip, only when missing.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from datagen import Dataset

__all__ = [
    "COMPARISONS", "Comparison", "Goal", "InstallError", "Program", "Venv", "ensure_venv", "ours_bin",
    "venv_description",
]

BENCH = Path(__file__).resolve().parent
VENVS = BENCH / ".venvs"
INSTALLED = ".sluice-bench-installed"
FREEZE = ".sluice-bench-freeze"


class InstallError(RuntimeError):
    """A peer's venv could not be made; the message says what was tried."""


@dataclass(frozen=True)
class Venv:
    name: str
    requirements: tuple[str, ...]
    pythons: tuple[str, ...] = ("python3.11", "python3.12", "python3.10")  # tried in order
    note: str = ""  # install quirk, printed with the results


@dataclass(frozen=True)
class Program:
    label: str
    exe: str                                               # console-script name
    kind: Literal["target", "tap"]
    config: Callable[[Path, Dataset], dict[str, Any]]      # (output dir, dataset) -> config
    verify: Callable[[Path, Path, int], str]               # (output dir, stderr file, records) -> "" or problem
    venv: Venv | None = None                               # None: ours, from the project's venv


@dataclass(frozen=True)
class Goal:
    kind: Literal["peer", "floor", "rate", "rss"]
    threshold: float   # peer: x times the peer; floor: fraction of the orjson floor; rate: records/s; rss: max % change

    def text(self) -> str:
        if self.kind == "peer":
            return f">= {self.threshold:g}x peer"
        if self.kind == "floor":
            return f">= {self.threshold:.0%} orjson"
        if self.kind == "rate":
            return f">= {self.threshold:,.0f} rec/s"
        return f"RSS +<= {self.threshold:g}%"


@dataclass(frozen=True)
class Comparison:
    name: str
    ours: Program
    peer: Program | None
    goals: tuple[Goal, ...] = field(default_factory=tuple)


# -- output checks: a run that did not deliver every record does not count -----------------

def _count_lines(out: Path, pattern: str) -> tuple[int, int]:
    files = sorted(p for p in out.rglob(pattern) if p.is_file())
    lines = 0
    for path in files:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                lines += chunk.count(b"\n")
    return len(files), lines


def _lines_check(pattern: str, header: bool) -> Callable[[Path, Path, int], str]:
    def check(out: Path, _stderr: Path, records: int) -> str:
        files, lines = _count_lines(out, pattern)
        rows = lines - (files if header else 0)
        if rows != records:
            return f"wrote {rows} rows in {files} {pattern} file(s) under {out}, expected {records}"
        return ""
    return check


_METRIC_COUNT = re.compile(rb"METRIC: (\{.*\"record_count\".*\})")


def _metric_count_check(out: Path, stderr: Path, records: int) -> str:
    """A tap's stdout goes to /dev/null; its record_count METRIC lines say what it sent."""
    total = 0
    for match in _METRIC_COUNT.finditer(stderr.read_bytes()):
        point = orjson.loads(match.group(1))
        if point.get("type") == "counter":
            total += int(point.get("value", 0))
    return "" if total == records else f"reported {total} records in record_count METRICs, expected {records}"


# -- the public connectors --------------------------------------------------------------

TARGET_JSONL = Venv(
    "target-jsonl", ("target-jsonl==0.1.4",),
    note="its 2018-era pins (jsonschema 2.6.0, singer-python 5.8.0, simplejson 3.11.1) install on CPython 3.11: "
         "singer-python and simplejson build from sdists; it opens its output file once per record",
)
MELTANOLABS_TARGET_CSV = Venv("meltanolabs-target-csv", ("meltanolabs-target-csv",),
                              note="built on singer-sdk; default settings (validate_records on)")

# Later issues add entries here, e.g.
#   Venv("pipelinewise-target-postgres", ("pipelinewise-target-postgres",)),
#   Venv("meltanolabs-target-postgres", ("meltanolabs-target-postgres",)),
#   Venv("meltano", ("meltano",)), Venv("tap-rest-api-msdk", ("tap-rest-api-msdk",)).

_jsonl = _lines_check("*.jsonl", header=False)
_csv = _lines_check("*.csv", header=True)

COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "target-jsonl",
        ours=Program("sluice target-jsonl", "target-jsonl", "target",
                     lambda out, _ds: {"destination_path": str(out), "do_timestamp_file": False}, _jsonl),
        peer=Program("PyPI target-jsonl 0.1.4", "target-jsonl", "target",
                     lambda out, _ds: {"destination_path": str(out), "do_timestamp_file": False}, _jsonl,
                     venv=TARGET_JSONL),
        goals=(Goal("peer", 10), Goal("floor", 0.40), Goal("rss", 10)),
    ),
    Comparison(
        "target-csv",
        ours=Program("sluice target-csv", "target-csv", "target",
                     lambda out, _ds: {"output_path": str(out)}, _csv),
        peer=Program("meltanolabs-target-csv", "target-csv", "target",
                     lambda out, _ds: {"output_path": str(out)}, _csv, venv=MELTANOLABS_TARGET_CSV),
        goals=(Goal("peer", 10), Goal("rss", 10)),
    ),
    Comparison(
        "tap-csv",
        ours=Program("sluice tap-csv", "tap-csv", "tap",
                     lambda _out, ds: orjson.loads(ds.tap_csv_config.read_bytes()), _metric_count_check),
        peer=None,
        goals=(Goal("rate", 100_000),),
    ),
)


# -- executables -------------------------------------------------------------------------

def ours_bin() -> Path:
    """The project's venv bin directory (where our console scripts live)."""
    return Path(sys.executable).parent


def _interpreter(name: str) -> str | None:
    """An interpreter by name: on PATH (if it runs), else any pyenv install of that version."""
    candidates = [p for p in (shutil.which(name),) if p]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/*/bin/{name}")))
    for path in candidates:
        if subprocess.run([path, "--version"], capture_output=True, check=False).returncode == 0:
            return path
    return None


def ensure_venv(venv: Venv, log: Callable[[str], None]) -> Path:
    """The venv's bin directory, creating and installing it first if missing."""
    home = VENVS / venv.name
    marker = home / INSTALLED
    wanted = "\n".join(venv.requirements)
    if marker.exists() and marker.read_text().split("\n", 1)[-1] == wanted:
        return home / "bin"
    tried: list[str] = []
    for name in venv.pythons:
        python = _interpreter(name)
        if python is None:
            tried.append(f"{name}: not found")
            continue
        shutil.rmtree(home, ignore_errors=True)
        log(f"installing {' '.join(venv.requirements)} into {home} with {python}")
        made = subprocess.run([python, "-m", "venv", str(home)], capture_output=True, text=True, check=False)
        pip = [str(home / "bin" / "python"), "-m", "pip", "install", "-q", *venv.requirements]
        done = made if made.returncode else subprocess.run(pip, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            version = subprocess.run([str(home / "bin" / "python"), "--version"], capture_output=True, text=True,
                                     check=False).stdout.strip()
            freeze = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True,
                                    text=True, check=False).stdout
            (home / FREEZE).write_text(freeze)
            marker.write_text(f"{version}\n{wanted}")
            return home / "bin"
        errors = [ln for ln in done.stderr.splitlines() if "is ignored" not in ln]
        tried.append(f"{name}: " + " | ".join(errors[-3:]))
    shutil.rmtree(home, ignore_errors=True)
    raise InstallError(f"{venv.name} did not install: " + "; ".join(tried))


def venv_description(venv: Venv) -> str:
    """'Python 3.11.7, target-jsonl==0.1.4': the interpreter and the installed requirement versions."""
    home = VENVS / venv.name
    marker, freeze = home / INSTALLED, home / FREEZE
    python = marker.read_text().split("\n", 1)[0] if marker.exists() else "?"
    names = {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in venv.requirements}
    pins = [ln for ln in (freeze.read_text().splitlines() if freeze.exists() else [])
            if ln.split("==", 1)[0].lower().replace("_", "-") in names]
    return ", ".join([python, *pins])

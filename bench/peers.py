"""The comparison table, and the virtual environments of the public connectors.

A comparison is ours against one public peer (and perhaps more sides, or goals alone). Adding one
is a table entry: a ``Venv`` (PyPI requirements, interpreters to try), a ``Program`` per side
(console script, config builder, output check) and its ``Goal``s; the types are in model.py, and
the tables of later issues in cmp_*.py. Each public connector gets its own
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
from pathlib import Path

import orjson
from checks import lines_check, metric_count_check
from cmp_airbyte import AIRBYTE_COMPARISONS
from cmp_duckdb import DUCKDB_COMPARISONS
from cmp_gitlab import GITLAB_COMPARISONS
from cmp_http import HTTP_COMPARISONS
from cmp_hubspot import HUBSPOT_COMPARISONS
from cmp_jira import JIRA_COMPARISONS
from cmp_linear import LINEAR_COMPARISONS
from cmp_maps import MAPS_COMPARISONS
from cmp_maps_connectors import CONNECTOR_MAPS_COMPARISONS
from cmp_parquet import PARQUET_COMPARISONS
from cmp_runner import RUNNER_COMPARISONS
from cmp_slack import SLACK_COMPARISONS
from cmp_sql import SQL_COMPARISONS
from cmp_stripe import STRIPE_COMPARISONS
from cmp_taps_pg import TAP_PG_COMPARISONS
from model import Comparison, Goal, Program, Venv

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


# -- the public connectors --------------------------------------------------------------

TARGET_JSONL = Venv(
    "target-jsonl", ("target-jsonl==0.1.4",),
    note="its 2018-era pins (jsonschema 2.6.0, singer-python 5.8.0, simplejson 3.11.1) install on CPython 3.11: "
         "singer-python and simplejson build from sdists; it opens its output file once per record",
)
MELTANOLABS_TARGET_CSV = Venv("meltanolabs-target-csv", ("meltanolabs-target-csv",),
                              note="built on singer-sdk; default settings (validate_records on)")

_jsonl = lines_check("*.jsonl", header=False)
_csv = lines_check("*.csv", header=True)

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
                     lambda _out, ds: orjson.loads(ds.tap_csv_config.read_bytes()), metric_count_check),
        peer=None,
        goals=(Goal("rate", 100_000),),
    ),
    *RUNNER_COMPARISONS,   # issue 3: the runner
    *SQL_COMPARISONS,      # issue 4: target-postgres, target-sqlite
    *TAP_PG_COMPARISONS,   # issue 5: tap-postgres
    *HTTP_COMPARISONS,     # issue 6: tap-rest, tap-github against a loopback API
    *JIRA_COMPARISONS,     # issue 17: tap-jira against a loopback Jira
    *MAPS_COMPARISONS,     # issue 14: mapper-sluice against singer-sdk's stream-map engine
    *CONNECTOR_MAPS_COMPARISONS,  # issue 14: a connector with maps / without maps
    *SLACK_COMPARISONS,    # issue 17: tap-slack against a loopback Slack Web API
    *STRIPE_COMPARISONS,   # issue 17: tap-stripe against a loopback Stripe API
    *PARQUET_COMPARISONS,  # issue 16: target-parquet against pyarrow by itself
    *GITLAB_COMPARISONS,   # issue 17: tap-gitlab against a GitLab-shaped loopback API
    *LINEAR_COMPARISONS,   # issue 17: tap-linear against a loopback Linear GraphQL API
    *HUBSPOT_COMPARISONS,  # issue 17: tap-hubspot against a loopback HubSpot CRM v3 API
    *AIRBYTE_COMPARISONS,  # issue 16: tap-airbyte against the Airbyte source by itself
    *DUCKDB_COMPARISONS,   # issue 16: target-duckdb
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

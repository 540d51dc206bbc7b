"""Issue 17: tap-jira against the loopback Jira (``tests/integration/saas/jira_server.py``).

The server runs as a subprocess (``python -m tests.integration.saas.jira_server --issues N``), started
in the comparison's setup and stopped after it; no rate limiting. Our tap syncs the ``issues`` stream
alone (a catalog from its ``--discover`` with every other stream deselected): the token-paged JQL
search, 100 issues a page (Jira's usual page size with every field), ``fields`` ``*all``. N is capped
at ``JIRA_CAP`` (the server holds every issue in memory). A run counts when its ``record_count``
METRIC lines add up to N.

No peer: PyPI ``tap-jira`` (singer-io) rewrites its ``base_url`` to ``https://`` whatever it is given,
so it cannot be pointed at a plain-HTTP loopback server; the goal is the rate alone.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from model import Comparison, Goal, Program

__all__ = ["JIRA_CAP", "JIRA_COMPARISONS"]

JIRA_CAP = 100_000
ROOT = Path(__file__).resolve().parent.parent
CATALOG = DATA_DIR / "catalogs" / "sluice-tap-jira.json"
LOG = DATA_DIR / "jira-server.log"
START_SECONDS = 120.0


class _Server:
    proc: subprocess.Popen[bytes] | None = None
    size = -1
    url = ""
    email = ""
    token = ""
    marked = 0.0


def _ensure(issues: int) -> None:
    """A running loopback Jira holding ``issues`` issues (a different size restarts it)."""
    if _Server.proc is not None and _Server.size == issues and _Server.proc.poll() is None:
        return
    _stop()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tests.integration.saas.jira_server", "--issues", str(issues)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_SECONDS)
    line = proc.stdout.readline().decode("utf-8", "replace").split() if ready else []
    if len(line) != 3 or not line[0].startswith("http://127.0.0.1:"):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"loopback Jira did not start: {LOG.read_text(errors='replace')[-300:]}")
    _Server.proc, _Server.size = proc, issues
    _Server.url, _Server.email, _Server.token = line


def _stop() -> None:
    proc, _Server.proc = _Server.proc, None
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


atexit.register(_stop)


def _cpu() -> float:
    if _Server.proc is None:
        return 0.0
    fields = Path(f"/proc/{_Server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mark(_ds: object = None) -> None:
    _Server.marked = _cpu()


def _busy() -> str:
    return f"server CPU {_cpu() - _Server.marked:.2f} s"


def _config() -> dict[str, Any]:
    return {"domain": _Server.url, "email": _Server.email, "api_token": _Server.token, "time_zone": "Europe/Berlin",
            "page_size": {"issues": 100}}


def _setup(bin_dir: Path, ds: Dataset) -> None:
    """Start the server with N issues; discover once and keep a catalog with ``issues`` alone selected."""
    _ensure(ds.records)
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    conf = CATALOG.with_suffix(".config.json")
    conf.write_bytes(orjson.dumps(_config()))
    done = subprocess.run([str(bin_dir / "tap-jira"), "--config", str(conf), "--discover"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tap-jira --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "issues"
    CATALOG.write_bytes(orjson.dumps(catalog))


def _argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "config.json"
    conf.write_bytes(orjson.dumps(_config()))
    return [str(bin_dir / "tap-jira"), "--config", str(conf), "--catalog", str(CATALOG)]


JIRA_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-jira",
        ours=Program("sluice tap-jira (issues)", "tap-jira", "command", None, metric_count_check, argv=_argv,
                     setup=_setup, prepare=_mark, note=_busy),
        peer=None,
        goals=(Goal("rate", 20_000),),
        records=lambda n: min(n, JIRA_CAP),
        teardown=_stop,
    ),
)

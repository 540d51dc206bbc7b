"""Issue 17: tap-gitlab against the GitLab-shaped loopback API (``bench/GITLAB_SERVER.py`` runs
``tests/integration/saas/gitlab_server.py``), no rate limit; N capped at ``GITLAB_CAP`` (the server
holds every issue in memory).

- ours: tap-gitlab, the ``issues`` stream of project ``acme/web`` alone (a catalog from its
  ``--discover`` with every other stream deselected), ``per_page`` 100 (GitLab's maximum);
  counted by its ``record_count`` METRIC lines.
- peer: PyPI ``tap-gitlab`` 0.5.1 (singer-io; the last release with ``api_url``: 1.0.x always
  calls gitlab.com), ``projects: acme/web``. It has no stream selection: it reads the project, its
  branches, commits, issues, milestones and users (all empty but the issues), and pages with
  GitLab's default 20 per page (it sends no ``per_page``). Its stdout goes to a file; it counts
  when that holds N issue RECORDs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from loopback import Loopback
from model import Comparison, Goal, Program, Venv

__all__ = ["GITLAB_CAP", "GITLAB_COMPARISONS", "TAP_GITLAB_PEER"]

GITLAB_SERVER = Loopback("GitLab", "tests.integration.saas.gitlab_server", "--issues")

GITLAB_CAP = 50_000
PROJECT = "acme/web"
CATALOG = DATA_DIR / "catalogs" / "sluice-tap-gitlab.json"
PEER_OUT = "tap.singer"

TAP_GITLAB_PEER = Venv(
    "tap-gitlab-0.5.1", ("tap-gitlab==0.5.1", "pytz"),
    note="singer-io tap-gitlab 0.5.1 (singer-python 5.0.4, requests); pytz added: singer-python imports it "
         "without requiring it",
)

SERVER_CPU: dict[str, Any] = {"prepare": GITLAB_SERVER.mark, "note": GITLAB_SERVER.busy_note}


def _cap(n: int) -> int:
    return min(n, GITLAB_CAP)


def _ours_config() -> dict[str, Any]:
    return {"projects": PROJECT, "private_token": GITLAB_SERVER.token(), "api_url": GITLAB_SERVER.url(),
            "per_page": 100}


def _ours_setup(bin_dir: Path, ds: Dataset) -> None:
    """Start the server with N issues; discover once and keep a catalog with ``issues`` alone selected."""
    GITLAB_SERVER.ensure(ds.records)
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    conf = CATALOG.with_suffix(".config.json")
    conf.write_bytes(orjson.dumps(_ours_config()))
    done = subprocess.run([str(bin_dir / "tap-gitlab"), "--config", str(conf), "--discover"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tap-gitlab --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "issues"
    CATALOG.write_bytes(orjson.dumps(catalog))


def _ours_argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "config.json"
    conf.write_bytes(orjson.dumps(_ours_config()))
    return [str(bin_dir / "tap-gitlab"), "--config", str(conf), "--catalog", str(CATALOG)]


def _peer_setup(_bin: Path, ds: Dataset) -> None:
    GITLAB_SERVER.ensure(ds.records)


def _peer_argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "peer-config.json"
    conf.write_bytes(orjson.dumps({"api_url": f"{GITLAB_SERVER.url()}/api/v4", "private_token": GITLAB_SERVER.token(),
                                   "projects": PROJECT, "start_date": "2000-01-01T00:00:00Z"}))
    return ["sh", "-c", 'exec "$0" --config "$1" > "$2"', str(bin_dir / "tap-gitlab"), str(conf),
            str(out / PEER_OUT)]


def _peer_check(out: Path, _stderr: Path, ds: Dataset) -> str:
    marker = b'{"type": "RECORD", "stream": "issues"'
    with (out / PEER_OUT).open("rb") as fh:
        count = sum(1 for line in fh if line.startswith(marker))
    return "" if count == ds.records else f"wrote {count} issue RECORDs, expected {ds.records}"


GITLAB_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-gitlab",
        ours=Program("sluice tap-gitlab (issues)", "tap-gitlab", "command", None, metric_count_check,
                     argv=_ours_argv, setup=_ours_setup, **SERVER_CPU),
        peer=Program("PyPI tap-gitlab 0.5.1", "tap-gitlab", "command", None, _peer_check, venv=TAP_GITLAB_PEER,
                     argv=_peer_argv, setup=_peer_setup, **SERVER_CPU),
        goals=(Goal("rate", 20_000), Goal("peer", 5)),
        records=_cap,
        teardown=GITLAB_SERVER.stop,
    ),
)

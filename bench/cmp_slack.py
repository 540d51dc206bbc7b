"""Issue 17: tap-slack against the loopback Slack Web API (``tests/integration/saas/slack_server.py``).

The server runs as a subprocess (``loopback.Loopback``), started in the comparison's setup with N
messages in one channel and stopped after it; no rate limit. Ours reads the ``messages`` stream
only (a catalog from its ``--discover`` with every other stream deselected), ``limit`` 200 (the
page size Slack advises), cursor paging. The run counts when its ``record_count`` METRIC lines
add up to N. N is capped at ``SLACK_CAP`` (the server holds every message in memory).

No peer: the PyPI tap-slack (singer-io's, also packaged as pipelinewise-tap-slack) builds
slack_sdk's WebClient without a base URL, so it always calls Slack's own host and cannot be
pointed at a loopback server; MeltanoLabs tap-slack (Meltano Hub's default) is not on the
package index. The goal is the rate alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from loopback import Loopback
from model import Comparison, Goal, Program

__all__ = ["SLACK_CAP", "SLACK_COMPARISONS"]

SLACK_SERVER = Loopback("Slack", "tests.integration.saas.slack_server", "--messages")

SLACK_CAP = 100_000
LIMIT = 200
CATALOG = DATA_DIR / "catalogs" / "sluice-tap-slack.json"
SERVER_CPU: dict[str, Any] = {"prepare": SLACK_SERVER.mark, "note": SLACK_SERVER.busy_note}


def _cap(n: int) -> int:
    return min(n, SLACK_CAP)


def _config() -> dict[str, Any]:
    return {"api_key": SLACK_SERVER.token(), "api_url": SLACK_SERVER.url(), "limit": LIMIT}


def _setup(bin_dir: Path, ds: Dataset) -> None:
    """Start the server with N messages; discover once and keep a catalog with ``messages`` alone selected."""
    SLACK_SERVER.ensure(ds.records)
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    conf = CATALOG.with_suffix(".config.json")
    conf.write_bytes(orjson.dumps(_config()))
    done = subprocess.run([str(bin_dir / "tap-slack"), "--config", str(conf), "--discover"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tap-slack --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "messages"
    CATALOG.write_bytes(orjson.dumps(catalog))


def _argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "config.json"
    conf.write_bytes(orjson.dumps(_config()))
    return [str(bin_dir / "tap-slack"), "--config", str(conf), "--catalog", str(CATALOG)]


SLACK_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-slack",
        ours=Program("sluice tap-slack (messages)", "tap-slack", "command", None, metric_count_check,
                     argv=_argv, setup=_setup, **SERVER_CPU),
        peer=None,
        goals=(Goal("rate", 20_000),),
        records=_cap,
        teardown=SLACK_SERVER.stop,
    ),
)

"""Issue 17: tap-hubspot against the loopback HubSpot CRM v3 API (``tests/integration/saas/hubspot_server.py``).

The server runs as a subprocess (``loopback.Loopback``), started in the comparison's setup with N
contacts and stopped after it; no rate limit. Ours reads the ``contacts`` stream only (a catalog
from its ``--discover`` with every other stream deselected): no bookmark, so the listing
``GET /crm/v3/objects/contacts``, 100 a page (HubSpot's maximum), ``paging.next.after``, every
property typed from the properties API. The run counts when its ``record_count`` METRIC lines add
up to N. N is capped at ``HUBSPOT_CAP`` (the server holds every contact in memory).

No peer: the PyPI tap-hubspot (singer-io's; tap-hubspot-spacecowboy is a fork of it) has its API
host as a module constant, with no setting to change it, and reads the legacy v1/v2 endpoints, not
CRM v3; MeltanoLabs tap-hubspot (Meltano Hub's default) is not on the package index. The goal is
the rate alone.
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

__all__ = ["HUBSPOT_CAP", "HUBSPOT_COMPARISONS"]

HUBSPOT_SERVER = Loopback("HubSpot", "tests.integration.saas.hubspot_server", "--contacts")

HUBSPOT_CAP = 100_000
LIMIT = 100
CATALOG = DATA_DIR / "catalogs" / "sluice-tap-hubspot.json"
SERVER_CPU: dict[str, Any] = {"prepare": HUBSPOT_SERVER.mark, "note": HUBSPOT_SERVER.busy_note}


def _cap(n: int) -> int:
    return min(n, HUBSPOT_CAP)


def _config() -> dict[str, Any]:
    return {"access_token": HUBSPOT_SERVER.token(), "api_url": HUBSPOT_SERVER.url(), "limit": LIMIT}


def _setup(bin_dir: Path, ds: Dataset) -> None:
    """Start the server with N contacts; discover once and keep a catalog with ``contacts`` alone selected."""
    HUBSPOT_SERVER.ensure(ds.records)
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    conf = CATALOG.with_suffix(".config.json")
    conf.write_bytes(orjson.dumps(_config()))
    done = subprocess.run([str(bin_dir / "tap-hubspot"), "--config", str(conf), "--discover"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tap-hubspot --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "contacts"
    CATALOG.write_bytes(orjson.dumps(catalog))


def _argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "config.json"
    conf.write_bytes(orjson.dumps(_config()))
    return [str(bin_dir / "tap-hubspot"), "--config", str(conf), "--catalog", str(CATALOG)]


HUBSPOT_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-hubspot",
        ours=Program("sluice tap-hubspot (contacts)", "tap-hubspot", "command", None, metric_count_check,
                     argv=_argv, setup=_setup, **SERVER_CPU),
        peer=None,
        goals=(Goal("rate", 20_000),),
        records=_cap,
        teardown=HUBSPOT_SERVER.stop,
    ),
)

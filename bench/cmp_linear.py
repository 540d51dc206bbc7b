"""Issue 17: tap-linear against the loopback Linear GraphQL API (``tests/integration/saas/linear_server.py``).

The server runs as a subprocess (``loopback.Loopback``), holding N issues (capped at ``LINEAR_CAP``), no
rate limit; each side counts when its ``record_count`` METRIC lines add up to N.

- ``tap-linear``: our tap-linear, the ``issues`` stream alone with every field, 50 a page (Linear's
  default ``first``). Goal: 20,000 records/s.
- ``tap-linear-pypi``: the PyPI ``tap-linear`` 0.1.1 (singer-sdk 0.4, Python < 3.11: its own
  python3.10 venv), whose one stream ``Issues`` asks for 8 fields, 100 a page; against ours with the
  same 8 fields selected and ``page_size`` 100. Goal: 5x.

The server keeps each record's answer once encoded for a query text (the tap's queries differ only in
their ``after`` variable), and each comparison starts it afresh: a first run found it cold, and spent
its time on the server's own encoding (server CPU 4-5 s per 100,000 issues against 0.5 s warm, the
tap's rate half what it was in later rounds). Each program's setup therefore reads the stream once,
untimed, so that every timed run, ours and the peer's, meets a warm server (its CPU is still measured
and shown).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from loopback import Loopback
from model import Comparison, Goal, Program, Venv

__all__ = ["LINEAR_CAP", "LINEAR_COMPARISONS"]

LINEAR_SERVER = Loopback("Linear", "tests.integration.saas.linear_server", "--issues")

LINEAR_CAP = 100_000
PEER_FIELDS = {"id", "title", "url", "updatedAt", "creator", "assignee", "project", "team"}
SERVER_CPU: dict[str, Any] = {"prepare": LINEAR_SERVER.mark, "note": LINEAR_SERVER.busy_note}

PYPI_TAP_LINEAR = Venv("tap-linear", ("tap-linear==0.1.1",), pythons=("python3.10",),
                       note="singer-sdk 0.4; requires Python < 3.11; api_url points it at the loopback server")


def _cap(n: int) -> int:
    return min(n, LINEAR_CAP)


def _warm(argv: list[str]) -> None:
    """One untimed run of a tap against the server (see the module doc): its answers encoded once."""
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the warm-up run failed: {done.stderr.decode(errors='replace')[-300:]}")


def _setup(bin_dir: Path, ds: Dataset) -> None:
    """The peer's: the server, and one untimed run of the peer (its own query text) against it."""
    LINEAR_SERVER.ensure(ds.records)
    config = DATA_DIR / "catalogs" / "pypi-tap-linear.config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_bytes(orjson.dumps(_peer_config(config.parent, ds)))
    _warm([str(bin_dir / "tap-linear"), "--config", str(config)])


def _ours(label: str, page_size: int, fields: set[str] | None) -> Program:
    """Our tap on the ``issues`` stream alone (only ``fields``, when given): a catalog from its ``--discover``."""
    catalog = DATA_DIR / "catalogs" / f"sluice-tap-linear-{page_size}.json"

    def config(out: Path) -> Path:
        conf = out / f"linear-{page_size}.config.json"
        conf.write_bytes(orjson.dumps({"auth_token": LINEAR_SERVER.token(), "api_url": LINEAR_SERVER.url(),
                                       "page_size": page_size}))
        return conf

    def setup(bin_dir: Path, ds: Dataset) -> None:
        LINEAR_SERVER.ensure(ds.records)
        catalog.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([str(bin_dir / "tap-linear"), "--config", str(config(catalog.parent)), "--discover"],
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tap-linear --discover failed: {done.stderr.decode(errors='replace')[-300:]}")
        discovered = orjson.loads(done.stdout)
        streams = [s for s in discovered["streams"] if s["tap_stream_id"] == "issues"]
        for entry in streams[0]["metadata"]:
            crumb = entry["breadcrumb"]
            entry["metadata"]["selected"] = not crumb or fields is None or crumb[-1] in fields
        catalog.write_bytes(orjson.dumps({"streams": streams}))
        _warm([str(bin_dir / "tap-linear"), "--config", str(config(catalog.parent)), "--catalog", str(catalog)])

    def argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
        return [str(bin_dir / "tap-linear"), "--config", str(config(out.parent)), "--catalog", str(catalog)]

    return Program(label, "tap-linear", "command", None, metric_count_check, argv=argv, setup=setup, **SERVER_CPU)


_SDK04_COUNT = re.compile(rb"'metric': 'record_count', 'value': (\d+)")


def _sdk04_count_check(_out: Path, stderr: Path, ds: Dataset) -> str:
    """singer-sdk 0.4 logs its METRIC points as Python dicts (single quotes), not JSON."""
    total = sum(int(m.group(1)) for m in _SDK04_COUNT.finditer(stderr.read_bytes()))
    return "" if total == ds.records else f"reported {total} records in record_count METRICs, expected {ds.records}"


def _peer_config(_out: Path, _ds: Dataset) -> dict[str, Any]:
    return {"auth_token": LINEAR_SERVER.token(), "api_url": LINEAR_SERVER.url()}


LINEAR_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-linear",
        ours=_ours("sluice tap-linear (issues, all fields, 50 a page)", 50, None),
        peer=None,
        goals=(Goal("rate", 20_000),),
        records=_cap,
        teardown=LINEAR_SERVER.stop,
    ),
    Comparison(
        "tap-linear-pypi",
        ours=_ours("sluice tap-linear (issues, the peer's 8 fields, 100 a page)", 100, PEER_FIELDS),
        peer=Program("PyPI tap-linear 0.1.1", "tap-linear", "tap", _peer_config, _sdk04_count_check,
                     venv=PYPI_TAP_LINEAR, setup=_setup, **SERVER_CPU),
        goals=(Goal("peer", 5),),
        records=_cap,
        teardown=LINEAR_SERVER.stop,
    ),
)

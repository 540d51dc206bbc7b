"""Issue 17: tap-stripe against the loopback Stripe-shaped API (``tests/integration/saas/stripe_server.py``).

The server runs as a subprocess (``loopback.Loopback``), started in the comparison's setup with N
customers (created two a second from a day ago), stopped after the comparison; no rate limit.
Both taps read the ``customers`` stream alone (a catalog from each one's ``--discover`` with the
rest deselected), 100 a page (Stripe's largest and both taps' page size), from a ``start_date``
two days back. Each side's run counts when its ``record_count`` METRIC lines add up to N.

- ours: ``tap-stripe``; its first run reads no events (the listing is current).
- peer: PyPI ``tap-stripe`` 3.3.0 (singer-io, Meltano Hub's default variant) through
  ``bench/tools/stripe_peer.py`` (the stripe library's ``api_base`` and an HTTP proxy: the tap has
  no base-URL setting); it also reads the (empty) customer events, one request per day since
  ``start_date``, and retrieves the account first.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from loopback import Loopback
from model import Comparison, Goal, Program, Venv

__all__ = ["STRIPE_CAP", "STRIPE_COMPARISONS", "TAP_STRIPE_SINGER_IO"]

STRIPE_SERVER = Loopback("Stripe", "tests.integration.saas.stripe_server", "--customers")

STRIPE_CAP = 50_000
ACCOUNT = "acct_1032D82eZvKYlo2C"
PEER_TOOL = Path(__file__).resolve().parent / "tools" / "stripe_peer.py"
CATALOGS = DATA_DIR / "catalogs"

TAP_STRIPE_SINGER_IO = Venv(
    "tap-stripe", ("tap-stripe==3.3.0",),
    note="singer-io tap-stripe (Meltano Hub's default variant) on the stripe library; pointed at the loopback "
         "server by stripe.api_base=http://api.stripe.com and HTTP_PROXY (bench/tools/stripe_peer.py)",
)

SERVER_CPU: dict[str, Any] = {"prepare": STRIPE_SERVER.mark, "note": STRIPE_SERVER.busy_note}


def _cap(n: int) -> int:
    return min(n, STRIPE_CAP)


def _config() -> dict[str, Any]:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 86400))
    return {"client_secret": STRIPE_SERVER.token(), "account_id": ACCOUNT, "start_date": start,
            "api_url": STRIPE_SERVER.url(), "bench_proxy": STRIPE_SERVER.url()}


def _ours_config() -> dict[str, Any]:
    return {k: v for k, v in _config().items() if k != "bench_proxy"}


def _catalog(name: str, argv: list[str], config: dict[str, Any]) -> Path:
    """Discover once; keep a catalog with ``customers`` alone selected."""
    CATALOGS.mkdir(parents=True, exist_ok=True)
    conf = CATALOGS / f"{name}.config.json"
    conf.write_bytes(orjson.dumps(config))
    done = subprocess.run([*argv, "--config", str(conf), "--discover"], capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "customers"
    path = CATALOGS / f"{name}.json"
    path.write_bytes(orjson.dumps(catalog))
    return path


def _ours_setup(bin_dir: Path, ds: Dataset) -> None:
    STRIPE_SERVER.ensure(_cap(ds.records))
    _catalog("sluice-tap-stripe", [str(bin_dir / "tap-stripe")], _ours_config())


def _peer_setup(bin_dir: Path, ds: Dataset) -> None:
    STRIPE_SERVER.ensure(_cap(ds.records))
    _catalog("singer-io-tap-stripe", [str(bin_dir / "python"), str(PEER_TOOL)], _config())


def _ours_argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "stripe-config.json"
    conf.write_bytes(orjson.dumps(_ours_config()))
    return [str(bin_dir / "tap-stripe"), "--config", str(conf), "--catalog", str(CATALOGS / "sluice-tap-stripe.json")]


def _peer_argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "stripe-peer-config.json"
    conf.write_bytes(orjson.dumps(_config()))
    return [str(bin_dir / "python"), str(PEER_TOOL), "--config", str(conf),
            "--catalog", str(CATALOGS / "singer-io-tap-stripe.json")]


STRIPE_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-stripe",
        ours=Program("sluice tap-stripe (customers)", "tap-stripe", "command", None, metric_count_check,
                     argv=_ours_argv, setup=_ours_setup, **SERVER_CPU),
        peer=Program("tap-stripe 3.3.0 (singer-io)", "python", "command", None, metric_count_check,
                     venv=TAP_STRIPE_SINGER_IO, argv=_peer_argv, setup=_peer_setup, **SERVER_CPU),
        goals=(Goal("rate", 20_000), Goal("peer", 5)),
        records=_cap,
        teardown=STRIPE_SERVER.stop,
    ),
)

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it through bench/run.py --only tap-stripe")

"""Issue 6: the HTTP taps against the loopback fake API (``tests/integration/http/servers.py``).

The server runs as a subprocess, started in the comparison's setup with the records it serves
(``httpbench``) and stopped after the comparison; no rate limit. N is capped at ``HTTP_CAP``
(the server holds every record in memory and pages it in pure Python). Each side's run counts
when its ``record_count`` METRIC lines add up to N.

- ``tap-rest``: our tap-rest vs ``tap-rest-api-msdk`` (singer-sdk), one stream ``items`` from
  ``/api/offset`` (``{"data": [...], "total": N}``), offset paging, 100 records a page, the schema
  inferred from the first 50 records (both taps' default).
- ``tap-github``: our tap-github, the ``issues`` stream of ``octo/hello`` only (a catalog from its
  ``--discover`` with every other stream deselected), ``per_page`` 100, Link paging.
- Both: the floor ``bench/tools/http_floor.py``, a bare ``requests`` loop over the same pages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpbench
import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from model import Comparison, Goal, Program, Venv

__all__ = ["HTTP_CAP", "HTTP_COMPARISONS", "TAP_REST_API_MSDK"]

HTTP_CAP = 100_000
PAGE = 100
REPO = "octo/hello"
FLOOR = Path(__file__).resolve().parent / "tools" / "http_floor.py"
GITHUB_CATALOG = DATA_DIR / "catalogs" / "sluice-tap-github.json"

TAP_REST_API_MSDK = Venv(
    "tap-rest-api-msdk", ("tap-rest-api-msdk==1.4.2",),
    note="singer-sdk 0.40; offset paging: pagination_request_style simple_offset_paginator, "
         "pagination_response_style offset, pagination_initial_offset 0, offset_records_jsonpath $.data "
         "(its Link-header paging sends a broken page value against this server)",
)


SERVER_CPU: dict[str, Any] = {"prepare": httpbench.mark, "note": httpbench.busy_note}


def _cap(n: int) -> int:
    return min(n, HTTP_CAP)


def _items_server(_bin: Path, ds: Dataset) -> None:
    httpbench.ensure(items=ds.records)


def _rest_config(_out: Path, _ds: Dataset) -> dict[str, Any]:
    return {"api_url": f"{httpbench.url()}/api",
            "streams": [{"name": "items", "path": "/offset", "records_path": "$.data[*]", "primary_keys": ["id"],
                         "pagination": {"style": "offset", "page_size": PAGE}}]}


def _msdk_config(_out: Path, _ds: Dataset) -> dict[str, Any]:
    return {"api_url": f"{httpbench.url()}/api",
            "pagination_request_style": "simple_offset_paginator", "pagination_response_style": "offset",
            "pagination_page_size": PAGE, "pagination_initial_offset": 0, "offset_records_jsonpath": "$.data",
            "streams": [{"name": "items", "path": "/offset", "records_path": "$.data[*]", "primary_keys": ["id"]}]}


def _github_config() -> dict[str, Any]:
    return {"repositories": [REPO], "auth_token": httpbench.token(), "api_url": httpbench.url(), "per_page": PAGE}


def _github_setup(bin_dir: Path, ds: Dataset) -> None:
    """Start the server with N issues; discover once and keep a catalog with ``issues`` alone selected."""
    httpbench.ensure(issues=ds.records)
    GITHUB_CATALOG.parent.mkdir(parents=True, exist_ok=True)
    conf = GITHUB_CATALOG.with_suffix(".config.json")
    conf.write_bytes(orjson.dumps(_github_config()))
    done = subprocess.run([str(bin_dir / "tap-github"), "--config", str(conf), "--discover"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tap-github --discover failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    catalog = orjson.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "issues"
    GITHUB_CATALOG.write_bytes(orjson.dumps(catalog))


def _github_argv(bin_dir: Path, out: Path, _ds: Dataset) -> list[str]:
    conf = out.parent / "config.json"
    conf.write_bytes(orjson.dumps(_github_config()))
    return [str(bin_dir / "tap-github"), "--config", str(conf), "--catalog", str(GITHUB_CATALOG)]


def _floor(style: str) -> Program:
    """``python bench/tools/http_floor.py`` over the pages the taps read (the server's ceiling)."""
    def argv(_bin: Path, _out: Path, _ds: Dataset) -> list[str]:
        if style == "offset":
            args = ["offset", f"{httpbench.url()}/api/offset", str(PAGE), "data"]
        else:
            args = ["link", f"{httpbench.url()}/repos/{REPO}/issues", str(PAGE), httpbench.token()]
        return [sys.executable, str(FLOOR), *args]
    return Program(f"floor: requests loop, {style} pages of {PAGE}", sys.executable, "command", None,
                   metric_count_check, argv=argv, **SERVER_CPU)


HTTP_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-rest",
        ours=Program("sluice tap-rest", "tap-rest", "tap", _rest_config, metric_count_check, setup=_items_server,
                     **SERVER_CPU),
        peer=Program("tap-rest-api-msdk 1.4.2", "tap-rest-api-msdk", "tap", _msdk_config, metric_count_check,
                     venv=TAP_REST_API_MSDK, setup=_items_server, **SERVER_CPU),
        others=(_floor("offset"),),
        goals=(Goal("peer", 5),),
        records=_cap,
        teardown=httpbench.stop,
    ),
    Comparison(
        "tap-github",
        ours=Program("sluice tap-github (issues)", "tap-github", "command", None, metric_count_check,
                     argv=_github_argv, setup=_github_setup, **SERVER_CPU),
        peer=None,
        others=(_floor("link"),),
        goals=(Goal("rate", 20_000),),
        records=_cap,
        teardown=httpbench.stop,
    ),
)

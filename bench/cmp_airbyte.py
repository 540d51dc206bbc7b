"""Issue 16: what tap-airbyte adds to an Airbyte source's own run time.

The source is the real ``source-faker`` (airbyte-source-faker, in bench/.venvs/ like every peer),
its ``users`` stream only, full refresh, ``count`` N users (N capped at ``AIRBYTE_CAP``: faker
makes some 15,000 users a second plus ~2 s of start-up, so a run takes a few seconds), seed 1,
``parallelism`` 1 (one core for the source, the other for whoever reads it).

- "the source by itself": ``bench/tools/airbyte_source.py`` runs ``source-faker read`` with the
  same config and catalog, its output read and counted, nothing translated;
- ours: ``tap-airbyte`` running the same source program, its Singer output to /dev/null, counted by
  its record_count METRIC lines.

Goal: at most 20% more wall time than the source by itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from checks import metric_count_check
from datagen import DATA_DIR, Dataset
from model import Comparison, Goal, Program, Venv

__all__ = ["AIRBYTE_CAP", "AIRBYTE_COMPARISONS", "SOURCE_FAKER"]

AIRBYTE_CAP = 50_000
FLOOR = Path(__file__).resolve().parent / "tools" / "airbyte_source.py"
FILES = DATA_DIR / "airbyte"
SOURCE_ALONE = "the source by itself (source-faker read)"

SOURCE_FAKER = Venv("airbyte-source-faker", ("airbyte-source-faker==7.2.1",),
                    note="the Airbyte CDK and its pins (numpy < 2, pydantic) in a venv of their own")


def _cap(n: int) -> int:
    return min(n, AIRBYTE_CAP)


def _write_files(bin_dir: Path, ds: Dataset) -> None:
    """The faker config, its configured catalog (users, full refresh) and tap-airbyte's config and
    Singer catalog (the same stream, FULL_TABLE), from one ``source-faker discover``."""
    FILES.mkdir(parents=True, exist_ok=True)
    source = str(bin_dir / "source-faker")
    config = {"count": ds.records, "seed": 1, "records_per_slice": 1000, "always_updated": False, "parallelism": 1}
    (FILES / "faker.json").write_bytes(orjson.dumps(config))
    found = subprocess.run([source, "discover", "--config", str(FILES / "faker.json")], capture_output=True,
                           check=True, timeout=300)
    catalog = next(orjson.loads(line)["catalog"] for line in found.stdout.splitlines()
                   if line.startswith(b'{"type":"CATALOG"'))
    users = next(s for s in catalog["streams"] if s["name"] == "users")
    (FILES / "configured.json").write_bytes(orjson.dumps({"streams": [{
        "stream": users, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite",
        "primary_key": users.get("source_defined_primary_key") or []}]}))
    airbyte = {k: v for k, v in users.items() if k != "json_schema"}
    (FILES / "singer.json").write_bytes(orjson.dumps({"streams": [{
        "tap_stream_id": "users", "stream": "users", "schema": users["json_schema"], "key_properties": ["id"],
        "metadata": [{"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE",
                                                     "airbyte-stream": airbyte}}]}]}))
    (FILES / "tap.json").write_bytes(orjson.dumps({"executable": source, "airbyte_config": config}))


def _tap_argv(_bin: Path, _out: Path, _ds: Dataset) -> list[str]:
    ours = Path(sys.executable).parent / "tap-airbyte"
    return [str(ours), "--config", str(FILES / "tap.json"), "--catalog", str(FILES / "singer.json")]


def _floor_argv(bin_dir: Path, _out: Path, _ds: Dataset) -> list[str]:
    return [sys.executable, str(FLOOR), str(bin_dir / "source-faker"), str(FILES / "faker.json"),
            str(FILES / "configured.json")]


_COUNTED = re.compile(rb"^records=(\d+)$", re.MULTILINE)


def _floor_check(_out: Path, stderr: Path, ds: Dataset) -> str:
    found = _COUNTED.findall(stderr.read_bytes())
    total = int(found[-1]) if found else 0
    return "" if total == ds.records else f"the source wrote {total} RECORDs, expected {ds.records}"


_SIDE: dict[str, Any] = {"venv": SOURCE_FAKER, "setup": _write_files}

AIRBYTE_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "tap-airbyte",
        ours=Program("sluice tap-airbyte (source-faker)", "source-faker", "command", None, metric_count_check,
                     argv=_tap_argv, **_SIDE),
        peer=None,
        others=(Program(SOURCE_ALONE, "source-faker", "command", None, _floor_check, argv=_floor_argv, **_SIDE),),
        goals=(Goal("overhead", 20, SOURCE_ALONE, "the source by itself"),),
        records=_cap,
    ),
)

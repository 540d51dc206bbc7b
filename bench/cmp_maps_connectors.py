"""Issue 14: what stream maps cost a connector, "with maps / without maps" on the same input
(mapper-sluice against singer-sdk's engine is in cmp_maps.py).

The map set is the issue's: 1 alias (bench -> orders), 1 filter (``id > 0``: every record is
evaluated and kept, so both sides write the same rows), 2 sha256-masked properties (name, email)
and 1 new computed property (``note_len``). Each comparison runs our connector with the map set
and without it, alternately; the goal is at most 1.5x the time without maps (overhead <= 50%).

Beside target-jsonl runs the floor of that work in one Python process (tools/jsonl_maps_floor.py:
orjson loads, the filter, two sha256, a len, orjson dumps, append; no validation, no checks): no
goal, it shows what the 1.5x asks of Python where the unmapped target never decodes a record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from checks import lines_check, metric_count_check
from cmp_sql import fresh, ours_pg, rows_check
from model import Comparison, Goal, Program

__all__ = ["BENCH_MAPS", "CONNECTOR_MAPS_COMPARISONS"]

BENCH_MAPS: dict[str, Any] = {
    "stream_maps": {"bench": {
        "__alias__": "orders",
        "__filter__": "id > 0",
        "name": "sha256(name)",
        "email": "sha256(email)",
        "note_len": "int(len(note or ''))",
    }},
}
WITHOUT = "without maps"
MAPS_PG, PLAIN_PG = "bench_sluice_maps", "bench_sluice_nomaps"


def _jsonl(maps: bool) -> Any:
    return lambda out, _ds: {"destination_path": str(out), "do_timestamp_file": False, **(BENCH_MAPS if maps else {})}


def _tap_csv(maps: bool) -> Any:
    return lambda _out, ds: {**orjson.loads(ds.tap_csv_config.read_bytes()), **(BENCH_MAPS if maps else {})}


_jsonl_rows = lines_check("*.jsonl", header=False)
FLOOR = Path(__file__).resolve().parent / "tools" / "jsonl_maps_floor.py"


def _floor_argv(bin_dir: Path, out: Path, ds: Any) -> list[str]:
    """``sh -c 'exec python jsonl_maps_floor.py --config C < stream > /dev/null'``, its config beside the output."""
    config = out / "floor.json"
    config.write_bytes(orjson.dumps({"destination_path": str(out)}))
    script = 'c=$1 i=$2; shift 2; exec "$@" --config "$c" < "$i" > /dev/null'
    return ["sh", "-c", script, "floor", str(config), str(ds.stream_path), str(bin_dir / "python"), str(FLOOR)]

_GOAL = (Goal("overhead", 50, WITHOUT, "without maps (<= 1.5x)"),)

CONNECTOR_MAPS_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "maps-target-jsonl",
        ours=Program("sluice target-jsonl, with maps", "target-jsonl", "target", _jsonl(True), _jsonl_rows),
        peer=None,
        others=(Program(WITHOUT, "target-jsonl", "target", _jsonl(False), _jsonl_rows),
                Program("floor: the maps in one Python process", "python", "command", None, _jsonl_rows,
                        argv=_floor_argv)),
        goals=_GOAL,
    ),
    Comparison(
        "maps-target-postgres",
        ours=Program("sluice target-postgres, with maps", "target-postgres", "target",
                     lambda _out, _ds: {**ours_pg(MAPS_PG), **BENCH_MAPS}, rows_check(MAPS_PG, "orders"),
                     prepare=fresh(MAPS_PG)),
        peer=None,
        others=(Program(WITHOUT, "target-postgres", "target", lambda _out, _ds: ours_pg(PLAIN_PG),
                        rows_check(PLAIN_PG, "bench"), prepare=fresh(PLAIN_PG)),),
        goals=_GOAL,
    ),
    Comparison(
        "maps-tap-csv",
        ours=Program("sluice tap-csv, with maps", "tap-csv", "tap", _tap_csv(True), metric_count_check),
        peer=None,
        others=(Program(WITHOUT, "tap-csv", "tap", _tap_csv(False), metric_count_check),),
        goals=_GOAL,
    ),
)

"""Issue 14: stream maps. ``mapper-sluice`` against singer-sdk's own engine and an orjson floor.

mapper: the bench stream through a map set of 1 alias, 1 filter, 2 masked properties (sha256) and
1 new computed property, by
- ours, ``mapper-sluice``;
- the reference, singer-sdk's ``PluginMapper`` behind an ``InlineMapper`` (the few lines of
  Meltano's meltano-map-transform: tests/maps/sdk_reference_mapper.py), in its own venv;
- the floor, tools/orjson_map_floor.py: read, ``orjson.loads``, ``orjson.dumps``, write per line.
Every side reads the stream file on stdin and writes its output to a file (``sh -c 'exec ...'``);
the check counts the mapped RECORD lines (the floor's: every line).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from datagen import Dataset, read_lines
from model import Comparison, Goal, Program, Venv

__all__ = ["MAPS", "MAPS_COMPARISONS"]

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "maps" / "sdk_reference_mapper.py"
FLOOR = Path(__file__).resolve().parent / "tools" / "orjson_map_floor.py"
OUTPUT = "mapped.singer"
ALIAS = "bench_masked"
MAPS = {"stream_maps": {"bench": {
    "__alias__": ALIAS,
    "__filter__": "quantity >= 10",
    "email": "sha256(email)",
    "name": "sha256(name)",
    "domain": "email.split('@')[-1]",
}}}
SDK_MAPPER = Venv("singer-sdk-mapper", ("singer-sdk==0.54.9",),
                  note="singer-sdk's PluginMapper behind an InlineMapper (tests/maps/sdk_reference_mapper.py), "
                       "as meltano-map-transform runs it")


def _wrapped(command: list[str], out: Path, ds: Dataset) -> list[str]:
    """``sh -c 'exec CMD --config C < stream > out/mapped.singer'``: the config written beside the output."""
    config = out / "maps.json"
    config.write_bytes(orjson.dumps(MAPS))
    script = 'c=$1 i=$2 o=$3; shift 3; exec "$@" --config "$c" < "$i" > "$o"'
    return ["sh", "-c", script, "map", str(config), str(ds.stream_path), str(out / OUTPUT), *command]


_KEPT: dict[Path, int] = {}


def _expected(ds: Dataset) -> int:
    """How many records the filter keeps (read once per data set, outside any timing)."""
    if ds.stream_path not in _KEPT:
        kept = 0
        for line in read_lines(ds.stream_path):
            msg = orjson.loads(line)
            if msg.get("type") == "RECORD" and msg["record"]["quantity"] >= 10:
                kept += 1
        _KEPT[ds.stream_path] = kept
    return _KEPT[ds.stream_path]


def _records(out: Path) -> tuple[int, int]:
    """(all RECORD lines, RECORD lines of the alias) in the output."""
    total = mapped = 0
    marker = f'"stream":"{ALIAS}"'.encode()
    with (out / OUTPUT).open("rb") as fh:
        for line in fh:
            if b'"type":"RECORD"' in line or b'"type": "RECORD"' in line:
                total += 1
                mapped += marker in line.replace(b'": "', b'":"')
    return total, mapped


def _mapped_check(out: Path, _stderr: Path, ds: Dataset) -> str:
    total, mapped = _records(out)
    want = _expected(ds)
    return "" if total == mapped == want else f"wrote {mapped} {ALIAS} RECORDs ({total} in all), expected {want}"


def _floor_check(out: Path, _stderr: Path, ds: Dataset) -> str:
    total, _ = _records(out)
    return "" if total == ds.records else f"wrote {total} RECORDs, expected {ds.records}"


FLOOR_LABEL = "floor: orjson loads+dumps per line"

MAPS_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "mapper",
        ours=Program("sluice mapper-sluice", "mapper-sluice", "command", None, _mapped_check,
                     argv=lambda bin_dir, out, ds: _wrapped([str(bin_dir / "mapper-sluice")], out, ds)),
        peer=Program("singer-sdk reference mapper", "python", "command", None, _mapped_check, venv=SDK_MAPPER,
                     argv=lambda bin_dir, out, ds: _wrapped([str(bin_dir / "python"), str(REFERENCE)], out, ds)),
        others=(Program(FLOOR_LABEL, "python", "command", None, _floor_check,
                        argv=lambda bin_dir, out, ds: _wrapped([str(bin_dir / "python"), str(FLOOR)], out, ds)),),
        goals=(Goal("peer", 10), Goal("vs", 0.3, FLOOR_LABEL, "the orjson loads+dumps floor")),
    ),
)

"""Records the tap emitted against records the target committed, per stream.

Both counts come from the METRIC ``record_count`` lines on the two stderrs. A keyed stream
may commit fewer than were emitted (a target that counts rows after merging duplicate keys);
a stream without key properties cannot: every record is a row, so a shortfall is lost data
and fails the run. Whether a stream has keys is read from the tap's catalog, the file the
runner hands the tap (the runner never parses the tap's SCHEMA messages); a stream the
catalog does not describe, or a tap run without a catalog, is "keys unknown" and only noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from protocol import Catalog, ConfigError
from runner.pumps import SideStats

__all__ = ["Shortfall", "keyless_shortfalls", "nothing_moved", "stream_keys"]


@dataclass(frozen=True)
class Shortfall:
    stream: str
    emitted: int
    committed: int

    def describe(self) -> str:
        return (f"stream '{self.stream}' has no key properties, yet only {self.committed:,} of the "
                f"{self.emitted:,} records the tap emitted were committed ({self.emitted - self.committed:,} lost)")


def stream_keys(catalog: Path | None) -> dict[str, bool]:
    """Whether each stream of the catalog has key properties, by ``tap_stream_id`` and by
    ``stream`` name; empty without a readable catalog (the tap then reports the problem)."""
    if catalog is None:
        return {}
    try:
        entries = Catalog.from_dict(orjson.loads(catalog.read_bytes())).streams
    except (OSError, orjson.JSONDecodeError, ConfigError):
        return {}
    keyed: dict[str, bool] = {}
    for entry in entries:
        keyed[entry.stream] = keyed[entry.tap_stream_id] = bool(entry.key_properties)
    return keyed


def keyless_shortfalls(emitted: SideStats, committed: SideStats, keyed: dict[str, bool]) -> list[Shortfall]:
    """The keyless streams whose committed count falls short of the emitted one."""
    if not (emitted.reported and committed.reported):
        return []
    # the target names streams the tap never did: stream maps renamed them, so a stream the
    # target says nothing about cannot be compared
    renamed = bool(set(committed.counts) - set(emitted.counts))
    out = []
    for stream, count in sorted(emitted.counts.items()):
        if keyed.get(stream) is not False or (renamed and stream not in committed.counts):
            continue
        done = committed.counts.get(stream, 0)
        if done < count:
            out.append(Shortfall(stream, count, done))
    return out


def nothing_moved(emitted: SideStats, committed: SideStats) -> bool:
    """The tap reported its counts and emitted no record, and the target committed none.

    A target that received no record often says nothing at all (no METRIC line), which then
    means 0, not "unknown": there was nothing for it to count.
    """
    return emitted.reported and emitted.total == 0 and committed.total == 0

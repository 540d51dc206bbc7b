"""The lane choice of a target whose sinks all take runs, for tests of the chunk reader."""

from __future__ import annotations

from typing import Any

from protocol._lane import Lane, choose_lane
from protocol._reader import MessageReader


def fast_lanes(reader: MessageReader) -> Any:
    """Every stream on the fast lane its schema allows, chosen from the SCHEMA the reader last
    accepted (as a target whose sinks all take runs chooses it)."""
    lanes: dict[str, tuple[Any, Lane]] = {}

    def lane_of(stream: str) -> Lane | None:
        message = reader.schemas.get(stream)
        if message is None:
            return None
        if stream not in lanes or lanes[stream][0] is not message:
            lanes[stream] = (message, choose_lane(message, True))
        return lanes[stream][1]

    return lane_of

"""The source's own state, kept opaque inside the Singer state value.

An Airbyte source checkpoints with STATE messages: one per stream (``STREAM``), one for all its
streams (``GLOBAL``, CDC sources) or the old single blob (``LEGACY``). tap-airbyte keeps the
latest of each, as the exact JSON text the source wrote, in its Singer state::

    {"bookmarks": {"users": {"airbyte_state": "{\\"type\\":\\"STREAM\\",\\"stream\\":{...}}"}},
     "airbyte_global_state": "{\\"type\\":\\"GLOBAL\\",...}",
     "airbyte_legacy_state": "{\\"type\\":\\"LEGACY\\",\\"data\\":{...}}"}

Strings pass unchanged through any JSON store (the runner's, Meltano's), so the next run hands
the source back, byte for byte, what it emitted: a JSON array of those state messages (or, for
a source that only ever wrote a LEGACY state, that state's ``data``, as such sources read it).
A stream read by full refresh starts over at every run, as Airbyte's platform runs it: its
STREAM state is kept but not handed back.
Other keys of the state value are left as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from protocol import ConfigError, dumps
from taps.airbyte.messages import DecodeError, decode_state, stream_id

__all__ = ["GLOBAL_KEY", "LEGACY_KEY", "STREAM_KEY", "AirbyteState"]

STREAM_KEY = "airbyte_state"
GLOBAL_KEY = "airbyte_global_state"
LEGACY_KEY = "airbyte_legacy_state"


def _text(value: Any, where: str) -> str:
    """A stored state: its JSON text (an object given instead is encoded compactly)."""
    if isinstance(value, dict):
        value = dumps(value).decode()  # exact: any number a source wrote
    if not isinstance(value, str):
        raise ConfigError(f"state: {where} must be the JSON text of an Airbyte state message")
    try:
        decode_state(value.encode())
    except DecodeError as exc:
        raise ConfigError(f"state: {where} is not an Airbyte state message: {exc}") from exc
    return value


class AirbyteState:
    """The latest STREAM state of each stream, the latest GLOBAL and LEGACY states, as raw JSON text."""

    def __init__(self, value: Mapping[str, Any] | None = None) -> None:
        self._value: dict[str, Any] = copy.deepcopy(dict(value or {}))
        bookmarks = self._value.get("bookmarks")
        self._bookmarks: dict[str, Any] = bookmarks if isinstance(bookmarks, dict) else {}
        self._value["bookmarks"] = self._bookmarks
        self._streams: dict[str, str] = {}
        for name, entry in self._bookmarks.items():
            if isinstance(entry, dict) and entry.get(STREAM_KEY) is not None:
                self._streams[name] = _text(entry[STREAM_KEY], f"bookmarks.{name}.{STREAM_KEY}")
        self._global = self._top(GLOBAL_KEY)
        self._legacy = self._top(LEGACY_KEY)

    def _top(self, key: str) -> str | None:
        value = self._value.get(key)
        return None if value is None else _text(value, key)

    def update(self, raw: bytes) -> str:
        """Keep the state object ``raw`` (a STATE message's ``state``, as the source wrote it);
        return what it checkpoints ("stream 'users'", "all streams")."""
        header = decode_state(raw)
        text = raw.decode()
        kind = header.type.upper()
        if kind == "STREAM" and header.stream is not None:
            descriptor = header.stream.stream_descriptor
            name = stream_id(descriptor.name, descriptor.namespace)
            self._streams[name] = text
            entry = self._bookmarks.get(name)
            if not isinstance(entry, dict):
                entry = self._bookmarks[name] = {}
            entry[STREAM_KEY] = text
            return f"stream '{name}'"
        if kind == "GLOBAL":
            self._global = self._value[GLOBAL_KEY] = text
            return "all streams"
        self._legacy = self._value[LEGACY_KEY] = text
        return "the source (legacy state)"

    def to_value(self) -> dict[str, Any]:
        """The Singer state value (a copy)."""
        return copy.deepcopy(self._value)

    def state_file(self, restart: frozenset[str] = frozenset()) -> bytes | None:
        """What ``read --state`` is given; None when the source has checkpointed nothing yet.
        The STREAM states of the streams in ``restart`` (read by full refresh) are left out."""
        texts = [text for name, text in self._streams.items() if name not in restart]
        if self._global is not None:
            texts.append(self._global)
        if not texts and self._legacy is not None:
            data = decode_state(self._legacy.encode()).data
            return bytes(data) if data else None
        if self._legacy is not None:
            texts.append(self._legacy)
        return ("[" + ",".join(texts) + "]").encode() if texts else None

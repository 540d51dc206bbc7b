"""The shape of a sink: it is given its SCHEMA, its loader and the target's frozen settings,
nothing else; one ``Target.abort()`` undoes every sink and the destination's transaction; and
target-sqlite's ``batch_size_bytes`` bounds the rows it holds before sending them."""

from __future__ import annotations

import io
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

import targets.sqlite.target as sqlite_target
from protocol import MessageWriter, ProtocolError, RecordMessage, SchemaMessage, Sink, Target
from targets.sql.sink import SQLSink
from targets.sqlite.dialect import SQLiteLoader
from targets.sqlite.settings import SQLiteSettings
from targets.sqlite.target import SQLiteTarget

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "note": {"type": "string"}}}


def _lines(*messages: dict[str, Any], tail: bytes = b"") -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(b"".join(orjson.dumps(m) + b"\n" for m in messages) + tail))


def _schema(stream: str = "s") -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["id"]}


def _record(i: int, stream: str = "s", note: str = "") -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": {"id": i, "note": note or f"n{i}"}}


def test_a_sql_sink_loads_with_its_loader_and_settings_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    loader = SQLiteLoader(path)
    settings = SQLiteSettings.from_config({"database": path, "table_prefix": "t_"})
    sink = SQLSink(SchemaMessage("public-users", SCHEMA, ["id"]), loader, settings)
    assert not hasattr(sink, "target")
    for i in (1, 2, 1):
        record = {"id": i, "note": f"v{i}"}
        sink.add(record, RecordMessage("public-users", record))
    sink.flush()
    loader.commit()
    loader.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT id, note FROM t_users ORDER BY id").fetchall() == [(1, "v1"), (2, "v2")]


class _Recorded(Sink):
    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        self.loader.append(("add", self.stream))

    def flush(self) -> None:
        pass

    def abort(self) -> None:
        self.loader.append(("abort", self.stream))


class _RecordedTarget(Target):
    name = "target-recorded"
    sink_class = _Recorded

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, str]] = []
        self.settings = ("frozen", "settings")

    def loader_for(self, schema: SchemaMessage) -> Any:
        return self.calls

    def rollback(self) -> None:
        self.calls.append(("rollback", ""))


def test_a_failure_aborts_every_sink_and_rolls_back_once() -> None:
    target = _RecordedTarget({})
    source = _lines(_schema("a"), _schema("b"), _record(1, "a"), _record(2, "b"),
                    tail=b'{"type": "RECORD", "stream": "c", "record": {}}\n')
    with pytest.raises(ProtocolError, match="'c'"):
        target.run(source, MessageWriter(io.BytesIO()))
    assert target.calls == [("add", "a"), ("add", "b"), ("abort", "a"), ("abort", "b"), ("rollback", "")]
    assert all(sink.settings == ("frozen", "settings") for sink in target.sinks.values())


class _ChunkLog(SQLiteLoader):
    """The real SQLite loader, noting the rows of each chunk it is sent."""

    chunks: ClassVar[list[list[Any]]] = []

    def write(self, spec: Any, rows: list[Any], *, upsert: bool, truncate: bool) -> None:
        self.chunks.append(list(rows))
        super().write(spec, rows, upsert=upsert, truncate=truncate)


def _load_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> list[list[Any]]:
    chunks: ClassVar[list[list[Any]]] = []
    monkeypatch.setattr(_ChunkLog, "chunks", chunks)
    monkeypatch.setattr(sqlite_target, "SQLiteLoader", _ChunkLog)
    note = "x" * 300
    source = _lines(_schema(), *[_record(i, note=f"{i:05d}{note}") for i in range(200)],
                    {"type": "STATE", "value": {"done": 200}})
    target = SQLiteTarget({"database": str(tmp_path / "d.db"), **config})
    target.run(source, MessageWriter(io.BytesIO()))
    with closing(sqlite3.connect(tmp_path / "d.db")) as conn:
        assert conn.execute("SELECT count(*), sum(length(note)) FROM s").fetchone() == (200, 200 * 305)
    return chunks


def test_sqlite_sends_rows_when_the_buffered_bytes_pass_batch_size_bytes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = _load_sqlite(tmp_path, monkeypatch, batch_size_bytes=4096)
    text = [sum(len(v) for v in row if isinstance(v, str)) for chunk in chunks for row in chunk]
    assert sum(len(c) for c in chunks) == 200 and set(text) == {305}
    # every chunk but the last was sent once its rows passed 4096 bytes, and not much later
    for chunk in chunks[:-1]:
        held = 305 * len(chunk)
        assert held - 305 < 4096 <= held + 16 * len(chunk), len(chunk)
    assert len(chunks) >= 200 * 305 // (4096 + 16 * 14)


def test_sqlite_without_batch_size_bytes_sends_the_batch_whole(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert [len(c) for c in _load_sqlite(tmp_path, monkeypatch)] == [200]

"""The SQL sink with PostgreSQL's limits on its bulk lane (see limits.py).

Rows built in bulk (targets/sql/rawrows.py) drop NUL characters and write date-times as the
decoded value's offset. Here, before a run is built, a run holding a date-time whose UTC offset
PostgreSQL refuses goes record by record instead (where copytext.py converts it to UTC); after
it is built, a NUL the builder counted in a key column fails the run, naming the record.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from protocol import RecordRun, struct_attrs
from targets.postgres.limits import WIDE_OFFSET, nul_in_key
from targets.sql import types as T
from targets.sql.sink import SQLSink

__all__ = ["PostgresSink"]

_ZONE = attrgetter("tzinfo")


def _wide(values: list[Any], field: Callable[[Any], Any], zone: Callable[[Any], Any]) -> bool:
    """Whether a date-time of one field of the decoded records ``values`` has a UTC offset PostgreSQL
    refuses (``field`` reads the field, ``zone`` its time zone in one step), or may have one."""
    try:
        zones = set(map(zone, values))
    except AttributeError:  # a null: filtered out, in a second pass
        try:
            zones = set(map(_ZONE, filter(None, map(field, values))))
        except AttributeError:  # not a datetime: its text is not read here
            return True
    for each in zones:
        offset = each.utcoffset(None) if each is not None else None
        if offset is not None and abs(offset) >= WIDE_OFFSET:
            return True
    return False


class PostgresSink(SQLSink):
    """A stream's PostgreSQL table (see the module docstring)."""

    def _prepare(self) -> None:
        super()._prepare()
        raw, spec = self._raw, self.spec
        built = dict(raw.fields) if raw is not None else {}  # column -> record field, of the bulk rows
        logical = {c.name: c.logical for c in spec.columns}
        #: the date-time fields of the bulk rows, and the table's key columns among them (table, column)
        self._time_fields = [f for c, f in built.items() if logical[c] == T.TIMESTAMP]
        self._nul_keys = [(spec.table, c, f) for c, f in built.items() if c in spec.key]
        self._readers: dict[type, list[tuple[Callable[[Any], Any], Callable[[Any], Any]]]] = {}

    def add_run(self, run: RecordRun) -> bool:
        if self._time_fields and self._wide_offset(run.values):
            return False  # rare: record by record, where such a date-time is written in UTC
        if not self._nul_keys:
            return super().add_run(run)
        removed = self.loader.nul_removed
        assert removed is not None  # PostgreSQL stores no NUL: its loader counts them
        before = [removed[(table, column)] for table, column, _ in self._nul_keys]
        taken = super().add_run(run)
        if taken and [removed[(table, column)] for table, column, _ in self._nul_keys] != before:
            self._refuse_nul_key(run, removed, before)
        return taken

    def _wide_offset(self, values: list[Any]) -> bool:
        if not values:
            return False
        cls = values[0].__class__
        readers = self._readers.get(cls)
        if readers is None:
            attrs = struct_attrs(cls)
            readers = self._readers[cls] = [(attrgetter(attrs[f]), attrgetter(f"{attrs[f]}.tzinfo"))
                                            for f in self._time_fields if f in attrs]
        return any(_wide(values, field, zone) for field, zone in readers)

    def _refuse_nul_key(self, run: RecordRun, removed: Any, before: list[int]) -> None:
        """Raise the error naming the first record of ``run`` whose key holds NUL (the builder
        counted it as removed: the count is put back, nothing was stored)."""
        for (table, column, _), count in zip(self._nul_keys, before, strict=True):
            if count:
                removed[(table, column)] = count
            else:
                del removed[(table, column)]
        assert self._raw is not None
        fields = [f for _, _, f in self._nul_keys]
        found = [(k, f) for f, values in zip(fields, self._raw.field_values(run.values, fields), strict=True)
                 for k, v in enumerate(values or ()) if v.__class__ is str and "\x00" in v]
        if not found:  # not found again (the builder counted it): the error names no line
            raise nul_in_key(fields[0], stream=self.stream)
        k, field = min(found)
        raise nul_in_key(field, run.line_of(k), self.stream)

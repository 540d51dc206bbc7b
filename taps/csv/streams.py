"""One stream per configured file, directory or glob: its schema and its records.

The schema comes from the configured ``schema``, or is inferred from the headers of all
the stream's files and a sample of their rows; ``types`` overrides single columns. During
a sync the catalog's schema is adopted (:meth:`CsvStream.bind`), and every column's
converter is chosen once per file from it. An empty cell, bare or quoted, is ``""`` in a
string column (as MeltanoLabs tap-csv reads it) and null in a typed one; ``empty_as_null``
makes it null in string columns too.

Two bookmarks per stream:
- ``replication_key`` / ``replication_key_value``: rows whose key is below the bookmark
  are skipped (rows equal to it are sent again, as the Singer spec asks);
- ``max_file_mtime``: files whose modification (or status-change) time is not later are
  skipped. Both move only when the stream ends, so a failed run re-reads, never loses.
  It is never later than the moment the files were listed: a file dated in the future (a
  writer's clock ahead, ``rsync -t`` from such a host) moved it to that date, and every file
  written before then was skipped forever. Such a file is read, said, and read again each run
  until the clock passes its date; the bookmark stays ``SETTLE`` before the listing, as a file
  written just after the listing may be stamped by a coarse file-system clock a little
  earlier. A stored bookmark later than the listing is not trusted: every file is read.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from protocol import Bookmarks, CatalogEntry, ConfigError, Stream, Tap, is_nullable, plural
from taps.csv.client import (
    SourceFile,
    check_last_row,
    iso_to_ns,
    list_files,
    ns_to_iso,
    open_csv,
    read_header,
    source_error,
)
from taps.csv.inference import (
    CELL_ERRORS,
    comparable_for,
    converter_for,
    infer_properties,
    property_for,
    type_label,
)
from taps.csv.settings import FileSpec

__all__ = ["MTIME_BOOKMARK", "SDC_COLUMNS", "CsvStream"]

log = logging.getLogger("tap_csv")

MTIME_BOOKMARK = "max_file_mtime"
#: how far before the listing a bookmark clamped by a future-dated file stays (nanoseconds): more
#: than a coarse file-system clock lags (a jiffy; FAT and SMB stamp to 2 seconds)
SETTLE = 2_000_000_000
SDC_FILE, SDC_MTIME, SDC_LINENO = "_sdc_source_file", "_sdc_source_file_mtime", "_sdc_source_lineno"
SDC_COLUMNS: dict[str, dict[str, Any]] = {
    SDC_FILE: {"type": ["string"]},
    SDC_MTIME: {"type": ["string"], "format": "date-time"},
    SDC_LINENO: {"type": ["integer"]},
}


class _EmptyCell(ValueError):
    """An empty cell in a column whose schema does not allow null."""


class _KeyFilter:
    """Rows at or after the replication bookmark pass; the maximum key seen is kept."""

    def __init__(self, key: str, prop: dict[str, Any], start: Any) -> None:
        self.key = key
        self.order = comparable_for(prop)
        self.start = start
        self.best: Any = None
        self.best_value: Any = None
        self.null_rows = 0


class CsvStream(Stream):
    manages_bookmark = True

    def __init__(self, tap: Tap, spec: FileSpec, *, add_metadata: bool) -> None:
        super().__init__(tap)
        self.spec = spec
        self.name = spec.entity
        self.primary_keys = list(spec.keys)
        self.replication_key = spec.replication_key
        self.add_metadata = add_metadata
        self._files: list[SourceFile] | None = None
        self._listed_ns = 0  # when the files were listed (the clock's time)
        self._schema: dict[str, Any] | None = None
        self._schema_source = "configured" if spec.schema is not None else "inferred"
        # columns whose type the configuration gives (a declared boolean also reads yes/no, 1/0, ...)
        declared = [name for name, _ in spec.types] + list((spec.schema or {}).get("properties") or {})
        self._declared = frozenset(declared)

    def files(self) -> list[SourceFile]:
        if self._files is None:
            self._listed_ns = time.time_ns()
            self._files = list_files(self.spec)
        return self._files

    @property
    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            self._schema = self._build_schema()
        return self._schema

    def bind(self, entry: CatalogEntry) -> None:
        if self._schema is None or entry.schema != self._schema:
            self._schema_source = "catalog"
        self._schema = entry.selected_schema()

    # -- schema -----------------------------------------------------------------------

    def _build_schema(self) -> dict[str, Any]:
        spec = self.spec
        if spec.schema is not None:
            schema = copy.deepcopy(spec.schema)
            props = schema.setdefault("properties", {})
            sample_nullable: dict[str, bool] = {n: is_nullable(p) for n, p in props.items()}
        else:
            props = self._infer()
            schema = {"type": "object", "properties": props}
            sample_nullable = {n: is_nullable(p) for n, p in props.items()}
        for field, kind in spec.types:
            if field not in props:
                raise ConfigError(f"files entry '{spec.entity}': 'types' names '{field}', which is not a column")
            props[field] = property_for(kind, sample_nullable[field]) if isinstance(kind, str) else dict(kind)
        if self.add_metadata:
            props.update(copy.deepcopy(SDC_COLUMNS))
        named: list[tuple[str, str | None]] = [("key", k) for k in spec.keys]
        named.append(("replication_key", spec.replication_key))
        for what, column in named:
            if column is not None and column not in props:
                raise ConfigError(f"files entry '{spec.entity}': {what} '{column}' is not a column of the stream")
        return schema

    def _infer(self) -> dict[str, dict[str, Any]]:
        """Column names from every file's header; types from the first ``sample_size`` rows."""
        spec = self.spec
        files = self.files()
        if not files:
            raise source_error(spec.entity, spec.path, "no CSV files found: nothing to infer a schema from "
                               "(add files, or set 'schema' for this entry)")
        columns: dict[str, None] = {}
        sample: list[list[str]] = []
        budget = spec.sample_size or None
        for file in files:
            with open_csv(spec, file.path) as reader:
                header = read_header(reader, spec, file.path)
                columns.update(dict.fromkeys(header))
                if budget is not None and len(sample) >= budget:
                    continue
                order = list(columns)
                where = {name: order.index(name) for name in header}
                for row in reader:
                    if len(row) != len(header):
                        if not row:
                            continue
                        raise self._ragged(file.path, reader.line_num, len(header), len(row))
                    aligned = [""] * len(order)
                    for name, cell in zip(header, row, strict=True):
                        aligned[where[name]] = cell
                    sample.append(aligned)
                    if budget is not None and len(sample) >= budget:
                        break
        order = list(columns)
        sample = [row + [""] * (len(order) - len(row)) for row in sample]
        return infer_properties(order, sample, infer_types=spec.infer_types)

    def _ragged(self, path: str, line: int, expected: int, found: int) -> Exception:
        return source_error(self.spec.entity, path, f"expected {expected} fields as in the header, found {found}",
                            line=line)

    # -- records ----------------------------------------------------------------------

    def check(self) -> int:
        """Open every file and read its header; the number of files."""
        files = self.files()
        if not files:
            raise source_error(self.spec.entity, self.spec.path, "no CSV files found")
        for file in files:
            with open_csv(self.spec, file.path) as reader:
                read_header(reader, self.spec, file.path)
        return len(files)

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        name = self.name
        props = self.schema.get("properties") or {}
        stored_key = bookmarks.get(name, "replication_key")
        if stored_key is not None and stored_key != self.replication_key:
            log.warning("stream '%s': the state's bookmark is for '%s', not '%s'; reading every file and row",
                        name, stored_key, self.replication_key)
            bookmarks.clear(name)
        since = bookmarks.get(name, MTIME_BOOKMARK)
        since_ns = self._bookmark_ns(since)
        files = self.files()
        if since_ns is not None and since_ns > self._listed_ns:
            log.warning("stream '%s': the state's %s %s is later than now (%s): a file dated in the future "
                        "set it; reading every file", name, MTIME_BOOKMARK, since, ns_to_iso(self._listed_ns))
            since_ns = None
        todo = [f for f in files if since_ns is None or f.changed_ns // 1000 * 1000 > since_ns]
        if len(todo) < len(files):
            log.info("stream '%s': %d of %s unchanged since %s; skipped", name, len(files) - len(todo),
                     plural(len(files), "file"), since)
        key_filter = self._key_filter(bookmarks, props)
        for file in todo:
            yield from self._read_file(file, props, key_filter)
        if todo:
            bookmarks.set(name, MTIME_BOOKMARK, ns_to_iso(self._mtime_bookmark(todo)))
        if key_filter is not None:
            if key_filter.best is not None:
                bookmarks.set(name, "replication_key", key_filter.key)
                bookmarks.set(name, "replication_key_value", key_filter.best_value)
            if key_filter.null_rows:
                log.warning("stream '%s': %s with an empty '%s' skipped (they cannot be compared "
                            "with the bookmark)", name, plural(key_filter.null_rows, "row"), key_filter.key)

    def _mtime_bookmark(self, read: list[SourceFile]) -> int:
        """The ``max_file_mtime`` after reading ``read``: the latest change among them, unless one is
        dated after the listing (each is named): then ``SETTLE`` before the listing."""
        newest = max(f.changed_ns for f in read)
        if newest <= self._listed_ns:
            return newest
        for file in read:
            if file.changed_ns > self._listed_ns:
                log.warning("stream '%s': file %s is dated %s, later than now (%s): its clock (or the writer's) "
                            "is ahead; it is read again each run until that time", self.name, file.path,
                            ns_to_iso(file.changed_ns), ns_to_iso(self._listed_ns))
        return max(0, self._listed_ns - SETTLE)

    def _bookmark_ns(self, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return iso_to_ns(str(value))
        except ValueError as exc:
            raise ConfigError(f"state: stream '{self.name}': {MTIME_BOOKMARK} {value!r} is not "
                              "an ISO 8601 date-time") from exc

    def _key_filter(self, bookmarks: Bookmarks, props: dict[str, Any]) -> _KeyFilter | None:
        key = self.replication_key
        if key is None or key not in props:
            return None
        prop = props[key]
        raw = bookmarks.replication_value(self.name)
        start = None
        if raw is not None:
            convert = converter_for(prop, declared=key in self._declared)
            try:
                value = convert(str(raw)) if convert is not None else str(raw)
                start = comparable_for(prop)(value)
            except CELL_ERRORS as exc:
                raise ConfigError(f"state: stream '{self.name}': bookmark {raw!r} is not a valid "
                                  f"{type_label(prop)}") from exc
        return _KeyFilter(key, prop, start)

    def _read_file(self, file: SourceFile, props: dict[str, Any], key_filter: _KeyFilter | None
                   ) -> Iterator[dict[str, Any]]:
        spec = self.spec
        with open_csv(spec, file.path) as reader:
            header = read_header(reader, spec, file.path)
            width = len(header)
            names = [n for n in header if n in props]
            convs = [converter_for(props[n], declared=n in self._declared) for n in names]
            # an empty cell of a string column is "" (MeltanoLabs), of a typed one null
            kept = set() if spec.empty_as_null else {n for n, conv in zip(names, convs) if conv is None}  # noqa: B905
            blank = dict.fromkeys(kept, "")
            required = {n for n in names if not is_nullable(props[n])} - kept
            pick = None if names == header else _picker([header.index(n) for n in names])
            meta = [(n, v) for n, v in ((SDC_FILE, file.path), (SDC_MTIME, file.mtime_iso)) if n in props]
            lineno_field = SDC_LINENO in props
            key = key_filter.key if key_filter is not None else None
            order = key_filter.order if key_filter is not None else None
            start = key_filter.start if key_filter is not None else None
            row: list[str] = []
            for lineno, row in enumerate(reader, 1):
                if len(row) != width:
                    if not row:
                        continue
                    raise self._ragged(file.path, reader.line_num, width, len(row))
                values = row if pick is None else pick(row)
                record: dict[str, Any] = {}
                try:
                    for n, conv, v in zip(names, convs, values):  # noqa: B905 - same length by construction
                        if v:
                            record[n] = v if conv is None else conv(v)
                        elif n in required:
                            raise _EmptyCell(n)
                        else:
                            record[n] = blank.get(n)
                except CELL_ERRORS:
                    raise self._cell_error(file.path, reader.line_num, names, convs, required, values) from None
                if meta:
                    record.update(meta)
                if lineno_field:
                    record[SDC_LINENO] = lineno
                if key_filter is not None:
                    value = record.get(key)  # type: ignore[arg-type]
                    if value is None or value == "":
                        if start is not None:
                            key_filter.null_rows += 1
                            continue
                    else:
                        rank = order(value)  # type: ignore[misc]
                        if start is not None and rank < start:
                            continue
                        if key_filter.best is None or rank > key_filter.best:
                            key_filter.best = rank
                            key_filter.best_value = value
                yield record
            lines_read = reader.line_num
        check_last_row(spec, file.path, row, lines_read)

    def _cell_error(self, path: str, line: int, names: list[str], convs: list[Any], required: set[str],
                    values: Any) -> Exception:
        """The slow path after a failed row: find the cell and say why."""
        props = self.schema.get("properties") or {}
        for n, conv, v in zip(names, convs, values):  # noqa: B905
            label = type_label(props[n])
            if self._schema_source == "inferred" and n in self._declared:
                hint = f"the type '{label}' is set for this field in 'types'"
            elif self._schema_source == "inferred":
                hint = (f"the type '{label}' was inferred from the first {self.spec.sample_size} rows; "
                        f"set 'types' for this field or a larger 'sample_size'")
            else:
                hint = f"the {self._schema_source} schema says '{label}'"
            if not v and n in required:
                return source_error(self.spec.entity, path, f"empty cell in a column that is not nullable ({hint})",
                                    line=line, field=n)
            if v and conv is not None:
                try:
                    conv(v)
                except CELL_ERRORS:
                    shown = v if len(v) <= 60 else v[:57] + "..."
                    return source_error(self.spec.entity, path, f"value {shown!r} is not a valid {label} ({hint})",
                                        line=line, field=n)
        return source_error(self.spec.entity, path, "row could not be converted", line=line)


def _picker(indices: list[int]) -> Any:
    """A function picking the cells of the selected columns out of a row, as a tuple."""
    if len(indices) > 1:
        return itemgetter(*indices)
    if indices:
        only = indices[0]
        return lambda row: (row[only],)
    return lambda row: ()

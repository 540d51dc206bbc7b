"""target-csv's sink: one csv writer row per record, a header that only ever widens.

Columns are the schema's properties in order, then any new property (a later SCHEMA, or a
record field the schema does not list) appended at the end. When the column set widens
after the header was written, the next flush rewrites the file with the wider header and
pads the existing rows with empty cells (atomically: temporary file, fsync, rename), so the
file always has one header and every row lines up with it. Nothing is dropped.

Cells: null is empty, booleans are ``true``/``false``, objects and arrays are JSON text,
numbers are written exactly as parsed (Decimals as ``str(Decimal)``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

from protocol import RecordMessage, SchemaMessage, TargetError, dumps, field_types
from targets.csv.settings import CsvSettings
from targets.files import DurableFile, FileSink
from targets.files.sink import SPILL_ROWS

__all__ = ["CsvSink"]

_PLAIN = frozenset({"string", "integer", "number", "null"})
# The file is read back (its header; every row when the header widens): a cell is as large as
# a Singer line may be, and the csv module refuses fields over 128 KiB by default.
_FIELD_LIMIT = 1 << 30


class _Lines:
    """What csv.writer writes to: every row appended to a list, joined at spill."""

    __slots__ = ("lines", "write")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append


def _cell(value: Any) -> Any:
    cls = value.__class__
    if cls is bool:
        return "true" if value else "false"
    if cls is dict or cls is list:
        return dumps(value).decode()
    return value


def _plain(prop: Any) -> bool:
    """Whether a property's values are written as they are (no object, array or boolean allowed)."""
    types = field_types(prop) if isinstance(prop, dict) else set()
    return bool(types) and types <= _PLAIN


class CsvSink(FileSink):
    settings: CsvSettings

    def __init__(self, schema: SchemaMessage, loader: DurableFile, settings: CsvSettings) -> None:
        super().__init__(schema, loader, settings)
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        options = settings.dialect
        self._dialect: dict[str, Any] = options
        self._buf = _Lines()
        self._writer = csv.writer(self._buf, **options)
        # Excel dialect, no escape character: minimal quoting, "," and CRLF.
        self._plain_dialect = options == {"dialect": "excel"}
        self.header: list[str] = self._existing_header()  # the header row in the file, [] if none yet
        self.columns: list[str] = list(self.header)
        self._colset = set(self.columns)
        self._special: list[int] = []  # the columns whose cells are encoded (see _mark_special)
        self._widened = False
        self._aborted = False
        self._sort_by: str | None = settings.record_sort_property_name or None
        self._rows: list[list[Any]] = []
        self._add_columns(list(schema.schema.get("properties") or {}))

    # -- columns ---------------------------------------------------------------------------

    def _existing_header(self) -> list[str]:
        if self.file.overwrite or self.file.existing_size() == 0:
            return []
        try:
            with self.file.read_existing() as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                first = next(csv.reader(text, **self._dialect), None)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TargetError(f"stream '{self.stream}': cannot read the header of {self.file.path}: {exc}") from exc
        if not first:
            raise TargetError(f"stream '{self.stream}': {self.file.path} exists but has no header row")
        return first

    def _add_columns(self, names: list[str]) -> None:
        before = len(self.columns)
        for name in names:
            if name in self._colset:
                continue
            self.columns.append(name)
            self._colset.add(name)
            if self.header or self._buf.lines or self._rows:
                self._widened = True
        self._mark_special()
        if self._buf.lines and len(self.columns) > before:
            self._pad_buffered()

    def _mark_special(self) -> None:
        """Which columns get their cells encoded (JSON, ``true``/``false``), from the current schema,
        for every column: those of the file's existing header and those an earlier SCHEMA declared
        plain too. Validated records hold only plain values in a column the schema types string,
        integer, number or null; every other column (or every column, without validation) is encoded."""
        if not self.settings.validate_records:
            self._special = list(range(len(self.columns)))
            return
        props = self.schema.get("properties") or {}
        self._special = [i for i, name in enumerate(self.columns) if not _plain(props.get(name))]

    def _pad_buffered(self) -> None:
        """Rows buffered before a column was added get its empty cell: every row written has the
        width of the header written before it (the header is widened before them, see :meth:`spill`)."""
        width = len(self.columns)
        out = _Lines()
        writer = csv.writer(out, **self._dialect)
        for row in csv.reader(io.StringIO("".join(self._buf.lines), newline=""), **self._dialect):
            row.extend([""] * (width - len(row)))
            writer.writerow(row)
        self._buf.lines[:] = out.lines

    def update_schema(self, schema: SchemaMessage) -> None:
        super().update_schema(schema)
        self._add_columns(list(schema.schema.get("properties") or {}))

    # -- records ---------------------------------------------------------------------------

    def add(self, record: dict[str, Any], message: RecordMessage) -> None:
        if not self._colset.issuperset(record):
            self._add_columns([k for k in record if k not in self._colset])
        row = list(map(record.get, self.columns))
        for i in self._special:
            value = row[i]
            if value is not None:
                row[i] = _cell(value)
        if self._sort_by is not None:
            self._rows.append(row)
            return
        if self._plain_dialect and len(row) > 1:
            # The common case without csv.writer (about 2x faster): join the cells, and keep
            # the line only if no cell needed quoting (no quote, newline or extra delimiter).
            line = ",".join([v if v.__class__ is str else ("" if v is None else str(v)) for v in row])
            if line.count(",") == len(row) - 1 and '"' not in line and "\n" not in line and "\r" not in line:
                self._buf.write(line + "\r\n")
                if len(self._buf.lines) >= SPILL_ROWS:
                    self.spill()
                return
        self._writer.writerow(row)
        if len(self._buf.lines) >= SPILL_ROWS:
            self.spill()

    def take(self) -> bytes:
        if self._rows:
            self._write_sorted()
        lines = self._buf.lines
        if not lines:
            return b""
        if not self.header:
            self.header = list(self.columns)
            head = _Lines()
            csv.writer(head, **self._dialect).writerow(self.header)
            lines.insert(0, head.lines[0])
        data = "".join(lines).encode("utf-8")
        lines.clear()
        return data

    def _write_sorted(self) -> None:
        rows, self._rows = self._rows, []
        width = len(self.columns)
        for row in rows:
            row.extend([None] * (width - len(row)))  # rows held before a column was added
        sort_by = self._sort_by
        if sort_by in self._colset:
            i = self.columns.index(sort_by)  # type: ignore[arg-type]
            try:
                rows.sort(key=lambda r: (r[i] is None, r[i]) if i < len(r) else (True, None))
            except TypeError as exc:
                raise TargetError(f"stream '{self.stream}': cannot sort by '{sort_by}': {exc}") from exc
        self._writer.writerows(rows)

    def spill(self) -> None:
        # rows wider than the file's header go out after the header is widened: a run killed in
        # between never leaves a row with a cell the header does not name (which the next run's
        # new column would then take)
        if self._widened and self.header and (self._buf.lines or self._rows):
            self._rewrite()
        super().spill()

    def flush(self) -> None:
        self.spill()
        if self._widened:
            self._rewrite()
        super().flush()

    def abort(self) -> None:
        self._rows.clear()
        self._aborted = True  # rolled back (the tap failed after its last STATE): no header-only file either
        super().abort()

    def close(self) -> None:
        if not self.file.opened and not self._aborted and (self.file.overwrite or self.file.existing_size() == 0):
            head = _Lines()  # the stream had no records: a file with the header only
            csv.writer(head, **self._dialect).writerow(self.columns)
            try:
                self.file.write(head.lines[0].encode("utf-8"))
            except OSError as exc:
                raise self.error(exc) from exc
        super().close()

    # -- widening ------------------------------------------------------------------------

    def _rewrite(self) -> None:
        """Rewrite the file with the current (wider) header; pad every row to its width."""
        width = len(self.columns)
        header_at_tail = self.file.committed == 0
        dialect = self._dialect
        header = self.columns

        def transform(part: IO[bytes], first: bool) -> Iterator[bytes]:
            out = _Lines()
            writer = csv.writer(out, **dialect)
            if first:
                writer.writerow(header)
            text = io.TextIOWrapper(part, encoding="utf-8", newline="")
            try:
                rows = csv.reader(text, **dialect)
                if first or header_at_tail:
                    next(rows, None)  # the old header
                for row in rows:
                    if len(row) < width:
                        row.extend([""] * (width - len(row)))
                    writer.writerow(row)
                    if len(out.lines) >= SPILL_ROWS:
                        yield "".join(out.lines).encode("utf-8")
                        out.lines.clear()
                yield "".join(out.lines).encode("utf-8")
            finally:
                text.detach()

        try:
            self.file.rewrite(transform)
        except (OSError, csv.Error) as exc:
            raise TargetError(f"stream '{self.stream}': cannot rewrite {self.file.path} "
                              f"with the widened header: {exc}") from exc
        self.header = list(self.columns)
        self._widened = False

"""The CSV source: which files a stream reads, how they are opened, and how failures are named.

A stream's files come from its ``path``: one file, a directory (every ``*.csv`` and
``*.csv.gz`` under it, recursively, as MeltanoLabs tap-csv reads directories), a glob
pattern in ``path``, or a directory plus a ``glob`` pattern. Files ending in ``.gz`` are
decompressed. Every failure of the file system, the decompressor, the decoder or the CSV
parser leaves this module as a :class:`FatalSourceError` naming the stream, the file and
the line.

Without ``strict`` (the default, as in Python's ``csv`` module) a stray quote inside an
unquoted field is kept as text, but a quote never closed would make the rest of the file,
rows included, one cell. :func:`check_last_row` catches that after the last row, at no
cost per row: only when the last cell holds a line break, as such a cell must, is the file
read again, and only its last row parsed.
"""

from __future__ import annotations

import codecs
import csv
import glob as globlib
import gzip
import itertools
import logging
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from protocol import FatalSourceError
from taps.csv.settings import FileSpec

__all__ = [
    "CsvReader",
    "SourceFile",
    "check_last_row",
    "iso_to_ns",
    "list_files",
    "missing_path",
    "ns_to_iso",
    "open_csv",
    "read_header",
    "source_error",
]

log = logging.getLogger("tap_csv")

CSV_SUFFIXES = (".csv", ".csv.gz")
READ_ERRORS = (OSError, EOFError, zlib.error)
# The csv module refuses cells over 128 KiB by default; exports with long text or JSON cells exceed it.
MAX_CELL_CHARS = 64 * 1024 * 1024

CsvReader = Any  # the type of csv.reader(...) objects is private to the csv module


def source_error(stream: str, path: str, detail: str, *, line: int | None = None,
                 field: str | None = None) -> FatalSourceError:
    """One line naming the stream, the file, the line and the field."""
    where = f"stream '{stream}': {path}"
    if line is not None:
        where += f", line {line}"
    if field is not None:
        where += f", field '{field}'"
    return FatalSourceError(f"{where}: {detail}")


@dataclass(frozen=True)
class SourceFile:
    """A file to read, stat'ed before reading.

    ``changed_ns`` is the later of the modification and status-change times: a file moved
    into a directory keeps its old mtime but gets a new ctime, so it is still seen as new.
    """

    path: str
    mtime_ns: int
    changed_ns: int

    @classmethod
    def stat(cls, path: str) -> SourceFile:
        st = os.stat(path)
        return cls(path, st.st_mtime_ns, max(st.st_mtime_ns, st.st_ctime_ns))

    @property
    def mtime_iso(self) -> str:
        return ns_to_iso(self.mtime_ns)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_iso(ns: int) -> str:
    """Nanoseconds since the epoch as an ISO 8601 UTC date-time with microseconds."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat(timespec="microseconds")


def iso_to_ns(value: str) -> int:
    """The inverse of :func:`ns_to_iso` (naive values are taken as UTC)."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000


def _is_csv(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES)


def missing_path(spec: FileSpec) -> str | None:
    """The configured path when it must exist and does not: a file or directory named in ``path``,
    or the directory a ``glob`` setting is matched under. A glob pattern in ``path`` may match
    nothing (yet), so it is never missing."""
    if spec.glob:
        return None if os.path.isdir(spec.path) else spec.path
    if globlib.has_magic(spec.path) or os.path.exists(spec.path):
        return None
    return spec.path


def list_files(spec: FileSpec) -> list[SourceFile]:
    """The files of a stream, sorted by path. A missing explicit file is an error; an empty
    directory or a glob matching nothing gives an empty list."""
    if spec.glob:
        pattern = os.path.join(spec.path, spec.glob)
    elif globlib.has_magic(spec.path):
        pattern = spec.path
    else:
        pattern = ""
    try:
        if pattern:
            paths = [p for p in globlib.glob(pattern, recursive=True) if os.path.isfile(p)]
        elif os.path.isdir(spec.path):
            paths = [
                os.path.join(root, name)
                for root, _dirs, names in os.walk(spec.path)
                for name in names
                if _is_csv(name)
            ]
        elif os.path.exists(spec.path):
            paths = [spec.path]
        else:
            raise source_error(spec.entity, spec.path, "file not found")
        return [SourceFile.stat(p) for p in sorted(paths)]
    except OSError as exc:
        raise source_error(spec.entity, exc.filename or spec.path, f"cannot read: {exc.strerror}") from exc


def _open_text(path: str, encoding: str) -> IO[str]:
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")  # closed by open_csv


@contextmanager
def open_csv(spec: FileSpec, path: str) -> Iterator[CsvReader]:
    """A csv.reader over one file. Read failures inside the block become FatalSourceError."""
    reader: CsvReader = None
    csv.field_size_limit(MAX_CELL_CHARS)
    try:
        with _open_text(path, spec.read_encoding) as text:
            reader = csv.reader(text, **dict(spec.dialect))
            yield reader
    except UnicodeDecodeError as exc:
        line = _undecodable_line(path, spec.read_encoding)
        raise source_error(spec.entity, path, f"cannot decode the bytes as {spec.encoding} ({exc.reason}); "
                           "set 'encoding' for this file", line=line) from exc
    except csv.Error as exc:
        line = reader.line_num if reader is not None else None
        raise source_error(spec.entity, path, f"malformed CSV: {exc}", line=line) from exc
    except READ_ERRORS as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if reader is not None:  # text is read ahead in blocks: the failure lies after the last row
            detail = f"cannot read past line {reader.line_num}: {detail}"
            raise source_error(spec.entity, path, detail, line=reader.line_num + 1) from exc
        raise source_error(spec.entity, path, f"cannot read: {detail}") from exc


def read_header(reader: CsvReader, spec: FileSpec, path: str) -> list[str]:
    """The first row: every column named, no name twice."""
    header: list[str] | None = next(reader, None)
    if not header:
        raise source_error(spec.entity, path, "no header row (the file is empty)", line=1)
    seen: set[str] = set()
    for position, name in enumerate(header, 1):
        if not name.strip():
            raise source_error(spec.entity, path, f"header column {position} has no name", line=reader.line_num)
        if name in seen:
            raise source_error(spec.entity, path, f"header names column '{name}' twice", line=reader.line_num)
        seen.add(name)
    return header


def check_last_row(spec: FileSpec, path: str, row: list[str], lines_read: int) -> None:
    """After a file read without ``strict``: an error when it ends inside a quoted field.

    Such a field holds the rest of the file, line breaks included, so nothing is done unless
    the last row's last cell holds one (a quote opened on the last line of a file without a
    final line break is not seen; it loses no row: the cell is that line's rest). The row's
    first line follows from its line breaks, all inside its cells: ``lines_read - breaks``,
    or the line after when the file's final break is in the cell too. The lines from there
    are read again, the start that parses to exactly this row is taken, and that row is
    parsed again strictly."""
    options = dict(spec.dialect)
    if options.get("strict") or not row or ("\n" not in row[-1] and "\r" not in row[-1]):
        return
    breaks = sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in row)
    first = max(1, lines_read - breaks)
    try:
        with _open_text(path, spec.read_encoding) as text:
            tail = list(itertools.islice(text, first - 1, None))
    except (*READ_ERRORS, UnicodeDecodeError) as exc:
        raise source_error(spec.entity, path, f"cannot read again: {exc}", line=first) from exc
    for skip in (0, 1):
        if list(csv.reader(tail[skip:], **options)) != [row]:
            continue
        try:
            for _ in csv.reader(tail[skip:], **{**options, "strict": True}):
                pass
        except csv.Error as exc:
            if "end of data" in str(exc):  # CPython's words; its other strict complaints are tolerated
                raise source_error(spec.entity, path, "malformed CSV: a quoted field opened in this row is "
                                   "never closed (the file ends inside it)", line=first + skip) from exc
        return


def _undecodable_line(path: str, encoding: str) -> int | None:
    """The slow path after a decode error: feed the raw lines to an incremental decoder and
    return the number of the first line it rejects."""
    decoder = codecs.getincrementaldecoder(encoding)()
    opener = gzip.open if path.lower().endswith(".gz") else open
    line = 1
    try:
        with opener(path, "rb") as raw:
            for chunk in raw:
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError:
                    return line
                line += text.count("\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line
    except READ_ERRORS:
        return None
    return None

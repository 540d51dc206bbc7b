"""Rows built in bulk from the chunked reader's decoded records (the fast path of SQL sinks).

The chunked reader (:mod:`protocol._chunks`, the fast record lane) hands a sink whole runs of validated records,
decoded by msgspec into one struct per record. For a table whose every column is a scalar
field of the record's own type (integer, number, boolean, plain string, date-time, date),
a run becomes CSV in three C-level steps: one tuple per record (``attrgetter``), msgspec's
``encode_lines`` (``[1,"Ada",12.5,true,null,"2024-01-02T03:04:05Z"]`` per line), and a
``bytes.replace`` that drops the brackets. A JSON array of scalars *is* a CSV line:
strings are double-quoted (and may hold commas), numbers and booleans are bare, and
``null`` is read as NULL (``NULL 'null'``; a quoted "null" stays a string). Numbers keep
their value: msgspec writes the shortest text that reads back the same float, as the
reference path does.

JSON escapes are not CSV. msgspec writes non-ASCII text as itself (a ``\\u00e9`` of the input
is gone), so the escapes left are a quote, a backslash and control characters: the common ones
(``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\r``, ``\\b``, ``\\f``) are undone for the whole run
at once (a quoted CSV field may hold newlines). A run that still holds
an escape then (a control character as ``\\u00XX``, NUL among them) is rewritten line by line
from the decoded values; a line with a digit run of 16 or more (a float could round it) is
written from its exact parse, the lines between such lines still in bulk (a sha256 hex digest
often holds such a run); strings are quoted CSV-style with NUL dropped, as the record-by-record
path does; every value that loses a NUL is counted per (table, column) in the loader's
``nul_removed`` (a NUL is always escaped in JSON, so only these lines hold one); for a database
that stores NUL (``keep_nul``, DuckDB) it is written as it is.
Constant columns (a field the schema lacks, the table version) are appended to every line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from operator import attrgetter
from typing import Any

import msgspec

from protocol import TinyNumbers, exact_loads, field_types, long_digit_lines, struct_attrs
from targets.sql import types as T
from targets.sql.dialect import VERSION_COLUMN
from targets.sql.table import TableSpec

__all__ = ["RawRows", "plan_raw_rows"]

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()
_SIMPLE: dict[str, tuple[frozenset[str], str | None]] = {
    T.INTEGER: (frozenset({"integer"}), None),
    T.NUMBER: (frozenset({"number"}), None),
    T.BOOLEAN: (frozenset({"boolean"}), None),
    T.STRING: (frozenset({"string"}), None),
    T.TIMESTAMP: (frozenset({"string"}), "date-time"),
    T.DATE: (frozenset({"string"}), "date"),
}


def _simple(prop: Mapping[str, Any], logical: str) -> bool:
    """Whether the property is one scalar type whose decoded value writes the same column text."""
    if not isinstance(prop, Mapping):
        return False
    if logical in (T.TIMESTAMP, T.DATE) and set(prop) == {"anyOf"} and all(
            isinstance(sub, Mapping) and field_types(sub) <= {"string", "null"} for sub in prop["anyOf"]):
        return True  # RFC 3339 text or the database's own (infinity, BC): a string written as it is
    if set(prop) & {"anyOf", "oneOf", "allOf", "enum", "const"}:
        return False
    types = field_types(prop) - {"null"}
    wanted = _SIMPLE.get(logical)
    if wanted is None:
        return False
    kinds, fmt = wanted
    if logical == T.NUMBER and types == {"integer", "number"}:
        types = {"number"}
    return types == kinds and prop.get("format") == fmt


class RawRows:
    """How one table's CSV rows are built from decoded records."""

    fmt = "csv"  # what :meth:`build` writes (targets/sql/jsonruns.py: "json")

    def __init__(self, fields: list[tuple[str, str]], constants: list[tuple[str, str]], *, table: str = "",
                 nul_removed: Counter[tuple[str, str]] | None = None, keep_nul: bool = False,
                 backslash: bool = False, number_fields: list[str] | None = None,
                 time_fields: list[str] | None = None) -> None:
        #: (column, record field) written from the decoded record, then constant columns
        self.fields = fields
        self.constants = constants  # (column, "null" | "version")
        self.columns = [c for c, _ in fields] + [c for c, _ in constants]
        self._getters: dict[type, Callable[[Any], Any]] = {}
        #: the record fields of number columns (None: not known, every field is looked at)
        self._tiny = TinyNumbers([f for _, f in fields] if number_fields is None else number_fields)
        self._nul_keys = [(table, c) for c, _ in fields]
        self._nul_removed = nul_removed
        self._keep_nul = keep_nul
        #: the CSV is read with a backslash as its escape (PostgreSQL's ESCAPE '\'): a quote inside a
        #: string is \" and a backslash \\, as in JSON, instead of a doubled quote
        self._backslash = backslash
        #: the positions in ``fields`` of date-time columns: a value written from its exact parse (the
        #: decoded one is a datetime, written upper-case) has its "t" and "z" upper-cased, as
        #: RFC 3339 allows and DuckDB requires (its read_csv refuses them, or before 2.0.1 reads NULL)
        times = set(time_fields or ())
        self._times = [i for i, (_, f) in enumerate(fields) if f in times]

    def field_values(self, values: list[Any], fields: list[str]) -> list[list[Any] | None]:
        """Each of ``fields``' values in the decoded records ``values`` (None: not a field of their type)."""
        attrs = struct_attrs(values[0].__class__) if values else {}
        return [list(map(attrgetter(attrs[f]), values)) if f in attrs else None for f in fields]

    def _getter(self, cls: type) -> Callable[[Any], Any] | None:
        getter = self._getters.get(cls)
        if getter is None:
            attrs = struct_attrs(cls)
            if not all(f in attrs for _, f in self.fields):
                return None
            getter = attrgetter(*(attrs[f] for _, f in self.fields))
            self._getters[cls] = getter
        return getter

    def build(self, values: list[Any], records: bytes | memoryview, version: int | None, *,
              faithful: bool = False) -> bytes | None:
        """CSV lines (newline-terminated) for the decoded ``values`` (``records``: their JSON
        text, one per line), or None when this run must be written record by record.
        ``faithful``: ``values`` hold every number as ``records`` write it (see
        :class:`protocol.RecordRun`), so the text is not searched for numbers a float rounds."""
        if not values:
            return None
        getter = self._getter(values[0].__class__)
        if getter is None:
            return None
        data = _ENCODER.encode_lines(map(getter, values))
        suffix = b"".join(b"," + (str(version).encode() if kind == "version" and version is not None else b"null")
                          for _, kind in self.constants)
        raw = b"" if faithful else bytes(records)
        # a number below a float's normal range was read as 0.0 or lost digits: only then are
        # the lines searched for tiny exponents (the search costs twice the long-digit one)
        exact = [] if faithful else long_digit_lines(raw, tiny=self._tiny(values))
        nul: Counter[tuple[str, str]] = Counter()  # added to the loader's count once the run is built
        try:
            rows = (self._exact(data, raw.split(b"\n"), exact, suffix, nul) if exact
                    else self._rows(data, len(values), suffix, nul))
        except (msgspec.DecodeError, ValueError):
            return None
        if nul and self._nul_removed is not None:
            self._nul_removed.update(nul)
        return rows

    def _rows(self, data: bytes, count: int, suffix: bytes, nul: Counter[tuple[str, str]]) -> bytes:
        """The CSV lines of ``data`` (msgspec's ``count`` lines of value arrays, newline-terminated)."""
        # Lines are split on the structure first: until the escapes are undone, the only
        # newlines in ``data`` are the ones between records.
        rows = _unbracketed(data, count, suffix)
        if b"\\" not in rows:
            return rows
        unescaped = _csv_text_backslash(rows) if self._backslash else _csv_text(rows)
        if unescaped is not None:
            return unescaped
        # A string holding an escape the bulk step leaves (a control character): its lines
        # are rewritten one by one from their decoded values.
        out = [self._csv_row(_DECODER.decode(line), nul) + suffix if b"\\" in line else line[1:-1] + suffix
               for line in data[:-1].split(b"\n")]
        return b"\n".join(out) + b"\n"

    def _exact(self, data: bytes, texts: list[bytes], exact: list[int], suffix: bytes,
               nul: Counter[tuple[str, str]]) -> bytes:
        """:meth:`_rows` for a run with digit runs a float could round: the lines ``exact``
        are written from their exact parse, the lines between them in bulk."""
        lines = data[:-1].split(b"\n")
        parts: list[bytes] = []
        start = 0
        for i in [*exact, len(lines)]:
            if i > start:
                parts.append(self._rows(b"\n".join(lines[start:i]) + b"\n", i - start, suffix, nul))
            if i < len(lines):
                record = exact_loads(texts[i])
                values = [record.get(f) for _, f in self.fields]
                for k in self._times:
                    values[k] = T.upper_time(values[k])
                parts.append(self._csv_row(values, nul) + suffix + b"\n")
            start = i + 1
        return b"".join(parts)

    def _csv_row(self, values: Iterable[Any], nul: Counter[tuple[str, str]]) -> bytes:
        """One CSV line (no suffix) of the field values; counts in ``nul`` the values that lose a NUL."""
        parts = []
        for key, value in zip(self._nul_keys, values, strict=True):
            if value.__class__ is str and "\x00" in value and not self._keep_nul:
                nul[key] += 1
            parts.append(_csv_value(value, keep_nul=self._keep_nul, backslash=self._backslash))
        return b",".join(parts)


def _unbracketed(data: bytes, count: int, suffix: bytes) -> bytes:
    """``count`` lines of value arrays without their brackets, ``suffix`` before each newline. Each
    line holds one "[" and one "]" of its own; when the text holds no other (no string has one: the
    length tells), they are deleted in one pass, several times cheaper than replacing "]\n["."""
    if not suffix:
        rows = data.translate(None, b"[]")
        if len(rows) == len(data) - 2 * count:
            return rows
    return data[1:-2].replace(b"]\n[", suffix + b"\n") + suffix + b"\n"


# The escapes msgspec writes inside a string (by the letter after the backslash), and what a
# quoted CSV field holds instead.
_UNESCAPE = {ord('"'): b'""', ord("n"): b"\n", ord("t"): b"\t", ord("r"): b"\r", ord("b"): b"\b",
             ord("f"): b"\f"}
# The same for a CSV read with a backslash as its escape (PostgreSQL's ESCAPE '\\'): the quote stays \\".
_UNESCAPE_BACKSLASH = {**_UNESCAPE, ord('"'): b'\\"'}
# Any escape but \" and \n (an escaped backslash included); absent in most text.
_NOT_QUOTE_OR_NEWLINE = re.compile(rb'\\[^"n]')


def _csv_text(rows: bytes) -> bytes | None:
    """Rows of JSON scalars with their string escapes undone in bulk (``\\"`` becomes ``""``,
    ``\\n`` a newline inside the quoted field), or None when an escape is left that needs the
    line-by-line path: a control character written as ``\\u00XX``, NUL among them. msgspec
    writes every other character as itself, so ``\\u`` escapes of the input are already gone.

    The usual text (quotes and newlines, no backslash of its own) takes three passes over the
    whole run, none of them per escape: one search that finds no other escape, so that every
    backslash starts ``\\"`` or ``\\n``; the newlines (a split at ``\\n`` joined by newlines,
    cheaper than a regular expression's substitution, which builds a match per escape); then
    every backslash left becomes a quote (``\\"`` is ``""``), a one-byte replace. Anything else
    is split at the escapes."""
    if _NOT_QUOTE_OR_NEWLINE.search(rows) is None:
        return b"\n".join(rows.split(b"\\n")).replace(b"\\", b'"')
    return _split_at_escapes(rows)


def _split_at_escapes(rows: bytes, unescape: dict[int, bytes] = _UNESCAPE,
                      backslash: bytes = b"\\") -> bytes | None:
    """:func:`_csv_text` for any text: split on the backslash (one ``memchr`` pass), every
    piece after the first starts with an escape letter. ``unescape``: what each escape becomes,
    ``backslash``: what an escaped backslash becomes (for a CSV read with a backslash escape, see
    :func:`_csv_text_backslash`, the quote and the backslash stay escaped)."""
    parts = rows.split(b"\\")
    try:
        if b"" not in parts:
            return parts[0] + b"".join([unescape[p[0]] + p[1:] for p in parts[1:]])
        return _with_backslashes(parts, unescape, backslash)
    except KeyError:  # \u00XX
        return None


def _with_backslashes(parts: list[bytes], unescape: dict[int, bytes], backslash: bytes) -> bytes:
    """:func:`_split_at_escapes` for text that holds a backslash itself (``\\\\``): its split leaves an
    empty piece, and the piece after that follows the backslash as written."""
    out = [parts[0]]
    i, n = 1, len(parts)
    while i < n:
        piece = parts[i]
        if piece:
            out.append(unescape[piece[0]])
            out.append(piece[1:])
            i += 1
        else:
            out.append(backslash)
            out.append(parts[i + 1])
            i += 2
    return b"".join(out)


def _csv_text_backslash(rows: bytes) -> bytes | None:
    """:func:`_csv_text` for CSV read with a backslash as its escape: ``\\"`` and ``\\\\`` stay as
    msgspec wrote them, so the usual text (quotes and newlines) takes two passes: the search, and the
    newlines. Anything else is split at the escapes. None when a ``\\u00XX`` is left."""
    if _NOT_QUOTE_OR_NEWLINE.search(rows) is None:
        return b"\n".join(rows.split(b"\\n"))
    return _split_at_escapes(rows, _UNESCAPE_BACKSLASH, b"\\\\")


def _csv_value(value: Any, *, keep_nul: bool = False, backslash: bool = False) -> bytes:
    """One scalar as CSV text: strings quoted with '"' doubled (with ``backslash``: a quote and a
    backslash escaped by a backslash) and NUL dropped (PostgreSQL cannot store it; the
    record-by-record path drops it too) unless ``keep_nul``; exact Decimals as text."""
    cls = value.__class__
    if cls is str:
        text = value if keep_nul else value.replace("\x00", "")
        if backslash:
            return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
        return b'"' + text.replace('"', '""').encode() + b'"'
    if cls is Decimal:
        return str(value).encode()
    return _ENCODER.encode(value)


def plan_raw_rows(spec: TableSpec, props: Mapping[str, Any],
                  nul_removed: Counter[tuple[str, str]] | None = None, *, keep_nul: bool = False,
                  backslash: bool = False) -> RawRows | None:
    """The bulk row builder for ``spec``, or None when some column needs the per-record path.
    ``nul_removed`` counts, per (table, column), the values whose NUL characters were dropped;
    ``keep_nul``: the database stores NUL, strings are written with it."""
    fields: list[tuple[str, str]] = []
    constants: list[tuple[str, str]] = []
    for col in spec.columns:
        source = col.source
        if source.meta is not None:
            if source.meta != "version" or col.name != VERSION_COLUMN:
                return None
            constants.append((col.name, "version"))
        elif source.field not in props:
            constants.append((col.name, "null"))
        elif col.logical == source.logical and _simple(props[source.field], col.logical):
            fields.append((col.name, source.field))
        else:
            return None
    if len(fields) < 2:
        return None  # attrgetter of one name returns the value, not a tuple
    numbers = [col.source.field for col in spec.columns if col.logical == T.NUMBER and col.source.meta is None
               and col.source.field in props]
    times = [col.source.field for col in spec.columns if col.logical == T.TIMESTAMP and col.source.meta is None]
    return RawRows(fields, constants, table=spec.table, nul_removed=nul_removed, keep_nul=keep_nul,
                   backslash=backslash, number_fields=numbers, time_fields=times)

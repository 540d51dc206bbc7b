"""The metadata columns of a SQL table (``_sdc_*``) and the checks a record passes before it is encoded.

The target writes its own metadata columns from the message, never from the record: a stream whose
schema declares ``_sdc_table_version`` (a table read back from a warehouse that a Singer target loaded)
still gets the RECORD's ``version`` in that column, since it is what ACTIVATE_VERSION compares; a
record's own value there would have the rows it just loaded deleted as an older version. The one
metadata column read from the record is ``_sdc_deleted_at`` (LOG_BASED taps set it on deleted rows).

A table that has ``_sdc_deleted_at`` (soft deletes by ACTIVATE_VERSION, in this run or an earlier one)
gets it in every row written: the record's own value, else NULL, so a row soft-deleted once and sent
again in a later version is no longer marked deleted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from protocol import Bounds, RecordValidationError, is_date, is_date_time
from targets.sql.dialect import DELETED_COLUMN, VERSION_COLUMN
from targets.sql.table import Existing, Wanted
from targets.sql.types import DATE, INTEGER, TIMESTAMP, logical_type

__all__ = ["DELETED_COLUMN", "METADATA_COLUMNS", "VERSION_COLUMN", "bad_time", "null_key", "past_bounds",
           "wanted_columns"]

#: name, logical type, source (``field``: read from the record like any field)
METADATA_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_sdc_extracted_at", TIMESTAMP, "extracted"),
    ("_sdc_received_at", TIMESTAMP, "received"),
    ("_sdc_batched_at", TIMESTAMP, "batched"),
    (DELETED_COLUMN, TIMESTAMP, "field"),
    ("_sdc_sequence", INTEGER, "sequence"),
    (VERSION_COLUMN, INTEGER, "version"),
)


def wanted_columns(props: Mapping[str, Any], existing: Existing | None, *, all_metadata: bool, versioned: bool,
                   soft_deletes: bool) -> list[Wanted]:
    """What a table of the stream with properties ``props`` is written: each property, then the
    metadata columns (``all_metadata``: add_record_metadata; else the version column once the
    stream is ``versioned``, ``_sdc_deleted_at`` with ``soft_deletes`` or where the table has it).
    A metadata column the target writes itself replaces a property of the same name."""
    if all_metadata:
        metas = list(METADATA_COLUMNS)
    else:
        soft = soft_deletes or (existing is not None and DELETED_COLUMN in existing.columns)
        metas = [m for m in METADATA_COLUMNS if (m[0] == VERSION_COLUMN and versioned)
                 or (m[0] == DELETED_COLUMN and soft)]
    own = {name for name, _, src in metas if src != "field"}
    wanted = [Wanted(name, logical_type(prop)) for name, prop in props.items() if name not in own]
    wanted += [Wanted(name, logical, None if src == "field" else src)
               for name, logical, src in metas if src != "field" or name not in props]
    return wanted


def null_key(stream: str, key: str, line: int | None) -> RecordValidationError:
    return RecordValidationError("key property is null: a table's key columns cannot hold NULL (records are "
                                 "upserted by key)", line=line, stream=stream, field=key)


def past_bounds(stream: str, field: str, column: str, value: Any, bounds: Bounds, line: int | None
                ) -> RecordValidationError:
    return RecordValidationError(f"{value} is past what column {column} holds ({bounds.what})", line=line,
                                 stream=stream, field=field)


#: the text of what RFC 3339 cannot hold that PostgreSQL writes (tap-postgres sends it beside RFC 3339 in an
#: anyOf): ±infinity, years past 9999 and BC; a definite value, which the databases read as it is
_BEYOND_RFC3339 = {
    TIMESTAMP: re.compile(r"(-?infinity|\d{5,}-\d\d-\d\d[Tt ]\S+|\d{4}-\d\d-\d\d[Tt ]\S+ BC)\Z"),
    DATE: re.compile(r"(-?infinity|\d{5,}-\d\d-\d\d|\d{4}-\d\d-\d\d BC)\Z"),
}
_CHECKS = {TIMESTAMP: (is_date_time, "an RFC 3339 date-time"), DATE: (is_date, "an RFC 3339 date (YYYY-MM-DD)")}


def bad_time(stream: str, field: str, logical: str, value: Any, line: int | None) -> RecordValidationError | None:
    """The error for a date-time or date value a database would read by guessing (validate_records
    false: PostgreSQL reads "yesterday" as a date, "epoch" as 1970-01-01, "1/2/2024" by its DateStyle);
    None for RFC 3339 text and the values of :data:`_BEYOND_RFC3339`."""
    check, what = _CHECKS[logical]
    if value.__class__ is str and (check(value) or _BEYOND_RFC3339[logical].match(value)):
        return None
    return RecordValidationError(f"{value!r} is not {what}: the database would guess what it means, so it is "
                                 "refused (validate_records is false: records are not checked against their "
                                 "schema)", line=line, stream=stream, field=field)

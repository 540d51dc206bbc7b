"""One table per stream, and never a table the target did not create for that stream.

Each SQL target records which stream it created each table for, in a small table
``_sluice_tables`` (``table_name``, ``stream``, ``created_at``) beside the tables it loads,
in the same transaction as the ``CREATE TABLE``. When a stream's SCHEMA arrives its table
name is resolved (``table_names``, else ``table_prefix`` and the ``<schema>-<table>`` rule,
then made a safe identifier) and claimed:

- a table recorded for this very stream is loaded again (reruns, schema changes);
- a name that another stream of the run already claimed, or that is recorded for another
  stream, fails the run before a row of the second stream is loaded, with one line naming
  both streams (give one of them its own table with ``table_names``);
- an existing table that is not recorded (made by hand, by another loader, or by a Sluice
  from before the record existed) is refused, unless ``adopt_existing_tables`` is true:
  then it is recorded as this stream's and loaded (and evolved) from then on;
- a record whose table no longer exists is stale: the name is claimed anew.

Names are compared the way the database compares identifiers (SQLite folds ASCII case, so
``Users`` and ``users`` are one table there; PostgreSQL keeps them apart). Table names
starting with ``_sluice_`` are reserved for the target's own tables.
"""

from __future__ import annotations

import logging

from protocol import ConfigError
from targets.sql.dialect import OWNERS_TABLE, Loader

__all__ = ["OWNERS_TABLE", "RESERVED_PREFIX", "TableClaims"]

log = logging.getLogger("sluice.target.sql")

RESERVED_PREFIX = "_sluice_"


def _recorded(stream: str) -> str:
    """The stream name as recorded (PostgreSQL text cannot hold NUL)."""
    return stream.replace("\x00", "\\u0000")


class TableClaims:
    """The tables claimed by the streams of one run, checked against the recorded owners."""

    def __init__(self, loader: Loader, schema: str | None, *, adopt_existing: bool) -> None:
        self.loader = loader
        self.schema = schema
        self.adopt_existing = adopt_existing
        self.mapper = loader.mapper()
        self._claimed: dict[str, tuple[str, str]] = {}  # same_key(table) -> (table, stream)

    def claim(self, stream: str, name: str, line: int | None) -> str:
        """The table of ``stream`` (``name`` as configured, not yet a safe identifier);
        raises ConfigError when it belongs to another stream or to nobody."""
        table = self.mapper.one(name)
        key = self.mapper.same_key(table)
        at = f"line {line}: " if line is not None else ""
        if key.startswith(RESERVED_PREFIX):
            raise ConfigError(f"{at}stream '{stream}' would load into table \"{table}\", a name reserved for "
                              f"the target's own tables ({RESERVED_PREFIX}*); map it elsewhere with table_names")
        if key in self._claimed:
            other_table, other = self._claimed[key]
            raise self._collision(at, stream, other, table, other_table)
        exists = self.loader.describe(self.schema, table) is not None
        me = _recorded(stream)
        owner = self.loader.owner(self.schema, table)
        if exists and owner is not None and owner != me:
            raise self._collision(at, stream, owner, table, table, earlier=True)
        if exists and owner is None:
            if not self.adopt_existing:
                raise ConfigError(
                    f"{at}stream '{stream}' would load into table \"{table}\", which exists and was not created by "
                    f"this target for the stream; set adopt_existing_tables to load into it, or map the stream "
                    f"elsewhere with table_names")
            log.info("stream '%s': adopting existing table %s (adopt_existing_tables)", stream, table)
        if owner != me:  # no record, or a stale one (its table is gone)
            now = self.loader.record_owner(self.schema, table, me, replace=owner is not None)
            if now != me:  # another run claimed it meanwhile
                raise self._collision(at, stream, now, table, table, earlier=True)
        self._claimed[key] = (table, stream)
        return table

    @staticmethod
    def _collision(at: str, stream: str, other: str, table: str, other_table: str, *,
                   earlier: bool = False) -> ConfigError:
        where = f"table \"{other_table}\"" if other_table == table else \
            f"tables \"{other_table}\" and \"{table}\" (one table to the database)"
        when = " (recorded by another run)" if earlier else ""
        return ConfigError(f"{at}streams '{other}'{when} and '{stream}' would both load into {where}; "
                           f"give one of them its own table with table_names")

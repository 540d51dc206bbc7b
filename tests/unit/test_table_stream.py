"""TableStream: a stream found at run time (a database table), offered like any other stream."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from protocol import Catalog, Stream, TableStream, Tap

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": ["null", "string"]}, "at": {"type": "string", "format": "date-time"}}}


class Tables(Tap):
    name: ClassVar[str] = "tap-tables"

    def streams(self) -> list[Stream]:
        return [
            TableStream(self, "public-users", SCHEMA, primary_keys=["id"],
                        stream_metadata={"schema-name": "public", "table-name": "users", "is-view": False},
                        field_metadata={"id": {"sql-datatype": "integer"}, "name": {"sql-datatype": "text"}}),
            TableStream(self, "public-log", {"type": "object", "properties": {"line": {"type": "string"}}}),
        ]


def test_a_table_stream_entry_carries_the_source_metadata_and_forces_no_method() -> None:
    users = Tables({}).discover().get("public-users")
    assert users is not None
    assert users.to_dict() == {
        "tap_stream_id": "public-users",
        "stream": "public-users",
        "schema": SCHEMA,
        "key_properties": ["id"],
        "metadata": [
            {"breadcrumb": [], "metadata": {"inclusion": "available", "selected-by-default": True,
                                            "table-key-properties": ["id"], "schema-name": "public",
                                            "table-name": "users", "is-view": False}},
            {"breadcrumb": ["properties", "at"], "metadata": {"inclusion": "available", "selected-by-default": True}},
            {"breadcrumb": ["properties", "id"], "metadata": {"sql-datatype": "integer", "inclusion": "automatic"}},
            {"breadcrumb": ["properties", "name"], "metadata": {"sql-datatype": "text", "inclusion": "available",
                                                                "selected-by-default": True}},
        ],
    }
    assert users.replication_method is None and users.replication_key is None
    assert users.selected and users.selected_schema() == SCHEMA


def test_table_streams_are_what_discovery_and_the_connection_check_see() -> None:
    tap = Tables({})
    catalog = tap.discover()
    assert [e.tap_stream_id for e in catalog.streams] == ["public-users", "public-log"]
    log = catalog.get("public-log")
    assert log is not None and log.key_properties == [] and log.metadata.get((), "table-key-properties") == []
    assert tap.test_connection() == "2 streams available"
    assert Catalog.from_dict(catalog.to_dict()).to_dict() == catalog.to_dict()


def test_tap_postgres_tables_as_table_streams_discover_byte_for_byte_the_same() -> None:
    """The adoption tap-postgres needs (streams() returning TableStreams) keeps --discover's bytes."""
    from taps.postgres.discovery import Column, Table

    table = Table("public", "users", False, keys=["id"], columns={
        "id": Column("id", "integer", "int4", "int", False),
        "doc": Column("doc", "jsonb", "jsonb", "json"),
        "at": Column("at", "timestamp with time zone", "timestamptz", "tstz"),
    })
    for as_object in (False, True):
        # the entry tap-postgres discovered before it offered TableStreams (Table.catalog_entry)
        want = TableStream(
            Tables({}), table.stream_id, table.json_schema(as_object), primary_keys=table.keys,
            stream_metadata={"schema-name": table.schema_name, "table-name": table.name, "is-view": table.is_view},
            field_metadata={name: {"sql-datatype": col.sql_type} for name, col in table.columns.items()})
        got: dict[str, Any] = table.stream(Tables({}), as_object).catalog_entry().to_dict()
        assert orjson.dumps(got) == orjson.dumps(want.catalog_entry().to_dict())

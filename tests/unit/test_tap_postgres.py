"""tap-postgres without a server: text values, pgoutput messages, settings to conninfo, error mapping."""

from __future__ import annotations

import struct
from decimal import Decimal

import orjson
import psycopg
import pytest
from psycopg import errors as pg_errors

from protocol._errors import ConfigError, FatalSourceError, RetryableSourceError
from protocol._jsoncodec import dumps
from taps.postgres.client import conninfo_from_config, describe, source_error
from taps.postgres.discovery import Column
from taps.postgres.pgoutput import (
    UNCHANGED,
    Begin,
    Change,
    Commit,
    Relation,
    Truncate,
    decode,
    lsn_from_text,
    lsn_to_text,
)
from taps.postgres.tap import TapPostgres
from taps.postgres.values import converter_for, parse_array


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("int", "-9223372036854775808", -9223372036854775808),
    ("numeric", "12345678901234567890.000000000012", Decimal("12345678901234567890.000000000012")),
    ("numeric", "NaN", None),
    ("numeric", "$1,234.56", Decimal("1234.56")),
    ("float", "1.5e-300", 1.5e-300),
    ("float", "Infinity", None),
    ("bool", "t", True),
    ("bool", "f", False),
    ("tstz", "2024-01-02 03:04:05.5+00", "2024-01-02T03:04:05.5+00:00"),
    ("ts", "1999-12-31 23:59:59", "1999-12-31T23:59:59+00:00"),
    ("tstz", "infinity", "infinity"),
    ("tstz", "-infinity", "-infinity"),
    ("tstz", "10000-01-01 00:00:00+00", "10000-01-01T00:00:00+00:00"),
    ("tstz", "0044-03-15 10:00:00.5+00 BC", "0044-03-15T10:00:00.5+00:00 BC"),
    ("ts", "0044-03-15 10:00:00 BC", "0044-03-15T10:00:00+00:00 BC"),
    ("ts", "-infinity", "-infinity"),
    ("date", "0044-03-15 BC", "0044-03-15 BC"),
    ("date", "2024-02-29", "2024-02-29"),
    ("bytea", "\\x00ff", "00ff"),
    ("text", "a\nb", "a\nb"),
])
def test_text_values_convert_like_the_snapshot_renders_them(kind: str, text: str, expected: object) -> None:
    assert converter_for(kind)(text) == expected


def test_json_values_stay_exact_and_one_line() -> None:
    one_line = converter_for("json")('{"n": 12345678901234567890.5, "s": "x\\ny"}')
    assert dumps({"j": one_line}) == b'{"j":{"n": 12345678901234567890.5, "s": "x\\ny"}}'
    spanning = converter_for("json")('{"a":\n 1.50}')
    assert b"\n" not in dumps({"j": spanning}) and orjson.loads(dumps(spanning)) == {"a": 1.5}


@pytest.mark.parametrize(("text", "element", "expected"), [
    ("{}", None, []),
    ("{1,NULL,-3}", "int", [1, None, -3]),
    ('{"a,b","c\\"d",NULL,"","NULL"}', "text", ["a,b", 'c"d', None, "", "NULL"]),
    ("{{1,2},{3,4}}", "int", [[1, 2], [3, 4]]),
    ("[0:1]={1.10,2}", "numeric", [Decimal("1.10"), Decimal("2")]),
    ('{"2024-01-02 03:04:05+00"}', "tstz", ["2024-01-02T03:04:05+00:00"]),
    ('{"\\\\x01ff"}', "bytea", ["\\x01ff"]),
    ("{t,f}", "bool", [True, False]),
])
def test_array_literals(text: str, element: str | None, expected: list[object]) -> None:
    assert converter_for("array", element)(text) == expected
    if element is None:
        assert parse_array(text) == expected


def _tuple(*values: str | None) -> bytes:
    out = struct.pack(">h", len(values))
    for v in values:
        out += b"n" if v is None else b"t" + struct.pack(">i", len(v.encode())) + v.encode()
    return out


def test_pgoutput_messages() -> None:
    begin = decode(b"B" + struct.pack(">QqI", 0x1_0000_0010, 0, 7))
    assert begin == Begin(0x1_0000_0010, "2000-01-01T00:00:00+00:00")
    assert decode(b"C\0" + struct.pack(">QQq", 5, 9, 0)) == Commit(9)
    rel = (b"R" + struct.pack(">i", 42) + b"public\0items\0d" + struct.pack(">h", 2)
           + b"\x01id\0" + struct.pack(">ii", 23, -1) + b"\0v\0" + struct.pack(">ii", 25, -1))
    assert decode(rel) == Relation(42, "public", "items", ["id", "v"], [23, 25])
    assert decode(b"I" + struct.pack(">i", 42) + b"N" + _tuple("1", None)) == Change("I", 42, None, ["1", None])
    update = decode(b"U" + struct.pack(">i", 42) + b"K" + _tuple("1", None) + b"N" + _tuple("2", "x"))
    assert update == Change("U", 42, ["1", None], ["2", "x"])
    toast = decode(b"U" + struct.pack(">i", 42) + b"N" + struct.pack(">h", 1) + b"u")
    assert isinstance(toast, Change) and toast.new == [UNCHANGED]
    assert decode(b"D" + struct.pack(">i", 42) + b"K" + _tuple("1", None)) == Change("D", 42, ["1", None], None)
    assert decode(b"T" + struct.pack(">ib", 2, 0) + struct.pack(">ii", 42, 43)) == Truncate([42, 43])
    assert decode(b"Y" + struct.pack(">i", 1) + b"public\0mood\0") is None


def test_lsn_text_round_trip() -> None:
    assert lsn_from_text("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert lsn_to_text(lsn_from_text("16/B374D848")) == "16/B374D848"


def test_conninfo_from_settings() -> None:
    url, params = conninfo_from_config({"sqlalchemy_url": "postgresql+psycopg2://u:p@h:6543/db", "host": "ignored"})
    assert url == "postgresql://u:p@h:6543/db" and "host" not in params
    assert "TimeZone=UTC" in params["options"]
    assert describe(url, params) == "h:6543/db"  # never the password
    _, params = conninfo_from_config({"host": "db", "user": "me", "password": "pw", "database": "d",
                                      "ssl_enable": True, "ssl_mode": "require"})
    assert params["host"] == "db" and params["port"] == 5432 and params["dbname"] == "d"
    assert params["sslmode"] == "require"
    with pytest.raises(ConfigError, match="ssl_mode"):
        conninfo_from_config({"host": "db", "ssl_enable": True, "ssl_mode": "sometimes"})
    with pytest.raises(ConfigError, match="sqlalchemy_url"):
        conninfo_from_config({})
    with pytest.raises(ConfigError, match="ssl_client_private_key"):
        conninfo_from_config({"host": "db", "ssl_client_certificate_enable": True, "ssl_client_certificate": "c"})


def test_psycopg_errors_map_into_the_kit() -> None:
    assert isinstance(source_error(pg_errors.InsufficientPrivilege("denied"), "h", "reading"), FatalSourceError)
    assert isinstance(source_error(pg_errors.AdminShutdown("bye"), "h", "reading"), RetryableSourceError)
    refused = source_error(psycopg.OperationalError("connection refused"), "h:5432/db", "cannot connect")
    assert isinstance(refused, RetryableSourceError) and str(refused).startswith("PostgreSQL at h:5432/db")
    auth = source_error(psycopg.OperationalError('password authentication failed for user "x"'), "h", "connect")
    assert isinstance(auth, FatalSourceError)


def test_settings_are_the_meltanolabs_names_and_secrets_are_marked() -> None:
    props = TapPostgres.settings_schema["properties"]
    for name in ("host", "port", "user", "password", "database", "sqlalchemy_url", "filter_schemas",
                 "default_replication_method", "replication_slot_name", "json_as_object", "ssl_enable",
                 "ssl_client_certificate_enable", "ssl_mode", "ssl_certificate_authority", "ssl_client_certificate",
                 "ssl_client_private_key", "ssl_storage_directory"):
        assert name in props, name
    assert {n for n, p in props.items() if p.get("secret")} == {
        "password", "sqlalchemy_url", "connection_string", "ssl_client_private_key"}


def test_column_schemas() -> None:
    assert Column("m", "mood", "mood", "enum", True, labels=["a"]).schema() == {
        "type": ["null", "string"], "enum": ["a", None]}
    assert Column("j", "jsonb", "jsonb", "json").schema(json_as_object=True) == {"type": ["null", "object"]}
    assert Column("x", "tsvector", "tsvector", "text", False).schema() == {"type": "string"}


def test_writer_takes_a_rendered_record_payload() -> None:
    import io

    from protocol._writer import MessageWriter

    out = io.BytesIO()
    writer = MessageWriter(out)
    writer.write_records_json("s", b'{"n":1.50}\n')
    writer.write_records_json("s", b'{"n":2}\n', version=7)
    writer.close()
    assert out.getvalue() == (b'{"type":"RECORD","stream":"s","record":{"n":1.50}}\n'
                              b'{"type":"RECORD","stream":"s","record":{"n":2},"version":7}\n')


def test_writer_takes_rendered_records_in_bulk() -> None:
    import io

    from protocol._writer import MessageWriter

    rows = b'{"n":1.50}\n{"s":"a\\nb"}\n{"n":2}\n'
    bulk, single = io.BytesIO(), io.BytesIO()
    for version in (None, 7):
        writer = MessageWriter(bulk)
        writer.write_records_json("s", rows, version=version)
        writer.close()
    for version in (None, 7):
        writer = MessageWriter(single)
        for row in rows.splitlines():
            writer.write_records_json("s", row + b"\n", version=version)
        writer.close()
    assert bulk.getvalue() == single.getvalue()
    assert bulk.getvalue().splitlines()[4] == b'{"type":"RECORD","stream":"s","record":{"s":"a\\nb"},"version":7}'


def test_json_columns_declare_every_json_type_and_json_as_object_wraps_the_rest() -> None:
    import orjson

    from taps.postgres.values import converter_for

    column = Column("j", "jsonb", "jsonb", "json")
    assert column.schema() == {"type": ["null", "object", "array", "string", "number", "boolean"]}
    wrap = converter_for("json", json_as_object=True)
    as_json = [orjson.dumps(wrap(text)) for text in ('{"a": 1}', "[1, 2]", '"s"', "1.50", "true", "null", ' [\n 1]')]
    assert as_json == [b'{"a": 1}', b'{"value":[1, 2]}', b'{"value":"s"}', b'{"value":1.50}', b'{"value":true}',
                       b"null", b'{"value":[1]}']


def test_nonfinite_marks_are_counted_per_column_and_removed() -> None:
    from taps.postgres.nonfinite import NonFinite

    tally = NonFinite()
    rows = b'{"id":1,"n":null\t,"a\\"b":null\t,"s":"x:null"}\n{"id":2,"n":null\t,"m":null,"s":"\\t"}\n'
    assert tally.scan(rows) == rows.replace(b"null\t", b"null")
    assert tally.counts == {"n": 2, 'a"b': 1}
    assert tally.scan(b'{"id":3,"n":1}\n') == b'{"id":3,"n":1}\n' and sum(tally.counts.values()) == 3
    from taps.postgres.values import converter_for

    count = tally.counting("f", converter_for("float"))
    assert count("1.5") == 1.5 and tally.counts["f"] == 0
    assert count("NaN") is None and count("-Infinity") is None and tally.counts["f"] == 2


def test_date_time_schemas_admit_what_rfc3339_cannot_hold_and_keep_their_column_type() -> None:
    from protocol._errors import SluiceError
    from protocol._schema import RecordValidator
    from targets.sql.types import DATE, STRING, TIMESTAMP, logical_type

    for kind, good, special, wrong in [
            ("tstz", "2024-01-02T03:04:05+00:00", ["infinity", "-infinity", "10000-01-01T00:00:00+00:00",
                                                   "0044-03-15T10:00:00+00:00 BC"], "2024-13-01T00:00:00+00:00"),
            ("date", "2024-01-02", ["infinity", "12024-01-02", "0044-03-15 BC"], "Jan 2")]:
        schema = Column("c", kind, kind, kind).schema()
        validator = RecordValidator("s", {"type": "object", "properties": {"c": schema}})  # formats checked

        def valid(value: object, check: RecordValidator = validator) -> bool:
            try:
                check({"c": value})
            except SluiceError:
                return False
            return True

        assert all(valid(v) for v in [good, *special, None])
        assert not valid(wrong) and not valid("infinityx")
        assert logical_type(schema) == (DATE if kind == "date" else TIMESTAMP)
        assert not Column("c", kind, kind, kind, nullable=False).schema().get("type")
    assert logical_type({"type": "string", "pattern": "^a$"}) == STRING
    assert logical_type({"anyOf": [{"type": "string", "format": "date"}, {"type": "string"}]}) == STRING


def test_marks_tell_nan_from_infinity_for_bookmarks_and_are_all_removed() -> None:
    from taps.postgres.nonfinite import NonFinite, marked_values

    row = b'{"id":1,"a":null\t,"b":null\t ,"c":null\t  ,"d":null,"e":1}\n'
    assert marked_values(row) == {"a": "NaN", "b": "Infinity", "c": "-Infinity"}
    tally = NonFinite()
    assert tally.scan(row) == b'{"id":1,"a":null,"b":null,"c":null,"d":null,"e":1}\n'
    assert tally.counts == {"a": 1, "b": 1, "c": 1}
    assert marked_values(b'{"id":1,"j":{"x":null , "y":1}}\n') == {}


def test_logged_columns_are_matched_by_attribute_number() -> None:
    from taps.postgres.binding import Attribute, match_columns

    def attrs(*names: str, dropped: int = 0, generated: int = 0) -> list[Attribute]:
        return [Attribute(i + 1, n, i + 1 == dropped, i + 1 == generated) for i, n in enumerate(names)]

    assert match_columns(["id", "v"], attrs("id", "v", "total", generated=3)) == ["id", "v"]
    assert match_columns(["id", "x"], attrs("id", "v", "x")) == ["id", "x"]  # a publication's column list
    assert match_columns(["id", "v", "x"], attrs("id", "w", "x")) == ["id", "w", "x"]  # renamed since
    assert match_columns(["id", "v", "x"], attrs("id", "w", "x", "v")) == ["id", "w", "x"]  # and the name reused
    assert match_columns(["a", "b"], attrs("b", "a")) == ["b", "a"]  # swapped names
    assert match_columns(["id", "v"], attrs("id", "w", "x", "y")) == ["id", "w"]  # added since
    assert match_columns(["id", "v", "x"], attrs("id", "w", "gone", dropped=3)) is None  # renamed and dropped
    assert match_columns(["id", "v"], attrs("id", "v", "gone", dropped=3)) == ["id", "v"]  # dropped: names hold
    assert match_columns(["id", "v"], []) == ["id", "v"]  # the table is gone

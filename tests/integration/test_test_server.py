"""The PostgreSQL the tests run against has the settings they need, whatever the machine's own has."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import PG_GIVEN_DSN


@pytest.mark.skipif(bool(PG_GIVEN_DSN), reason="SLUICE_TEST_PG names a server the tests use as it is")
def test_the_session_server_is_a_throwaway_with_logical_wal(pg_server_dsn: str) -> None:
    with psycopg.connect(pg_server_dsn) as conn:
        settings = dict(conn.execute(
            "select name, setting from pg_settings where name in "
            "('wal_level', 'max_replication_slots', 'port', 'data_directory')").fetchall())
    assert settings["wal_level"] == "logical"
    assert int(settings["max_replication_slots"]) >= 20
    assert settings["port"] != "5432"  # not the machine's shared server
    assert "sluice-test-pg-" in settings["data_directory"]

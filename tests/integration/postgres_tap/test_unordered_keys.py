"""A replication key (or a view's declared key) whose type PostgreSQL cannot order (json, point) is
refused at start in one line naming the stream and the column, before any output: before, the run
failed on a raw PostgreSQL error after the SCHEMA was written."""

from __future__ import annotations

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src


def _refused(src: Src, streams: dict[str, dict[str, object]]) -> str:
    config = src.config()
    catalog = src.catalog(config, streams)
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)])
    assert done.returncode == 2, done.stderr.decode()
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_unordered_replication_key_is_refused_at_start(src: Src) -> None:
    src.sql("CREATE TABLE ij (id int PRIMARY KEY, j json, p point, jb jsonb)")
    src.sql("""INSERT INTO ij VALUES (1, '{"a": 1}', '(1,2)', '{"a": 1}')""")
    line = _refused(src, {"public-ij": {"replication-method": "INCREMENTAL", "replication-key": "j"}})
    assert "stream 'public-ij': replication key 'j' has type json, which PostgreSQL cannot order" in line
    line = _refused(src, {"public-ij": {"replication-method": "INCREMENTAL", "replication-key": "p"}})
    assert "stream 'public-ij': replication key 'p' has type point" in line
    config = src.config()  # jsonb has an order: read
    catalog = src.catalog(config, {"public-ij": {"replication-method": "INCREMENTAL", "replication-key": "jb"}})
    assert run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)]).returncode == 0


def test_an_unordered_view_key_is_refused_at_start(src: Src) -> None:
    src.sql("""CREATE VIEW vj AS SELECT 1 AS id, '{"a": 1}'::json AS j""")
    line = _refused(src, {"public-vj": {"replication-method": "FULL_TABLE", "view-key-properties": ["id", "j"]}})
    assert "stream 'public-vj': view key property 'j' has type json, which PostgreSQL cannot order" in line

"""The spool writer on a real SQLite file: group commit, duplicates, a failed batch, the commit
window, a close that commits what is queued. The oracle is the file, read back with sqlite3."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from taps.webhook.providers import Verified
from taps.webhook.spool import SCHEMA, SpoolError, SQLiteSpoolWriter


def stored(path: Path) -> list[tuple[str, str, str | None, bytes]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT source, delivery_id, event_type, body FROM deliveries ORDER BY seq").fetchall()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_concurrent_adds_share_commits_and_duplicates_are_reported(tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    async def main() -> list[bool]:
        writer = SQLiteSpoolWriter(str(db))
        writer.open()
        await writer.start()
        ids = [f"d{i % 40}" for i in range(60)]  # d0..d19 twice (the second copy in the same or a later batch)
        futures = [writer.add("src", Verified(d, "push"), {"x-a": "1"}, d.encode(), 1.5) for d in ids]
        results = list(await asyncio.gather(*futures))
        assert writer.commits < 60
        await writer.close()
        return results

    results = run(main())
    assert results == [True] * 40 + [False] * 20
    assert [row[1] for row in stored(db)] == [f"d{i}" for i in range(40)]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT headers, received_at FROM deliveries LIMIT 1").fetchone() == ('{"x-a":"1"}', 1.5)


def test_a_failed_batch_stores_none_of_its_deliveries(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA)
        conn.execute("CREATE TRIGGER poison BEFORE INSERT ON deliveries WHEN NEW.delivery_id = 'poison' "
                     "BEGIN SELECT RAISE(ABORT, 'no'); END")

    async def main() -> None:
        writer = SQLiteSpoolWriter(str(db))
        writer.open()
        await writer.start()
        batch = [writer.add("s", Verified(d, None), {}, b"x", 1.0) for d in ("ok1", "poison", "ok2")]
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        assert all(isinstance(o, SpoolError) for o in outcomes), outcomes
        assert await writer.add("s", Verified("ok3", None), {}, b"y", 2.0) is True
        await writer.close()

    run(main())
    assert [row[1] for row in stored(db)] == ["ok3"]


def test_the_commit_window_waits_only_for_requests_on_their_way(tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    async def main() -> None:
        writer = SQLiteSpoolWriter(str(db), commit_window_ms=5000)
        writer.open()
        await writer.start()
        started = time.monotonic()  # nothing else on its way: committed at once, not after 5 s
        assert await writer.add("s", Verified("alone", None), {}, b"1", 1.0) is True
        assert time.monotonic() - started < 2.5
        writer.started()  # a second request has begun (its body still arriving)
        first = writer.add("s", Verified("first", None), {}, b"2", 1.0)
        await asyncio.sleep(0.3)
        assert not first.done()  # it waits for the other one to share its commit
        writer.arrived()  # the other one was refused (or queued): no reason to wait longer
        assert await asyncio.wait_for(first, 2.5) is True
        commits = writer.commits
        writer.started()
        writer.started()
        pending = [writer.add("s", Verified("a", None), {}, b"3", 1.0)]
        writer.arrived()
        pending.append(writer.add("s", Verified("b", None), {}, b"4", 1.0))
        writer.arrived()
        assert await asyncio.gather(*pending) == [True, True]
        assert writer.commits == commits + 1  # both in one commit
        await writer.close()

    run(main())


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    async def main() -> None:
        writer = SQLiteSpoolWriter(str(db))
        writer.open()
        await writer.start()
        futures = [writer.add("s", Verified(f"q{i}", None), {}, b"z", 1.0) for i in range(25)]
        await writer.close()
        assert [f.result() for f in futures] == [True] * 25
        with pytest.raises(SpoolError):
            writer.add("s", Verified("late", None), {}, b"z", 1.0)

    run(main())
    assert len(stored(db)) == 25


def test_an_unopenable_spool_is_a_spool_error(tmp_path: Path) -> None:
    writer = SQLiteSpoolWriter(str(tmp_path / "missing-dir" / "s.db"))
    with pytest.raises(SpoolError, match="cannot open the SQLite spool"):
        writer.open()


def test_checkpoints_run_off_the_commit_path_and_at_close(tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    async def main() -> None:
        writer = SQLiteSpoolWriter(str(db))
        writer.CHECKPOINT_SECONDS = 0.1
        writer.open()
        await writer.start()
        await asyncio.gather(*(writer.add("s", Verified(f"c{i}", None), {}, b"b" * 2000, 1.0) for i in range(100)))
        assert db.stat().st_size < 100_000  # the commits wrote the WAL only: no checkpoint inside a commit
        for _ in range(50):
            await asyncio.sleep(0.1)
            if db.stat().st_size > 200_000:  # the background checkpoint copied the pages into the file
                break
        assert db.stat().st_size > 200_000
        await writer.close()

    run(main())
    wal = Path(f"{db}-wal")  # checkpointed and truncated at close (then removed with the last connection)
    assert not wal.exists() or wal.stat().st_size == 0
    assert len(stored(db)) == 100

"""The PostgreSQL session keeps the open transaction's COPY data for a replay: in memory up to
its limit, beyond that in its spool file, and reads every chunk back byte for byte."""

from __future__ import annotations

from targets.postgres.connection import Chunk, _Kept


def test_chunks_stay_in_memory_up_to_the_limit_then_go_to_the_spool() -> None:
    kept = _Kept(limit=10)
    first, second, third = (Chunk(data, kept) for data in (b"abcdef", b"ghijkl", b"mn" * 3_000_000))
    sent = [b"".join(chunk.blocks()) for chunk in (first, second, third)]
    assert sent == [b"abcdef", b"ghijkl", b"mn" * 3_000_000]
    assert kept.in_memory == 6 and kept.spool.tell() > 0  # the second and third are in the spool
    # a replay (after a reconnect) sends the same bytes, the spooled ones read back in blocks
    assert [b"".join(chunk.blocks()) for chunk in (third, first, second)] == [sent[2], sent[0], sent[1]]
    assert len(list(third.blocks())) == 2  # 6 MB in 4 MiB blocks
    kept.clear()  # a commit or a rollback
    assert kept.in_memory == 0 and kept.spool.seek(0, 2) == 0
    kept.close()

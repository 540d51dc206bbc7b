"""target-postgres's COPY sender gets the GIL back promptly after each wait on the socket.

The sender is a worker thread; the main thread parses and builds rows meanwhile. With the
interpreter's default switch interval (5 ms) each of a chunk's 16 writes could wait that long
for the GIL, and PostgreSQL waited on the target (bench/RESULTS.md, 2026-12-06 06:35).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from protocol._threads import WORKER_SWITCH_INTERVAL
from targets.postgres.connection import Session, conninfo_from_config


@pytest.fixture
def default_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("default_interval")
def test_opening_a_session_shortens_the_switch_interval(pg_server_dsn: str) -> None:
    conninfo, params = conninfo_from_config({"sqlalchemy_url": pg_server_dsn})
    session = Session(conninfo, params)
    try:
        assert sys.getswitchinterval() == pytest.approx(WORKER_SWITCH_INTERVAL)
    finally:
        session.close()

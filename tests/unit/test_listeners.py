"""The tests' own TCP servers stop listening when closed (tests/listeners.py): before, a closed
server's thread stayed blocked in accept(2) and kept the port, and a later test's "closed port"
could be accepted by it (a leaked socket surfaced as a ResourceWarning in an unrelated test)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.hosts.proxy import StallingProxy
from tests.faults.test_commit_reply_lost import CommitReplyEater
from tests.integration.telemetry.receiver import BlackHole


def _port(server: Any) -> int:
    return int(server.port) if hasattr(server, "port") else int(server.url.rsplit(":", 1)[1])


@pytest.mark.parametrize("make", [
    lambda up: StallingProxy(up), lambda up: CommitReplyEater(up), lambda up: BlackHole(),
], ids=["StallingProxy", "CommitReplyEater", "BlackHole"])
def test_a_closed_server_refuses_connections(make: Callable[[tuple[str, int]], Any]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        server = make(upstream.getsockname())
        port = _port(server)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # listening while open
        server.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

"""target-postgres when the connection drops during COMMIT: after the server committed, and before
its reply reached the target.

A loopback TCP proxy sits between the target and PostgreSQL. It forwards every byte, except
that after the first COMMIT a client sends, it swallows the server's reply and closes both
sides: the transaction is committed, and the target only sees a dropped connection. The
target must find out that the commit went through (``txid_status``) and not replay the batch,
which would load the rows of a stream without keys a second time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path

import psycopg

from tests.conftest import exe, pg_address, run
from tests.integration.sql.helpers import singer, stdout_states
from tests.listeners import close_listener

COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"  # the simple-query message psycopg sends for commit()


class CommitReplyEater:
    """Forwards loopback connections to PostgreSQL; loses the reply to the first COMMIT."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.eaten = threading.Event()
        self._armed = threading.Lock()  # held by the connection whose COMMIT reply is to be lost
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            state = {"commit_sent": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                if COMMIT in data and not self.eaten.is_set() and self._armed.acquire(blocking=False):
                    state["commit_sent"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _down(self, server: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := server.recv(65536):
                if state["commit_sent"] and b"COMMIT\x00" in data:  # the CommandComplete of our COMMIT
                    self.eaten.set()
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)

    def close(self) -> None:
        close_listener(self.listener, self._acceptor)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _config_through(proxy: CommitReplyEater, pg_dsn: str, tmp_path: Path, **extra: object) -> Path:
    """target-postgres's config, connecting through the proxy to the session's database."""
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": proxy.port, "user": "postgres",
                                  "database": pg_dsn.rsplit("/", 1)[1], "state_flush_seconds": 0, **extra}))
    return config


def test_a_commit_whose_reply_is_lost_is_not_replayed(pg_dsn: str, tmp_path: Path) -> None:
    proxy = CommitReplyEater(pg_address(pg_dsn))
    try:
        config = _config_through(proxy, pg_dsn, tmp_path)
        schema = {"type": "SCHEMA", "stream": "log", "key_properties": [],
                  "schema": {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}}
        lines = singer(schema, *({"type": "RECORD", "stream": "log", "record": {"n": i, "s": f"row {i}"}}
                                 for i in range(1, 501)), {"type": "STATE", "value": {"n": 500}})
        env = {**os.environ, "PGSSLMODE": "disable"}
        done = run([exe("target-postgres"), "--config", str(config)], input=lines, env=env)
        assert done.returncode == 0, done.stderr.decode()
        assert proxy.eaten.is_set(), "the proxy never saw a COMMIT"
        assert b"went through" in done.stderr
        assert stdout_states(done.stdout) == [{"n": 500}]
        with psycopg.connect(pg_dsn) as conn:
            count, distinct = conn.execute("SELECT count(*), count(DISTINCT n) FROM public.log").fetchone()  # type: ignore[misc]
        assert (count, distinct) == (500, 500)  # once each: the committed batch was not loaded again
    finally:
        proxy.close()


def test_a_lost_commit_without_reconnects_is_reported_as_unknown(pg_dsn: str, tmp_path: Path) -> None:
    """No reconnect allowed: the target cannot learn whether its COMMIT went through (here it did),
    so it must not say that nothing was committed; it names the transaction to look up."""
    proxy = CommitReplyEater(pg_address(pg_dsn))
    try:
        config = _config_through(proxy, pg_dsn, tmp_path, connection_retries=0)
        schema = {"type": "SCHEMA", "stream": "log", "key_properties": [],
                  "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
        lines = singer(schema, *({"type": "RECORD", "stream": "log", "record": {"n": i}} for i in range(1, 51)),
                       {"type": "STATE", "value": {"n": 50}})
        done = run([exe("target-postgres"), "--config", str(config)], input=lines,
                   env={**os.environ, "PGSSLMODE": "disable"})
        assert proxy.eaten.is_set(), "the proxy never saw a COMMIT"
    finally:
        proxy.close()
    err = done.stderr.decode().strip().splitlines()[-1]
    assert done.returncode == 1 and stdout_states(done.stdout) == []
    with psycopg.connect(pg_dsn) as conn:
        committed = conn.execute("SELECT count(*) FROM public.log").fetchone() == (50,)
        xid = re.search(r"transaction (\d+)", err)
        assert xid, err
        status = conn.execute("SELECT txid_status(%s)", (int(xid[1]),)).fetchone()
    assert committed and status == ("committed",)  # what the line points to is the truth
    assert "nothing after the last STATE was committed" not in err
    assert "whether transaction" in err and "committed is unknown" in err

"""A loopback TCP proxy that can stop forwarding while keeping every socket open.

Stalled, it reads nothing and writes nothing: the client's kernel sees its bytes acknowledged
(by this host's kernel, into the proxy's buffers) and the server sees an idle client, as when
a host's network is gone behind a NAT or a proxy that still answers TCP. Neither side gets an
error from TCP; only timeouts of their own can notice.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from tests.listeners import close_listener

__all__ = ["StallingProxy"]


class StallingProxy:
    """Forwards 127.0.0.1:port to ``upstream`` until :meth:`stall`; :meth:`resume` forwards again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed.is_set():  # accepted while closing: nothing to forward
                    client.close()
                    return
                server = socket.create_connection(self.upstream)
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                if not self._flowing.wait(0.1):
                    continue  # stalled: leave the bytes in the kernel's buffers
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready or not self._flowing.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def url(self, dsn: str) -> str:
        """``dsn`` (a postgresql:// URL) through this proxy."""
        from urllib.parse import urlparse

        parsed = urlparse(dsn)
        netloc = parsed.netloc.rsplit("@", 1)
        who = netloc[0] + "@" if len(netloc) == 2 else ""
        return parsed._replace(netloc=f"{who}127.0.0.1:{self.port}").geturl()

    def close(self) -> None:
        """Stop accepting (tests/listeners.py says why not just close the listener) and close every socket."""
        with self._lock:
            self._closed.set()
        close_listener(self.listener, self._acceptor)
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

"""Closing a listening socket that a thread of a test's server is blocked on in accept(2).

On Linux, closing the socket from another thread does not wake that accept: the thread stays
blocked and the port keeps listening, so a later test that expects nothing there (a "closed
port" picked earlier, a port number the kernel hands out again) is accepted by a server that
was closed long ago, and the sockets that stray connection opens are freed unclosed later in
some unrelated test (a ResourceWarning there). Shutting the socket down first wakes the accept.
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["close_listener"]


def close_listener(listener: socket.socket, acceptor: threading.Thread | None = None) -> None:
    """Stop ``listener`` for good and wait (up to 5 s) for ``acceptor``, its accepting thread."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes an accept(2) blocked in another thread
    listener.close()
    if acceptor is not None and acceptor is not threading.current_thread():
        acceptor.join(5)

"""The pipes between a main process and its worker processes (mapper-sluice's, protocol/maps/_parallel.py;
a target's, protocol/_mapruns.py), and how many workers to start. Imports nothing of the mapper program."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

from protocol._errors import SluiceError
from protocol._messages import SchemaMessage

__all__ = ["Channel", "can_fork", "default_workers", "fork_worker", "pipe_room", "same_schema", "stop_workers",
           "widen_pipe"]


def default_workers() -> int:
    """Worker processes when the setting is absent: one per CPU this process may use, at most 4."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):  # no affinity on this system
        return max(1, min(4, os.cpu_count() or 1))


def can_fork() -> bool:
    """Whether workers can be forked here (not on Windows): elsewhere the mapper runs in one process."""
    return "fork" in multiprocessing.get_all_start_methods() and hasattr(os, "writev")


def widen_pipe(fd: int) -> None:
    """A pipe of 1 MiB when the system allows: a block passes in one write or read, not in 64 KiB turns."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:  # above /proc/sys/fs/pipe-max-size: the default size works too, in more turns
        pass


def pipe_room(fd: int) -> int:
    """The bytes a pipe holds (64 KiB where the system does not tell)."""
    try:
        return int(fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032)))
    except OSError:
        return 1 << 16


class Channel:
    """One direction of a pipe between the main process and a worker: length-prefixed messages,
    written with one ``writev``, each read with (usually) one ``os.read``."""

    __slots__ = ("fd",)
    _SIZE = struct.Struct("<Q")

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        """(reading end, writing end)."""
        read_fd, write_fd = os.pipe()
        widen_pipe(write_fd)
        return Channel(read_fd), Channel(write_fd)

    def send(self, *parts: bytes | memoryview) -> None:
        views = [self._SIZE.pack(sum(len(p) for p in parts)), *parts]
        total = sum(len(v) for v in views)
        written = os.writev(self.fd, views)
        if written < total:  # the pipe took part of it: the rest in plain writes
            rest = memoryview(b"".join(views))[written:]
            while rest:
                rest = rest[os.write(self.fd, rest):]

    def recv(self) -> bytes:
        head = self._read(self._SIZE.size)
        if not head:
            raise EOFError
        (size,) = self._SIZE.unpack(head)
        return self._read(size)

    def answer(self, who: str) -> bytes:
        """:meth:`recv` of a worker's answer; its end (the worker died) is an internal error naming ``who``."""
        try:
            return self.recv()
        except EOFError:
            raise SluiceError(f"internal error: {who} ended without answering (its error, if any, is above)"
                              ) from None

    def _read(self, size: int) -> bytes:
        """``size`` bytes (b"" at the end of the pipe before any); usually one read, no copy."""
        data = os.read(self.fd, size) if size else b""
        if len(data) == size or not data:
            return data
        parts = [data]
        got = len(data)
        while got < size:
            more = os.read(self.fd, size - got)
            if not more:
                raise EOFError
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def close(self) -> None:
        os.close(self.fd)


def same_schema(known: SchemaMessage | None, msg: SchemaMessage) -> bool:
    """Whether ``msg`` maps its stream as ``known`` (the SCHEMA the workers hold for it) does: the same
    schema object (for a schema equal to its stream's last one, the reader gives that one's object),
    key and bookmark properties."""
    return (known is not None and known.schema is msg.schema and known.key_properties == msg.key_properties
            and known.bookmark_properties == msg.bookmark_properties)


def fork_worker(loop: Callable[..., None], state: Any, held: list[Channel]) -> tuple[Channel, Channel, Any]:
    """Fork a worker running ``loop(tasks, answers, state, ends)``: the main process's ends of its pipes
    to hand it tasks and read its answers, and the process. ``held``: the main process's ends of the
    workers forked before, which the new one closes (with the two of its own, as ``ends``). Whatever
    the caller buffered for stdout is written first: a child must hold no output to write again."""
    sys.stdout.flush()
    task_read, task_write = Channel.pair()
    answer_read, answer_write = Channel.pair()
    ends = [*held, task_write, answer_read]
    proc = multiprocessing.get_context("fork").Process(target=loop, args=(task_read, answer_write, state, ends),
                                                       daemon=True)
    proc.start()
    task_read.close()
    answer_write.close()
    return task_write, answer_read, proc


def stop_workers(workers: list[tuple[Channel, Channel, Any]], last: bytes | None) -> None:
    """End workers (each: the main process's ends of its pipes, and the process): each is sent ``last``
    (the task that tells it to end) and waited for; with None (after a failure) each is terminated."""
    for tasks, answers, _ in workers:
        if last is not None:
            tasks.send(last)
        tasks.close()
        answers.close()
    for _, _, proc in workers:
        if last is None:
            proc.terminate()
        proc.join()

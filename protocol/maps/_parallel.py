"""mapper-sluice on several processes: blocks of lines mapped by worker processes, written in order.

The main process reads the input a block of whole lines at a time and hands each block to the
next free worker, which maps its RECORD lines and passes its STATE lines, as one process would.
A worker stops at the first line that is neither (a SCHEMA, ACTIVATE_VERSION or BATCH) and
answers with what it wrote before it; the main process then handles that line and the rest of
the block itself. Only a SCHEMA changes how later lines are mapped: the blocks already handed
out after it are taken back (their answers dropped), every worker applies the SCHEMA, and they
are handed out again. Taps write one SCHEMA per stream before its records, so this is rare.

Outputs are written in input order, each worker's answer whole: a STATE goes out after every
record before it, as in one process. A worker has one block at a time (no side blocks the other
on a full pipe). An error in a worker (a failing map expression, a bad line) is raised by the
main process when its block's turn comes, after every earlier block is written: the same error
for the same line as in one process. The first block is mapped by the main process; workers are
forked (Linux) when the second is read, so they start knowing the SCHEMAs of the first, and an
input of one block starts none.
"""

from __future__ import annotations

import fcntl
import io
import logging
import multiprocessing
import os
import select
import signal
import stat
import struct
import sys
from collections import deque
from dataclasses import dataclass
from typing import IO, Any

from protocol._errors import SluiceError
from protocol._lines import line_blocks
from protocol._messages import SchemaMessage
from protocol._writer import MessageWriter
from protocol.maps._program import READ_BYTES, LineMapper

__all__ = ["can_fork", "default_workers", "map_parallel"]

log = logging.getLogger("sluice.mapper")

_HEAD = struct.Struct("<cq")  # kind, the number of the line before the payload's first
#: kind, then the index of the line the worker stopped at (-1: none) or the exit code, then the length of
#: the error's text; the text, then what the worker wrote (on an error: what it had flushed, as one process would)
_ANSWER = struct.Struct("<ciI")
_BLOCK, _SCHEMA, _QUIT, _OUTPUT, _ERROR = b"B", b"S", b"Q", b"O", b"E"


def default_workers() -> int:
    """Worker processes when the setting is absent: one per CPU this process may use, at most 4."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):  # no affinity on this system
        return max(1, min(4, os.cpu_count() or 1))


def can_fork() -> bool:
    """Whether workers can be forked here (not on Windows): elsewhere the mapper runs in one process."""
    return "fork" in multiprocessing.get_all_start_methods() and hasattr(os, "writev")


def _widen_pipe(fd: int) -> None:
    """A pipe of 1 MiB when the system allows: a block passes in one write or read, not in 64 KiB turns."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:  # above /proc/sys/fs/pipe-max-size: the default size works too, in more turns
        pass


class _Channel:
    """One direction of a pipe between the main process and a worker: length-prefixed messages,
    written with one ``writev``, each read with (usually) one ``os.read``."""

    __slots__ = ("fd",)
    _SIZE = struct.Struct("<Q")

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @staticmethod
    def pair() -> tuple[_Channel, _Channel]:
        """(reading end, writing end)."""
        read_fd, write_fd = os.pipe()
        _widen_pipe(write_fd)
        return _Channel(read_fd), _Channel(write_fd)

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


class RelayedError(SluiceError):
    """An error raised in a worker process, raised again by the main process (same text and exit code)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _worker(tasks: _Channel, answers: _Channel, mapper: LineMapper, others: list[_Channel]) -> None:
    """A worker's loop: apply SCHEMAs, map blocks, answer each block."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how the run ends
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops a worker with SIGTERM: nothing to unwind
    for other in others:  # the main process's ends of the workers forked before: not ours to hold
        other.close()
    out = io.BytesIO()
    while True:
        try:
            message = tasks.recv()
        except EOFError:  # the main process is gone
            return
        kind, n = _HEAD.unpack_from(message)
        if kind == _QUIT:
            return
        payload = message[_HEAD.size:]
        if kind == _SCHEMA:  # the main process applied it first (and wrote its output)
            mapper.writer = mapper.batch.writer = MessageWriter(io.BytesIO())
            mapper.run([payload], n, b"\n")
            continue
        try:
            mapper.writer = mapper.batch.writer = writer = MessageWriter(out)
            mapper.run_text(payload, n, stop=True)
            mapper.flush()
            writer.flush()
            stopped = -1 if mapper.stopped is None else mapper.stopped[0]
            with out.getbuffer() as view:
                answers.send(_ANSWER.pack(_OUTPUT, stopped, 0), view)
        except SluiceError as exc:  # anything else is a bug: the worker ends with its traceback
            _fail(answers, str(exc), int(exc.exit_code), out)
        finally:
            out.seek(0)
            out.truncate()
            mapper.batch.rows.clear()


def _fail(answers: _Channel, message: str, code: int, out: io.BytesIO) -> None:
    text = message.encode("utf-8", "replace")
    answers.send(_ANSWER.pack(_ERROR, code, len(text)), text, out.getvalue())


@dataclass(slots=True)
class _Link:
    """The main process's ends of one worker's pipes, and the worker."""

    tasks: _Channel
    answers: _Channel
    proc: Any


@dataclass(slots=True)
class _Task:
    """A block handed to a worker: its lines, the number of the line before them."""

    link: _Link
    text: bytes
    n: int


class _Pool:
    """The workers, and the blocks handed out, in input order."""

    def __init__(self, mapper: LineMapper, workers: int) -> None:
        self.mapper = mapper
        self.size = workers
        self.links: list[_Link] = []
        self.free: list[_Link] = []
        self.due: deque[_Task] = deque()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        self.mapper.writer.flush()
        sys.stdout.flush()  # a forked child must hold no output of ours to write again
        for _ in range(self.size):
            task_read, task_write = _Channel.pair()
            answer_read, answer_write = _Channel.pair()
            ours = [end for link in self.links for end in (link.tasks, link.answers)] + [task_write, answer_read]
            proc = context.Process(target=_worker, args=(task_read, answer_write, self.mapper, ours), daemon=True)
            proc.start()
            task_read.close()
            answer_write.close()
            link = _Link(task_write, answer_read, proc)
            self.links.append(link)
            self.free.append(link)
        log.debug("mapping with %d worker processes", self.size)

    def submit(self, text: bytes, n: int) -> None:
        """Map the whole lines ``text`` (lines ``n`` + 1 on) in a worker."""
        if not self.links:
            self._start()
        while not self.free:
            self.write_head()
        link = self.free.pop()
        link.tasks.send(_HEAD.pack(_BLOCK, n), text)
        self.due.append(_Task(link, text, n))

    def drain(self) -> None:
        while self.due:
            self.write_head()

    def write_head(self) -> None:
        """Wait for the oldest block's answer and write it (or raise its error)."""
        task = self.due.popleft()
        answer = self._answer(task)
        kind, value, length = _ANSWER.unpack_from(answer)
        self._write(memoryview(answer)[_ANSWER.size + length:])
        if kind == _ERROR:
            raise RelayedError(answer[_ANSWER.size:_ANSWER.size + length].decode("utf-8", "replace"), value)
        if value >= 0:
            self._resume(task, value)

    def _answer(self, task: _Task) -> bytes:
        try:
            answer = task.link.answers.recv()
        except EOFError:
            raise SluiceError("internal error: a worker process of the mapper ended without answering "
                              "(its error, if any, is above)") from None
        self.free.append(task.link)
        return answer

    def _write(self, data: memoryview) -> None:
        if data:
            writer = self.mapper.writer
            writer._add(data.tobytes())
            writer.flush()

    def _resume(self, task: _Task, stopped: int) -> None:
        """The main process maps the block from the line its worker stopped at (every earlier block
        is written): each line neither a RECORD nor a STATE by itself, the lines between as a worker would."""
        mapper = self.mapper
        lines = task.text.split(b"\n")
        lines.pop()
        taken: list[_Task] = []
        i = stopped
        while i < len(lines):
            mapper.run([lines[i]], task.n + i, b"\n", stop=True)
            if mapper.stopped is not None:
                msg = mapper.stopped[1]
                mapper.handle(msg)
                if isinstance(msg, SchemaMessage):
                    taken += self._take_back()
                    for link in self.links:
                        link.tasks.send(_HEAD.pack(_SCHEMA, task.n + i), lines[i])
            i += 1
            if i < len(lines):
                mapper.run_text(b"\n".join(lines[i:]) + b"\n", task.n + i, stop=True)
                if mapper.stopped is None:
                    break
                i += mapper.stopped[0]
        mapper.flush()
        mapper.writer.flush()
        for old in taken:
            self.submit(old.text, old.n)

    def _take_back(self) -> list[_Task]:
        """Every block handed out (none written yet), their answers dropped: to be handed out again."""
        taken = list(self.due)
        self.due.clear()
        for task in taken:
            self._answer(task)
        return taken

    def close(self, *, failed: bool) -> None:
        """Let the workers end; after a failure, stop them (their blocks are not wanted)."""
        for link in self.links:
            if not failed:
                link.tasks.send(_HEAD.pack(_QUIT, 0))
            link.tasks.close()
            link.answers.close()
        for link in self.links:
            if failed:
                link.proc.terminate()
            link.proc.join()


class _Input:
    """The input, read so that nothing mapped waits for more input: before a read that would
    block (a tap that is slow, or pausing), every block handed out is answered and written (a
    STATE the tap wrote reaches the target now, not when more input comes)."""

    def __init__(self, source: IO[bytes], pool: _Pool) -> None:
        self.pool = pool
        self._read = getattr(source, "read1", source.read)
        try:
            self.fd: int | None = source.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory input: never waits
            self.fd = None
        if self.fd is not None and stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            _widen_pipe(self.fd)

    def read(self, size: int = -1, /) -> bytes:
        if self.pool.due and self.fd is not None and not select.select([self.fd], [], [], 0)[0]:
            self.pool.drain()
        data: bytes = self._read(size)
        return data


def _keep_heap() -> None:
    """Blocks of 256 KiB pass through several buffers each; glibc maps each such buffer anew
    (above its mmap threshold) and the kernel faults in every page of it: ~60,000 page faults per
    200,000 records. A higher threshold keeps them on the heap, reused (workers inherit it)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 128 << 20)


def map_parallel(source: IO[bytes], mapper: LineMapper, workers: int) -> None:
    """:func:`protocol.maps._program.map_stream` with ``workers`` processes (see the module docstring)."""
    _keep_heap()
    pool = _Pool(mapper, workers)
    failed = True
    try:
        n = 0
        for data, cut in line_blocks(_Input(source, pool), mapper.reader.max_line_bytes, READ_BYTES):
            if cut < 0:  # the last line, without its newline (or the start of one too long)
                pool.drain()
                n = mapper.run([data], n, b"")
                continue
            text = data[:cut] if cut < len(data) else data
            if n == 0:  # the first block is mapped here: the workers, forked later, know its SCHEMAs
                n = mapper.run_text(text, n)
                continue
            mapper.flush()
            pool.submit(text, n)
            n += text.count(b"\n")
        pool.drain()
        mapper.flush()
        failed = False
    finally:
        pool.close(failed=failed)

"""mapper-sluice on several processes: blocks of lines mapped by worker processes, written in order.

The main process reads the input a block of whole lines at a time and hands each block to the
next free worker, which maps its RECORD lines and passes its STATE lines, as one process would.
A worker stops at the first line that is neither (a SCHEMA, ACTIVATE_VERSION or BATCH) and
answers with what it wrote before it; the main process then handles that line and the rest of
the block itself. An ACTIVATE_VERSION, or a SCHEMA the same as the one the workers hold for its
stream (schema, key and bookmark properties: singer-sdk taps send it again per partition),
changes nothing: a worker maps it as one process would and goes on. Only a changed SCHEMA
changes how later lines are mapped:
every block handed out is answered, those that may hold a line of its stream are taken back
(their answers dropped), every worker applies the SCHEMA, and they are handed out again; the
answers of the others are kept for their turn.

Outputs are written in input order, each worker's answer whole: a STATE goes out after every
record before it, as in one process. A worker has one block at a time (no side blocks the other
on a full pipe). An error in a worker (a failing map expression, a bad line) is raised by the
main process when its block's turn comes, after every earlier block is written: the same error
for the same line as in one process. The first block is mapped by the main process; workers are
forked (Linux) when the second is read, so they start knowing the SCHEMAs of the first, and an
input of one block starts none.
"""

from __future__ import annotations

import logging
import os
import re
import select
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from protocol._errors import SluiceError
from protocol._idle import may_wait
from protocol._lines import line_blocks
from protocol._messages import SchemaMessage
from protocol.maps._pipes import can_fork, default_workers, fork_worker, stop_workers
from protocol.maps._program import READ_BYTES, LineMapper
from protocol.maps._workers import (
    ANSWER,
    BLOCK,
    ERROR,
    HEAD,
    QUIT,
    SCHEMA,
    Channel,
    same_schema,
    widen_pipe,
    worker,
)

__all__ = ["can_fork", "default_workers", "map_parallel"]

log = logging.getLogger("sluice.mapper")

class RelayedError(SluiceError):
    """An error raised in a worker process, raised again by the main process (same text and exit code)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _holder(stream: str) -> Callable[[bytes], bool]:
    """Whether a block may hold a line of ``stream``: its name in quotes, or a ``\\u`` escape of one of
    its characters (the only escape JSON has for them); every block, for a name with other characters."""
    if not (stream.isascii() and stream.isprintable()) or any(c in stream for c in '"\\/'):
        return lambda text: True
    quoted = b'"' + stream.encode() + b'"'
    escape = re.compile(rb"\\u00(?:" + b"|".join(b"%02x" % ord(c) for c in sorted(set(stream))) + b")",
                        re.IGNORECASE)
    return lambda text: quoted in text or escape.search(text) is not None


@dataclass(slots=True)
class _Link:
    """The main process's ends of one worker's pipes, and the worker."""

    tasks: Channel
    answers: Channel
    proc: Any


@dataclass(slots=True)
class _Task:
    """A block handed to a worker: its lines, the number of the line before them; its answer when
    read before its turn (see :meth:`_Pool._take_back`), or ``again``: to be handed out again."""

    link: _Link
    text: bytes
    n: int
    answer: bytes | None = None
    again: bool = False


class _Pool:
    """The workers, and the blocks handed out, in input order."""

    def __init__(self, mapper: LineMapper, workers: int) -> None:
        self.mapper = mapper
        self.size = workers
        self.links: list[_Link] = []
        self.free: list[_Link] = []
        self.due: deque[_Task] = deque()
        self.known: dict[str, SchemaMessage] = {}  # the SCHEMA every worker holds for each stream
        # for the DEBUG line at the end: blocks handed out, blocks a worker stopped in, changed
        # SCHEMAs sent to every worker, blocks taken back and mapped again
        self.handed = self.stopped = self.schemas = self.again = 0

    def _start(self) -> None:
        self.known = dict(self.mapper.reader.schemas)
        self.mapper.writer.flush()
        for _ in range(self.size):
            held = [end for link in self.links for end in (link.tasks, link.answers)]
            link = _Link(*fork_worker(worker, self.mapper, held))
            self.links.append(link)
            self.free.append(link)
        log.debug("mapping with %d worker processes", self.size)

    def submit(self, text: bytes, n: int) -> None:
        """Map the whole lines ``text`` (lines ``n`` + 1 on) in a worker."""
        if not self.links:
            self._start()
        while not self.free:
            self.write_head()
        self.due.append(_Task(self._hand(text, n), text, n))

    def _hand(self, text: bytes, n: int) -> _Link:
        link = self.free.pop()
        link.tasks.send(HEAD.pack(BLOCK, n), text)
        self.handed += 1
        return link

    def drain(self) -> None:
        while self.due:
            self.write_head()

    def write_head(self) -> None:
        """Wait for the oldest block's answer and write it (or raise its error)."""
        task = self.due.popleft()
        answer = self._answer(task.link) if task.answer is None else task.answer
        kind, value, length = ANSWER.unpack_from(answer)
        self._write(memoryview(answer)[ANSWER.size + length:])
        if kind == ERROR:
            raise RelayedError(answer[ANSWER.size:ANSWER.size + length].decode("utf-8", "replace"), value)
        if value >= 0:
            self._resume(task, value)

    def _answer(self, link: _Link) -> bytes:
        answer = link.answers.answer("a worker process of the mapper")
        self.free.append(link)
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
        self.stopped += 1
        i = stopped
        while i < len(lines):
            mapper.run([lines[i]], task.n + i, b"\n", stop=True)
            if mapper.stopped is not None:
                msg = mapper.stopped[1]
                mapper.handle(msg)
                if isinstance(msg, SchemaMessage) and not same_schema(self.known.get(msg.stream), msg):
                    self._send_schema(msg, lines[i], task.n + i)
            i += 1
            if i < len(lines):
                mapper.run_text(b"\n".join(lines[i:]) + b"\n", task.n + i, stop=True)
                if mapper.stopped is None:
                    break
                i += mapper.stopped[0]
        mapper.flush()
        mapper.writer.flush()
        for old in self.due:  # every worker is free: one block each at most
            if old.again:
                old.link, old.again = self._hand(old.text, old.n), False

    def _send_schema(self, msg: SchemaMessage, line: bytes, n: int) -> None:
        """A changed SCHEMA (line ``n`` + 1), applied here: every worker applies it too."""
        self.known[msg.stream] = msg
        self._take_back(msg.stream)
        for link in self.links:
            link.tasks.send(HEAD.pack(SCHEMA, n), line)
        self.schemas += 1

    def _take_back(self, stream: str) -> None:
        """Every block handed out (none written yet) is answered, so no worker is busy while a SCHEMA
        goes to all (none blocks on a full pipe). A block that may hold a line of ``stream`` was mapped
        with its old SCHEMA: its answer is dropped, to map it again; any other's is kept for its turn."""
        holds = _holder(stream)
        for task in self.due:
            if task.answer is None and not task.again:
                task.answer = self._answer(task.link)
            if task.answer is not None and holds(task.text):
                task.answer, task.again = None, True
                self.again += 1

    def close(self, *, failed: bool) -> None:
        """Let the workers end; after a failure, stop them (their blocks are not wanted)."""
        if self.links:
            log.debug("workers: %d blocks handed out, %d stopped in, %d changed SCHEMAs sent to every worker, "
                      "%d blocks mapped again", self.handed, self.stopped, self.schemas, self.again)
        stop_workers([(link.tasks, link.answers, link.proc) for link in self.links],
                     None if failed else HEAD.pack(QUIT, 0))


class _Input:
    """The input, read so that nothing mapped waits for more input: before a read that would
    block (a tap that is slow, or pausing), every block handed out is answered and written (a
    STATE the tap wrote reaches the target now, not when more input comes)."""

    def __init__(self, source: IO[bytes], pool: _Pool) -> None:
        self.pool = pool
        self._read = getattr(source, "read1", source.read)
        self.fd = may_wait(source)  # None: a regular file or in memory, never waits
        if self.fd is not None and stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            widen_pipe(self.fd)

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

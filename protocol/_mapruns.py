"""Stream maps on the target side, on several processes: runs of records mapped by forked workers.

A target applying stream maps (protocol/_mapinput.py) spends most of its time mapping: each run's
records decoded as dicts, the expressions, the output stream's check and the encoding. With
``map_workers`` > 1 (default: one per CPU this process may use, at most 4) the runs go to worker
processes, forked once ``FORK_AFTER`` bytes of records have been mapped here (a small input starts
none), while this process reads and validates the input and loads the output. The loop sees what
one process gives it:

- every output in input order: a run's outputs before anything read after it (a STATE waits in
  line behind the runs before it, so it still follows every record it covers);
- the same error for the same bad record, raised when its run's turn comes, after every output
  before it;
- a worker answers with each output run's text, checked against the output stream's type; the
  decoded values are made here only when a sink reads them (target-jsonl writes the text);
- a SCHEMA, ACTIVATE_VERSION, BATCH or a RECORD off the fast lane waits for every run handed out
  and is handled here; a changed SCHEMA ends the
  workers (the next run forks new ones, which know it), a SCHEMA the same as before changes nothing;
- before a read that would wait for input, every run handed out is answered and passed on: nothing
  mapped waits for the tap's next line (a held STATE still goes out when the input falls idle).
"""

from __future__ import annotations

import gc
import logging
import pickle
import select
import signal
import struct
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from protocol._errors import SluiceError
from protocol._lane import RecordRun
from protocol._messages import RecordMessage, SchemaMessage
from protocol.maps._pipes import Channel, can_fork, default_workers, fork_worker, pipe_room, same_schema, stop_workers

if TYPE_CHECKING:
    from protocol._mapinput import MappedInput

__all__ = ["FORK_AFTER", "MapWorkerError", "RunPool", "map_workers"]

log = logging.getLogger("sluice.maps")

#: Bytes of records mapped in the main process before workers are forked.
FORK_AFTER = 1 << 20

# a task: first line, count, version (or none), whether tiny exponents are searched for, the
# stream name's length, the length of the records' time_extracted (JSON; 0: none); then the name,
# the time_extracted and the records' text
_TASK = struct.Struct("<qqq??II")
_ERROR = struct.Struct("<i")  # after b"E": the exit code, then the error's text
_OUTPUT, _FAILED = b"O", b"E"


class MapWorkerError(SluiceError):
    """An error raised in a map worker, raised again by the main process (same text and exit code)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


#: Runs handed to one worker and not yet answered, at most: the next waits in its pipe while it maps
#: one, so it never idles while this process takes an answer (when the tasks fit its pipe, see submit).
DEPTH = 8


@dataclass(slots=True)
class _Worker:
    """The main process's ends of one worker's pipes, the worker, and the sizes of its tasks not yet answered."""

    tasks: Channel
    answers: Channel
    proc: Any
    room: int  # the bytes its tasks pipe holds
    handed: deque[int] = field(default_factory=deque)

    def takes(self, size: int) -> bool:
        """Whether a task of ``size`` bytes may be handed now: to an idle worker always (it reads it
        whole); else only when every task not answered fits its pipe with it, so that the write
        never waits on a worker that is itself waiting for its answer to be read."""
        return not self.handed or (len(self.handed) < DEPTH and sum(self.handed) + size <= self.room)


class RunPool:
    """The workers, and what waits in line: runs handed out (their worker) and messages read after them."""

    def __init__(self, mapped: MappedInput, size: int, fd: int | None) -> None:
        self.mapped = mapped
        self.size = size
        self.fd = fd  # the input's descriptor when a read may wait (a pipe), else None
        self.workers: list[_Worker] = []
        self.line: deque[tuple[_Worker | None, Any]] = deque()  # (its worker, None) or (None, a message)
        self.known: dict[str, SchemaMessage] = {}  # each stream's last SCHEMA (the workers know it)
        self.mapped_here = 0
        self.handed = self.forks = 0

    def takes(self, run: RecordRun) -> bool:
        """Whether ``run`` goes to a worker (else it waits for those handed out and is mapped here)."""
        if run.version is not None and not -(1 << 63) <= run.version < 1 << 63:  # past a task's field
            return False
        if self.workers:
            return True
        self.mapped_here += len(run.records)
        return self.mapped_here > FORK_AFTER

    def submit(self, run: RecordRun, tiny: bool) -> Iterator[Any]:
        """Hand ``run`` to a free worker; what waits in line before it goes on first while none is free."""
        if not self.workers:
            self._start()
        name = run.stream.encode()
        version = run.version
        stamps = b"" if run.extracted is None else orjson.dumps(run.extracted)
        size = 8 + _TASK.size + len(name) + len(stamps) + len(run.records)
        while (worker := self._free(size)) is None:
            yield from self._next()
        worker.tasks.send(_TASK.pack(run.first_line, run.count, version or 0, version is not None, tiny, len(name),
                                     len(stamps)), name, stamps, run.records)
        worker.handed.append(size)
        self.handed += 1
        self.line.append((worker, None))

    def _free(self, size: int) -> _Worker | None:
        """The least busy worker that takes a task of ``size`` bytes now, if any."""
        best = min(self.workers, key=lambda w: len(w.handed))
        return best if best.takes(size) else None

    def pass_on(self, msg: Any) -> Iterator[Any]:
        """A message that changes nothing here (a STATE): now, or in line behind the runs before it."""
        if self.line:
            self.line.append((None, msg))
        else:
            yield msg

    def drain(self) -> Iterator[Any]:
        """Everything in line, in order."""
        while self.line:
            yield from self._next()

    def would_wait(self) -> bool:
        """Whether something waits in line and the next read of the input would wait."""
        return bool(self.line) and self.fd is not None and not select.select([self.fd], [], [], 0)[0]

    def schema(self, msg: SchemaMessage) -> None:
        """A SCHEMA read (everything before it passed on): a changed one ends the workers."""
        if self.workers and not same_schema(self.known.get(msg.stream), msg):
            self.close(failed=False)
        self.known[msg.stream] = msg

    def _next(self) -> Iterator[Any]:
        worker, msg = self.line.popleft()
        if worker is None:
            yield msg
            return
        answer = worker.answers.answer("a map worker process")
        worker.handed.popleft()
        if answer[:1] == _FAILED:
            (code,) = _ERROR.unpack_from(answer, 1)
            raise MapWorkerError(answer[1 + _ERROR.size:].decode("utf-8", "replace"), code)
        lanes = self.mapped.target.lanes
        for out in pickle.loads(memoryview(answer)[1:]):
            if out.__class__ is RecordMessage:
                yield out
            else:
                stream, records, count, first, version, extracted, faithful, lines = out
                yield RecordRun(stream, records, count, first, None, version, extracted, faithful=faithful,
                                lines=lines, decoder=lanes[stream].decoder)

    def _start(self) -> None:
        for _ in range(self.size):
            held = [end for w in self.workers for end in (w.tasks, w.answers)]
            tasks, answers, proc = fork_worker(_work, self.mapped, held)
            self.workers.append(_Worker(tasks, answers, proc, pipe_room(tasks.fd)))
        self.forks += 1
        log.debug("mapping runs with %d worker processes", self.size)

    def close(self, *, failed: bool) -> None:
        """Let the workers end (nothing is in line); after a failure, stop them."""
        stop_workers([(w.tasks, w.answers, w.proc) for w in self.workers], None if failed else b"")  # empty: stop
        self.workers.clear()

    def report(self) -> None:
        if self.forks:
            log.debug("map workers: %d runs handed out, forked %d time(s)", self.handed, self.forks)


def _work(tasks: Channel, answers: Channel, mapped: MappedInput, others: list[Channel]) -> None:
    """A worker's loop: map each run handed to it, answer with its outputs (or its error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how the run ends
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops a worker with SIGTERM: nothing to unwind
    for other in others:  # the main process's ends of the pipes: not ours to hold
        other.close()
    mapped.encode_runs = True
    gc.freeze()  # what the main process held: never scanned here, nor its pages copied for the scan
    while True:
        try:
            task = tasks.recv()
        except EOFError:  # the main process is gone
            return
        if not task:
            return
        first, count, version, versioned, tiny, size, stamped = _TASK.unpack_from(task)
        start = _TASK.size + size
        end = start + stamped
        run = RecordRun(task[_TASK.size:start].decode(), task[end:], count, first, [],
                        version if versioned else None, orjson.loads(task[start:end]) if stamped else None)
        try:
            outs = [_sent(out) for out in mapped.mapped_run(run, tiny)]
        except SluiceError as exc:  # anything else is a bug: the worker ends with its traceback
            answers.send(_FAILED, _ERROR.pack(int(exc.exit_code)), str(exc).encode("utf-8", "replace"))
            continue
        answers.send(_OUTPUT, pickle.dumps(outs, protocol=pickle.HIGHEST_PROTOCOL))
        del outs, run, task


def _sent(out: RecordMessage | RecordRun) -> Any:
    """An output as a worker answers it: a RECORD as it is, a run as its text and what goes with it."""
    if isinstance(out, RecordMessage):
        return out
    return (out.stream, bytes(out.records), out.count, out.first_line, out.version, out.extracted, out.faithful,
            out.lines)


def map_workers(config: Mapping[str, Any], run_values: bool) -> int:
    """Processes that apply a target's stream maps: the ``map_workers`` setting; by default one per CPU
    (at most 4) where the sink reads only the text of runs, else 1 (``run_values``: it loads the decoded
    values, which this process would decode again from a worker's text, and its loading is the longer part)."""
    workers = config.get("map_workers")
    if not can_fork():  # no fork on this system: one process
        return 1
    if workers is None:
        return 1 if run_values else default_workers()
    return int(workers)

"""mapper-sluice's worker processes (see _parallel.py): the pipes between the main process and a
worker, and a worker's loop: apply changed SCHEMAs, map blocks, answer each block."""

from __future__ import annotations

import io
import signal
import struct

from protocol._errors import SluiceError
from protocol._jsoncodec import long_digit_lines
from protocol._messages import ActivateVersionMessage, SchemaMessage
from protocol._writer import MessageWriter
from protocol.maps._pipes import Channel, same_schema, widen_pipe
from protocol.maps._program import LineMapper

__all__ = ["ANSWER", "BLOCK", "ERROR", "HEAD", "OUTPUT", "QUIT", "SCHEMA", "Channel", "same_schema", "widen_pipe",
           "worker"]

HEAD = struct.Struct("<cq")  # kind, the number of the line before the payload's first
#: kind, then the index of the line the worker stopped at (-1: none) or the exit code, then the length of
#: the error's text; the text, then what the worker wrote (on an error: what it had flushed, as one process would)
ANSWER = struct.Struct("<ciI")
BLOCK, SCHEMA, QUIT, OUTPUT, ERROR = b"B", b"S", b"Q", b"O", b"E"


def _map_block(mapper: LineMapper, text: bytes, n: int, known: dict[str, SchemaMessage]) -> int:
    """Map a block (lines ``n`` + 1 on) as one process would, up to the first line left to the main
    process: its index in the block (-1: none). An ACTIVATE_VERSION, or a SCHEMA the same as the one
    ``known`` for its stream, is mapped here: it changes nothing, in this worker or any other."""
    lines = text.split(b"\n")
    lines.pop()  # after the last newline
    doubted = set(long_digit_lines(text))  # as LineMapper.run_text: lines a float could round
    first = 0  # the index of the first line not mapped yet
    while True:
        rest = {d - first for d in doubted if d >= first} if first else doubted
        mapper.run(lines[first:] if first else lines, n + first, b"\n", rest, stop=True)
        if mapper.stopped is None:
            return -1
        i, msg = mapper.stopped
        if not (isinstance(msg, ActivateVersionMessage)
                or (isinstance(msg, SchemaMessage) and same_schema(known.get(msg.stream), msg))):
            return first + i
        mapper.handle(msg)
        first += i + 1
        if first == len(lines):
            return -1


def _apply(mapper: LineMapper, line: bytes, n: int, known: dict[str, SchemaMessage]) -> None:
    """A changed SCHEMA (line ``n`` + 1), applied by a worker: the main process wrote its output."""
    mapper.writer = mapper.batch.writer = MessageWriter(io.BytesIO())
    mapper.run([line], n, b"\n", stop=True)
    if mapper.stopped is not None:
        msg = mapper.stopped[1]
        mapper.handle(msg)
        known[msg.stream] = msg


def worker(tasks: Channel, answers: Channel, mapper: LineMapper, others: list[Channel]) -> None:
    """A worker's loop: apply SCHEMAs, map blocks, answer each block."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides how the run ends
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops a worker with SIGTERM: nothing to unwind
    for other in others:  # the main process's ends of the workers forked before: not ours to hold
        other.close()
    known = dict(mapper.reader.schemas)  # the SCHEMAs applied when forked, as in the main process
    out = io.BytesIO()
    while True:
        try:
            message = tasks.recv()
        except EOFError:  # the main process is gone
            return
        kind, n = HEAD.unpack_from(message)
        if kind == QUIT:
            return
        payload = message[HEAD.size:]
        if kind == SCHEMA:
            _apply(mapper, payload, n, known)
            continue
        try:
            mapper.writer = mapper.batch.writer = writer = MessageWriter(out)
            stopped = _map_block(mapper, payload, n, known)
            mapper.flush()
            writer.flush()
            with out.getbuffer() as view:
                answers.send(ANSWER.pack(OUTPUT, stopped, 0), view)
        except SluiceError as exc:  # anything else is a bug: the worker ends with its traceback
            _fail(answers, str(exc), int(exc.exit_code), out)
        finally:
            out.seek(0)
            out.truncate()
            mapper.batch.rows.clear()


def _fail(answers: Channel, message: str, code: int, out: io.BytesIO) -> None:
    text = message.encode("utf-8", "replace")
    answers.send(ANSWER.pack(ERROR, code, len(text)), text, out.getvalue())

"""Input read a block of whole lines at a time (the chunked reader's and mapper-sluice's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

__all__ = ["LINE_BLOCK_BYTES", "ByteSource", "line_blocks"]

LINE_BLOCK_BYTES = 1 << 16


class ByteSource(Protocol):
    """What :func:`line_blocks` reads (``read1`` is used when the object has one)."""

    def read(self, size: int = -1, /) -> bytes: ...


def line_blocks(source: ByteSource, limit: int, size: int = LINE_BLOCK_BYTES) -> Iterator[tuple[bytes, int]]:
    """``source`` read ``size`` bytes at a time, as ``(data, cut)``: ``data[:cut]`` is whole lines, ``cut``
    just after a newline (the rest of ``data`` is the start of the next line, not yielded again).
    ``cut`` -1: ``data`` is one line without its newline, the input's last, or the start of a line
    longer than ``limit`` + 1 bytes (the caller refuses it; no more is read of it)."""
    # read1: what is available now (a pipe from a slow tap does not stall a whole chunk)
    read = getattr(source, "read1", source.read)
    carry: list[bytes] = []  # the start of a line longer than one read: joined once
    carried = 0
    while True:
        data = read(size)
        if not data:
            if carry:
                yield b"".join(carry), -1
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry.append(data)
            carried += len(data)
            if carried > limit + 1:
                yield b"".join(carry), -1
                return
            continue
        if carry:
            carry.append(data)
            cut += carried
            data = b"".join(carry)
        yield data, cut
        tail = data[cut:]
        carry = [tail] if tail else []
        carried = len(tail)

"""One writer per file at a time: the file targets' rollback assumes it.

A file target rolls back by truncating its file to the last checkpoint (targets/files/durable.py)
and records its committed size as the bytes it wrote itself (targets/files/marker.py). Two runs
appending to one file at once (tenants of one pipeline sharing a ``destination_path`` under
``sluice run -j N``) broke both: a failing run's rollback cut the other run's committed rows,
whose stored state still said they were delivered (found by an outside probe). Pipelines may
still append to one file in turn; at once, the second run fails before it writes a byte, with an
error saying how to give each its own file.

The lock is ``flock`` on the open file: held while the file is open for writing, released when
it is closed or the process dies (a killed run leaves nothing to clean), and it follows the file
through a rename (an overwrite's staged file, a CSV rewrite).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from protocol import TargetError

__all__ = ["lock_for_writing"]


def lock_for_writing(fd: int, path: Path) -> None:
    """Take the write lock of the open file ``fd`` (``path``), or close it and raise TargetError."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise TargetError(f"{path} is being written by another run: two runs may not append to one file at "
                          "once (a failing one would roll the other's rows back); give each its own "
                          "destination_path (for tenants: a path holding ${tenant.id})") from None

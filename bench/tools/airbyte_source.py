#!/usr/bin/env python3
"""The Airbyte source by itself: its ``read`` with its output consumed and counted, nothing translated.

    airbyte_source.py SOURCE_PROGRAM CONFIG CATALOG

Runs ``SOURCE_PROGRAM read --config CONFIG --catalog CATALOG``, reads its stdout line by line
and counts the RECORD lines (a prefix test, no parsing); prints ``records=N`` on stderr and
exits with the source's exit code. The wall time of this program is the source's own run time,
the floor tap-airbyte is compared with.
"""

from __future__ import annotations

import subprocess
import sys

_RECORD = b'{"type":"RECORD"'


def main(program: str, config: str, catalog: str) -> int:
    proc = subprocess.Popen([program, "read", "--config", config, "--catalog", catalog], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    count = 0
    for line in proc.stdout:  # buffered: C-speed readline, cheap next to the source's own work per record
        if line.startswith(_RECORD):
            count += 1
    code = proc.wait()
    sys.stderr.write(f"records={count}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))

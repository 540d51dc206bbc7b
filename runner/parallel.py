"""``sluice run --all -j N``: every pipeline, at most N at once, each in its own runner process.

Each pipeline runs as ``python -m runner run NAME`` (its own lock, signals and state), so
one failing pipeline cannot disturb the others. Their stderr lines are prefixed with the
pipeline's name; a tenant's pipeline (for_each:) runs without the other tenants' variables
(runner/tenant_env.py). SIGINT/SIGTERM stop launching and are passed on to the running ones. The
exit code combines theirs (runner/outcome.py, :data:`~runner.outcome.ALL_EXIT_HELP`).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO

from protocol import ExitCode, plural
from runner.outcome import combine_exit_codes

__all__ = ["run_all"]


def _pump(name: str, stream: IO[bytes], terminal: IO[str], lock: threading.Lock) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            terminal.write(f"[{name}] {line}\n")
            terminal.flush()
    stream.close()


def run_all(names: list[str], jobs: int, base_args: list[str], run_args: list[str],
            terminal: IO[str] | None = None, envs: Mapping[str, Mapping[str, str]] | None = None) -> int:
    """Run ``names``; ``envs`` gives the environment of a pipeline's runner (default: this one's)."""
    terminal = terminal or sys.stderr
    lock = threading.Lock()
    pending = list(names)
    running: dict[str, tuple[subprocess.Popen[bytes], threading.Thread]] = {}
    codes: dict[str, int] = {}
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)
        for proc, _ in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while pending or running:
            while pending and len(running) < jobs and not stopping:
                name = pending.pop(0)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "runner", *base_args, "run", name, *run_args],
                    # no preexec_fn: the pump threads make fork-time code unsafe. A run started here
                    # finishes on its own (with its own lock) even if this parent dies.
                    stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                    env=(envs or {}).get(name),
                )
                assert proc.stderr is not None
                pump = threading.Thread(target=_pump, args=(name, proc.stderr, terminal, lock), daemon=True)
                pump.start()
                running[name] = (proc, pump)
            for name, (proc, pump) in list(running.items()):
                rc = proc.poll()
                if rc is not None:
                    pump.join()
                    codes[name] = rc
                    del running[name]
            if stopping and pending:
                for name in pending:
                    codes[name] = ExitCode.FAILED  # never started: counted as failed in the summary
                pending.clear()
            time.sleep(0.05)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    failed = sorted(name for name, rc in codes.items() if rc != ExitCode.OK)
    ok = len(codes) - len(failed)
    summary = f"sluice: {ok:,} of {plural(len(codes), 'pipeline')} succeeded"
    if failed:
        summary += "; failed: " + ", ".join(f"{n} (exit {codes[n]})" for n in failed)
    terminal.write(summary + "\n")
    terminal.flush()
    return combine_exit_codes(codes.values(), stopping[0] if stopping else None)

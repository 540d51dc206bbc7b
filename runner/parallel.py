"""``sluice run --all -j N``: every pipeline, at most N at once, each in its own runner process.

Each pipeline runs as ``python -m runner run NAME`` (its own lock, signals and state), so
one failing pipeline cannot disturb the others. Their stderr lines are prefixed with the
pipeline's name; a tenant's pipeline (for_each:) runs without the other tenants' variables
(runner/tenant_env.py). SIGINT/SIGTERM stop launching and are passed on to the running ones. The
exit code combines theirs (runner/outcome.py, :data:`~runner.outcome.ALL_EXIT_HELP`).

A pipeline is skipped, which is no failure of the batch, when it is running already (its lock
held, on this host or another sharing the store) or when a run of it started since the batch
began succeeded (another host's batch did it). With a store shared by hosts, each host also
begins the list at its own place (:func:`host_order`): hosts started at once (by the same cron
line) spread over the pipelines and share them out instead of racing for the same ones.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO

from protocol import ExitCode, plural
from runner.digests import blake2b
from runner.outcome import combine_exit_codes

__all__ = ["host_order", "run_all"]


def _pump(name: str, stream: IO[bytes], terminal: IO[str], lock: threading.Lock) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            terminal.write(f"[{name}] {line}\n")
            terminal.flush()
    stream.close()


def host_order(names: list[str], host: str) -> list[str]:
    """``names`` rotated to begin at a place chosen by ``host`` (the same place on every run)."""
    if not names:
        return names
    start = int.from_bytes(blake2b(host.encode(), digest_size=4).digest(), "big") % len(names)
    return names[start:] + names[:start]


def run_all(names: list[str], jobs: int, base_args: list[str], run_args: list[str],
            terminal: IO[str] | None = None, skip: Callable[[str], str | None] | None = None,
            envs: Mapping[str, Mapping[str, str]] | None = None) -> int:
    """``skip(name)``: why the pipeline needs no run now ("already running (pid 12 on host-b ...)"),
    or None. Asked before a runner is started for it; the runner's own lock stays the rule.
    ``envs`` gives the environment of a pipeline's runner (default: this one's)."""
    terminal = terminal or sys.stderr
    lock = threading.Lock()
    pending = list(names)
    running: dict[str, tuple[subprocess.Popen[bytes], threading.Thread]] = {}
    codes: dict[str, int] = {}
    skipped: dict[str, str] = {}  # why
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
                why = skip(name) if skip else None
                if why is not None:
                    skipped[name] = why
                    _say(terminal, lock, name, f"sluice: skipped: {why}")
                    continue
                running[name] = _launch(name, [*base_args, "run", name, *run_args], terminal, lock,
                                        (envs or {}).get(name))
            for name, (proc, pump) in list(running.items()):
                rc = proc.poll()
                if rc is not None:
                    pump.join()
                    del running[name]
                    if rc == ExitCode.LOCKED:
                        skipped[name] = (skip(name) if skip else None) or "already running"
                    else:
                        codes[name] = rc
            if stopping and pending:
                for name in pending:
                    codes[name] = ExitCode.FAILED  # never started: counted as failed in the summary
                pending.clear()
            time.sleep(0.05)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    terminal.write(_summary(codes, skipped) + "\n")
    terminal.flush()
    return combine_exit_codes(codes.values(), stopping[0] if stopping else None)


def _launch(name: str, args: list[str], terminal: IO[str], lock: threading.Lock,
            env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        # no preexec_fn: the pump threads make fork-time code unsafe. A run started here
        # finishes on its own (with its own lock) even if this parent dies.
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env,
    )
    assert proc.stderr is not None
    pump = threading.Thread(target=_pump, args=(name, proc.stderr, terminal, lock), daemon=True)
    pump.start()
    return proc, pump


def _say(terminal: IO[str], lock: threading.Lock, name: str, line: str) -> None:
    with lock:
        terminal.write(f"[{name}] {line}\n")
        terminal.flush()


def _summary(codes: dict[str, int], skipped: dict[str, str]) -> str:
    failed = sorted(name for name, rc in codes.items() if rc != ExitCode.OK)
    ok = len(codes) - len(failed)
    summary = f"sluice: {ok:,} of {plural(len(codes), 'pipeline')} succeeded"
    if failed:
        summary += "; failed: " + ", ".join(f"{n} (exit {codes[n]})" for n in failed)
    if skipped:  # each has its line above: why, and who holds it
        summary += f"; {len(skipped):,} skipped (already running, or done since the batch began): " + ", ".join(
            sorted(skipped))
    return summary

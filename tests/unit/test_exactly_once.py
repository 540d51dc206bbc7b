"""Exactly-once pieces on their own: the runner's choice of state, the control channel, the
file targets' commit marker, the store's generation, and a file target under a control channel."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from protocol._exactly_once import ENV_CONTROL_FD, ENV_GENERATION, ENV_STATE_ID, Committed, Control
from protocol._writer import MessageWriter
from runner.reconcile import ControlPipe, choose_state
from targets.files.marker import Marker
from targets.jsonl.target import TargetJsonl

S1 = {"bookmarks": {"s": {"position": 1}}}
S2 = {"bookmarks": {"s": {"position": 2}}}


@pytest.mark.parametrize(("stored", "generation", "committed", "expected"), [
    (S1, 0, None, (S1, False)),  # no committed state (a third-party target's, a first run)
    (S1, 0, Committed(0, 5, False, S2), (S2, True)),  # the destination is ahead: the runner died
    (S2, 0, Committed(0, 5, False, S2), (S2, False)),
    (S1, 1, Committed(0, 5, False, S2), (S1, False)),  # reset since (state set): the store wins
    (None, 1, Committed(0, 5, True, S2), (None, False)),  # cleared or --full-refresh
    (S1, 0, Committed(0, 1, True, None), (S1, False)),  # committed rows but no STATE value yet
])
def test_choose_state(stored: Any, generation: int, committed: Committed | None, expected: Any) -> None:
    assert choose_state(stored, generation, committed) == expected


def test_committed_json_roundtrip() -> None:
    value = Committed(3, 7, False, {"bookmarks": {"a": {"v": 1}}})
    assert Committed.from_json(value.to_json()) == value
    assert Committed.from_json(b"null") is None
    with pytest.raises(ValueError, match="object or null"):
        Committed.from_json(b'{"generation": 1, "value": [1]}')


def _control(pipe: ControlPipe) -> Control:
    control = Control.from_env(pipe.env)
    assert control is not None
    return control


def test_control_channel_verdicts() -> None:
    assert Control.from_env({ENV_STATE_ID: "p"}) is None  # not under sluice
    for ok, verdict in ((True, b"tap-ok\n"), (False, b"tap-failed\n")):
        pipe = ControlPipe("p", 4)
        control = _control(pipe)
        assert (control.state_id, control.generation) == ("p", 4)
        assert not control.runner_gone()  # nothing said yet, the runner is alive
        pipe.tap_exited(ok)
        pipe.tap_exited(not ok)  # only the first verdict is sent
        assert control.wait_verdict() == verdict and not control.runner_gone()
        pipe.close()
    pipe = ControlPipe("p", 0)
    control = _control(pipe)
    os.close(pipe.write_fd)  # the runner died: end of file without a verdict
    assert control.runner_gone() and control.wait_verdict() is None
    os.close(pipe.read_fd)


def test_control_env_must_name_an_open_descriptor() -> None:
    from protocol._errors import ConfigError

    with pytest.raises(ConfigError, match=ENV_CONTROL_FD):
        Control.from_env({ENV_STATE_ID: "p", ENV_CONTROL_FD: "987654", ENV_GENERATION: "1"})


def test_marker_recover_truncates_only_files_it_knows(tmp_path: Path) -> None:
    grown, replaced, short = (tmp_path / n for n in ("grown.jsonl", "replaced.jsonl", "short.jsonl"))
    for path in (grown, replaced, short):
        path.write_bytes(b"a\nb\n")
    marker = Marker(tmp_path, "pipe/1")
    files = {str(p): [(p.stat().st_ino, 2)] for p in (grown, replaced, short)}
    files[str(grown)].insert(0, (grown.stat().st_ino + 1, 4))  # the other candidate of a rewrite
    files[str(short)] = [(short.stat().st_ino, 9)]
    marker.write(Committed(2, 3, False, S1), files)
    replaced.rename(tmp_path / "moved-away.jsonl")  # kept, so the new file gets another inode
    replaced.write_bytes(b"new file\n")  # replaced outside sluice: left alone
    stale = tmp_path / f"{marker.path.name}.999.tmp"
    stale.write_bytes(b"{")  # a marker write killed before its rename
    again = Marker(tmp_path, "pipe/1")
    assert again.load() == Committed(2, 3, False, S1)
    again.recover()
    assert not stale.exists()
    assert grown.read_bytes() == b"a\n"
    assert replaced.read_bytes() == b"new file\n"
    assert short.read_bytes() == b"a\nb\n"  # shorter than committed: changed outside sluice
    assert Marker(tmp_path, "other").load() is None


def _stream(*messages: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(m).encode() + b"\n" for m in messages))


SCHEMA = {"type": "SCHEMA", "stream": "s", "key_properties": [],
          "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}


def _record(n: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "s", "record": {"n": n}}


@pytest.mark.parametrize("ok", [True, False])
def test_file_target_commits_the_tail_only_after_tap_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        ok: bool) -> None:
    pipe = ControlPipe("p", 0)
    for name, value in pipe.env.items():
        monkeypatch.setenv(name, value)
    target = TargetJsonl({"destination_path": str(tmp_path), "batch_size_rows": 2, "state_flush_seconds": 0})
    pipe.tap_exited(ok)
    out = io.BytesIO()
    messages = [SCHEMA, *map(_record, range(1, 6)), {"type": "STATE", "value": S1}, *map(_record, range(6, 10))]
    target.run(_stream(*messages), MessageWriter(out))
    pipe.close()
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(1, 10 if ok else 6))
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]  # the tail has no STATE of its own
    committed = Marker(tmp_path, "p").load()
    assert committed == Committed(0, 2 if ok else 1, ok, S1)


@pytest.mark.parametrize("worker_thread", [False, True], ids=["alone", "with-another-thread-running"])
def test_sigterm_right_after_the_marker_commit_keeps_the_committed_rows(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       worker_thread: bool) -> None:
    """A SIGTERM landing between the marker's rename and the sinks' checkpoint (found by the chaos
    suite: the runner killed -9, its target getting SIGTERM from PR_SET_PDEATHSIG) must not let the
    abort path truncate the files below what the marker just committed, nor skip the STATE.

    With another thread running (as in a full test run, or a target with worker threads), a
    SIGTERM blocked by the main thread's signal mask went to that thread, and Python ran the
    handler inside the block at once: the file was empty after the run. The hold in
    protocol._signals does not depend on which thread the kernel picks."""
    import signal
    import threading

    from protocol._errors import Terminated
    from protocol._signals import install

    pipe = ControlPipe("p", 0)
    for name, value in pipe.env.items():
        monkeypatch.setenv(name, value)
    real_write = Marker.write

    def write_then_sigterm(self: Marker, committed: Committed | None, files: Any,
                           renames: dict[str, str] | None = None) -> None:
        real_write(self, committed, files, renames)
        if committed is not None:  # the commit of the first STATE: the signal arrives right after it
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Marker, "write", write_then_sigterm)
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    if worker_thread:
        other.start()
    restore = install()
    out = io.BytesIO()
    try:
        target = TargetJsonl({"destination_path": str(tmp_path), "batch_size_rows": 100, "state_flush_seconds": 0})
        messages = [SCHEMA, *map(_record, range(1, 6)), {"type": "STATE", "value": S1}, *map(_record, range(6, 10))]
        with pytest.raises(Terminated, match=r"^stopped by SIGTERM after the commit in flight went through and "
                                             r"the STATE it covers was emitted$"):
            target.run(_stream(*messages), MessageWriter(out))
    finally:
        restore()
        release.set()
        pipe.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]  # the commit's STATE is reported
    marker = Marker(tmp_path, "p")
    assert marker.load() == Committed(0, 1, False, S1)
    marker.recover()  # what the next run does first
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("stop", [None, "SIGINT", "SIGTERM", "timeout"])
def test_a_line_cut_at_the_end_is_an_interruption_only_when_the_runner_stopped_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str | None) -> None:
    from protocol._errors import Terminated, TruncatedLineError

    pipe = ControlPipe("p", 0)
    for name, value in pipe.env.items():
        monkeypatch.setenv(name, value)
    target = TargetJsonl({"destination_path": str(tmp_path), "batch_size_rows": 100, "state_flush_seconds": 0})
    if stop is not None:
        pipe.stopping(stop)  # the runner announces the stop before it stops the tap
    pipe.tap_exited(False)
    torn = b'{"type": "RECORD", "stream": "s", "record": {"n'
    source = io.BytesIO(_stream(SCHEMA, *map(_record, range(1, 4)), {"type": "STATE", "value": S1},
                                *map(_record, range(4, 6))).read() + torn)
    out = io.BytesIO()
    try:
        if stop is None:
            with pytest.raises(TruncatedLineError, match=r"^line 8: malformed JSON: .*the input ends in the middle"):
                target.run(source, MessageWriter(out))
        else:
            with pytest.raises(Terminated, match=r"^the sluice run was .*: the input ended at line 8, in the middle "
                                                 r"of a line the stopped tap was writing") as caught:
                target.run(source, MessageWriter(out))
            assert caught.value.exit_code == (130 if stop == "SIGINT" else 143)
            assert ("SIGINT (Ctrl-C)" if stop == "SIGINT" else stop) in str(caught.value)
    finally:
        pipe.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]
    Marker(tmp_path, "p").recover()
    assert [json.loads(line)["n"] for line in (tmp_path / "s.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_control_reads_the_stop_then_the_verdict() -> None:
    pipe = ControlPipe("p", 3)
    try:
        control = Control("p", 3, pipe.read_fd)
        assert not control.runner_gone() and control.stop is None
        pipe.stopping("SIGTERM")
        pipe.tap_exited(False)
        pipe.stopping("SIGINT")  # after the verdict: nothing more is said
        assert control.stopped() == "SIGTERM"
        assert control.verdict == b"tap-failed\n"
    finally:
        pipe.close()


class _Chunks(io.RawIOBase):
    """A target's input in parts, calling ``between()`` when a part has been read: what the runner
    says on the control channel then reaches the target between two STATEs."""

    def __init__(self, parts: list[bytes], between: Any) -> None:
        self.parts, self.between = parts, between

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self.parts and not self.parts[0]:
            self.parts.pop(0)
            self.between()
        if not self.parts:
            return 0
        n = min(len(buffer), len(self.parts[0]))
        buffer[:n], self.parts[0] = self.parts[0][:n], self.parts[0][n:]
        return n


@pytest.mark.parametrize("verdict_first", [False, True], ids=["tap-running", "tap-exited-ok"])
def test_a_target_commits_nothing_after_the_run_lost_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              verdict_first: bool) -> None:
    """A host cut off from the PostgreSQL store loses the pipeline lock; another host may take it and
    read the destination's committed state. The cut-off run's target went on committing at each STATE
    (and at the end after tap-ok): the other host loaded the same records again (found by a probe).
    ``stop lock`` is said even after the verdict, and the target refuses every commit after it."""
    from protocol import STOP_LOCK, TargetError

    pipe = ControlPipe("p", 0)
    for name, value in pipe.env.items():
        monkeypatch.setenv(name, value)
    target = TargetJsonl({"destination_path": str(tmp_path), "batch_size_rows": 1, "state_flush_seconds": 0})

    def lose_the_lock() -> None:
        if verdict_first:
            pipe.tap_exited(True)
        pipe.stopping(STOP_LOCK)
        pipe.tap_exited(False)  # the runner stops the tap (only the first verdict is sent)

    first = _stream(SCHEMA, _record(1), {"type": "STATE", "value": S1}).getvalue()
    then = _stream(_record(2), {"type": "STATE", "value": {"n": 2}}, _record(3)).getvalue()
    out = io.BytesIO()
    with pytest.raises(TargetError, match="lost its pipeline lock"):
        target.run(io.BufferedReader(_Chunks([first, then], lose_the_lock)), MessageWriter(out))
    pipe.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]
    assert Marker(tmp_path, "p").load() == Committed(0, 1, False, S1)
    Marker(tmp_path, "p").recover()
    assert [json.loads(line)["n"] for line in (tmp_path / "s.jsonl").read_text().splitlines()] == [1]


def test_a_run_whose_lock_was_taken_over_commits_nothing_more_to_an_sql_destination(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's server ended host A's lock session; host B took the pipeline over, resumed from the
    destination and committed. A's runner had not noticed yet (no ``stop lock`` said): A's next commit
    would load its rows a second time and write its older bookmark over B's (found by a probe). The
    sequence fences it: A wrote on sequence 1, the destination holds B's 2, so A's commit fails and
    rolls back; B's rows and bookmark stand."""
    import sqlite3

    from protocol import TargetError
    from targets.sqlite.target import SQLiteTarget

    database = str(tmp_path / "dest.db")
    config = {"database": database, "batch_size_rows": 1, "state_flush_seconds": 0}
    pipe_a = ControlPipe("p", 0)
    for name, value in pipe_a.env.items():
        monkeypatch.setenv(name, value)
    host_a = SQLiteTarget(config)
    pipe_a.tap_exited(True)  # A's verdict is in: without the fence it would commit to the end

    def host_b_takes_over() -> None:
        pipe_b = ControlPipe("p", 0)
        with monkeypatch.context() as env:
            for name, value in pipe_b.env.items():
                env.setenv(name, value)
            host_b = SQLiteTarget(config)
            pipe_b.tap_exited(True)
            out = io.BytesIO()
            host_b.run(_stream(SCHEMA, _record(2), _record(3), {"type": "STATE", "value": S2}), MessageWriter(out))
        pipe_b.close()
        assert [json.loads(line) for line in out.getvalue().splitlines()] == [S2]

    first = _stream(SCHEMA, _record(1), {"type": "STATE", "value": S1}).getvalue()
    then = _stream(_record(2), {"type": "STATE", "value": {"bookmarks": {"s": {"position": 9}}}}).getvalue()
    out = io.BytesIO()
    with pytest.raises(TargetError, match="another run committed state 'p'"):
        host_a.run(io.BufferedReader(_Chunks([first, then], host_b_takes_over)), MessageWriter(out))
    pipe_a.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [S1]
    with sqlite3.connect(database) as conn:
        assert sorted(n for (n,) in conn.execute('SELECT n FROM "s"')) == [1, 2, 3]
        (value, sequence), = conn.execute('SELECT value, sequence FROM "_sluice_state" WHERE state_id = ?', ("p",))
    assert json.loads(value) == S2 and sequence == 3  # B committed at its STATE and at its end

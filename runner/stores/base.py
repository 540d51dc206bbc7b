"""The state store interface: states, run history and one lock per pipeline.

Two backends implement it: :mod:`runner.stores.sqlite` (an embedded file, the default) and
:mod:`runner.stores.postgres` (many hosts). Both keep the same three things:

- states: the last STATE value a target sent back, per state id, and its generation: a
  number bumped by every deliberate reset (`sluice state set|clear`, ``--full-refresh``),
  which exactly-once targets store with their data (see runner/reconcile.py);
- run history: start, end, status, record counts and error of every run. A run has an
  internal id (global, unique in the store) and a number within its pipeline: the first run
  of a pipeline is run 1 whatever other pipelines ran before. Stores written before the
  numbers existed are numbered in place on first open (their history kept, in id order);
- locks: one per pipeline (keyed by its state id), released by the OS or the database
  when the holder dies, so a dead runner never blocks a pipeline for ever. Each lock says who
  holds it (:class:`LockInfo`: host, pid, since, run), shown by ``sluice locks``.

The host of a run and of a lock is :func:`host_name`: ``SLUICE_HOST`` or the machine's name.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from protocol import ExitCode, SluiceError
from runner.stores.dashboard import DashboardSQL, ProgressRow

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LockInfo",
    "LockLost",
    "PipelineLock",
    "PipelineLocked",
    "ProgressWriter",
    "RunRecord",
    "SQLStore",
    "StartedRun",
    "StateStore",
    "StoreError",
    "abandoned_error",
    "host_name",
    "ran_since",
]

#: seconds after which a runner cut off from a PostgreSQL store loses its locks (``lock_timeout_seconds``)
DEFAULT_LOCK_TIMEOUT = 30.0


class StoreError(SluiceError):
    """The state store cannot be reached or used."""


class LockLost(StoreError):
    """The pipeline lock this run held is gone (its store session ended or stopped answering):
    nothing more is written under it."""


class PipelineLocked(SluiceError):
    """Another live run holds the pipeline's lock."""

    exit_code = ExitCode.LOCKED


@dataclass(frozen=True)
class RunRecord:
    id: int
    pipeline: str
    state_id: str
    started_at: float
    ended_at: float | None
    status: str
    records_emitted: int | None
    records_committed: int | None
    error: str | None
    host: str
    pid: int
    number: int = 0  # the run's number within its pipeline (1, 2, ...); ``id`` is the store's own

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run": self.number,
            "pipeline": self.pipeline,
            "state_id": self.state_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "records_emitted": self.records_emitted,
            "records_committed": self.records_committed,
            "error": self.error,
            "host": self.host,
            "pid": self.pid,
        }


@dataclass(frozen=True)
class StartedRun:
    """A run just entered in the history: its internal id and its number within its pipeline."""

    id: int
    number: int


def host_name() -> str:
    """The host recorded with runs and locks: ``SLUICE_HOST`` when set, else the machine's name."""
    return os.environ.get("SLUICE_HOST") or os.uname().nodename  # gethostname(), without importing socket


def ran_since(run: RunRecord) -> str:
    """Why ``sluice run --all`` skips a pipeline another host's batch ran meanwhile."""
    return f"already ran since this batch began: run {run.number} on {run.host}"


def abandoned_error() -> str:
    """The error of a run the next holder of its lock found still 'running'."""
    return (f"abandoned: its runner died or lost the pipeline lock during the run "
            f"(found by pid {os.getpid()} on {host_name()})")


@dataclass(frozen=True)
class LockInfo:
    """Who holds a pipeline lock: the state id locked, the holder's host and pid, since when,
    and the run it is for (none for ``sluice state set|clear``)."""

    state_id: str
    host: str
    pid: int
    since: float
    pipeline: str | None = None
    run_id: int | None = None
    run: int | None = None  # the run's number within its pipeline

    @classmethod
    def mine(cls, state_id: str) -> LockInfo:
        return cls(state_id, host_name(), os.getpid(), time.time())

    def describe(self) -> str:
        """``pid 123 on host-a since 2024-01-01T00:00:00Z, run 7 of 'orders'``."""
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since))
        text = f"pid {self.pid} on {self.host} since {since}"
        if self.run is not None and self.pipeline is not None:
            text += f", run {self.run} of '{self.pipeline}'"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"state_id": self.state_id, "pipeline": self.pipeline, "host": self.host, "pid": self.pid,
                "since": self.since, "run_id": self.run_id, "run": self.run}


class PipelineLock(ABC):
    """A held pipeline lock. Released explicitly, or by the OS/database when the holder dies."""

    @abstractmethod
    def alive(self) -> bool:
        """True while the lock is still held (the database session may have been lost)."""

    @abstractmethod
    def release(self) -> None: ...


class ProgressWriter(ABC):
    """Writes one running run's live progress, from a background timer, on a connection of its own."""

    @abstractmethod
    def write(self, run_id: int, rows: list[ProgressRow]) -> None:
        """Upsert the run's progress of each stream: (stream, records emitted, committed, records/s)."""

    @abstractmethod
    def close(self) -> None: ...


class StateStore(ABC):
    """What the runner needs from a state store."""

    description: str = ""

    # -- states -------------------------------------------------------------------------
    @abstractmethod
    def get_state(self, state_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def set_state(self, state_id: str, value: dict[str, Any]) -> None: ...

    @abstractmethod
    def clear_state(self, state_id: str) -> bool:
        """Delete a state; True when there was one."""

    @abstractmethod
    def list_states(self) -> list[tuple[str, float]]:
        """Every state id with the time it was last written."""

    @abstractmethod
    def generation(self, state_id: str) -> int:
        """The state's generation (0 until the first reset)."""

    @abstractmethod
    def bump_generation(self, state_id: str) -> int:
        """A deliberate reset of the state: the next generation, returned."""

    # -- locks --------------------------------------------------------------------------
    @abstractmethod
    def try_lock(self, state_id: str) -> PipelineLock | None:
        """Take the pipeline's lock without waiting; None when a live run holds it."""

    @abstractmethod
    def lock_holder(self, state_id: str) -> str | None:
        """A description of the live holder of the lock (:meth:`LockInfo.describe`), when known."""

    @abstractmethod
    def locks(self) -> list[LockInfo]:
        """Every lock held now, by any runner on any host, in state id order."""

    def lock(self, state_id: str, doing: str = "this run") -> PipelineLock:
        """The pipeline's lock; ``doing`` names what is refused when a live run holds it."""
        held = self.try_lock(state_id)
        if held is None:
            holder = self.lock_holder(state_id)
            who = f" (held by {holder})" if holder else ""
            raise PipelineLocked(f"pipeline '{state_id}' is already running{who}; {doing} is refused")
        return held

    # -- run history --------------------------------------------------------------------
    @abstractmethod
    def start_run(self, pipeline: str, state_id: str, tenant: str | None = None) -> StartedRun:
        """Enter a 'running' run (of ``tenant``'s pipeline, if any); its number is one more than the
        pipeline's last run's."""

    # what the dashboard shows besides the history row (runner/stores/dashboard.py)
    @abstractmethod
    def set_run_commands(self, run_id: int, commands: list[list[str]]) -> None:
        """The run's commands (argv lists, already redacted), when its connectors start."""

    @abstractmethod
    def record_run_end(self, run_id: int, streams: dict[str, tuple[int | None, int | None]],
                       log_tail: list[str]) -> None:
        """The run's (emitted, committed) counts per stream and its log's last lines (redacted)."""

    @abstractmethod
    def progress_writer(self) -> ProgressWriter | None:
        """A writer of live progress on a connection of its own, used from another thread; None: no progress."""

    @abstractmethod
    def finish_run(
        self, run_id: int, status: str, records_emitted: int | None, records_committed: int | None, error: str | None
    ) -> None: ...

    @abstractmethod
    def runs(self, pipeline: str | None = None, limit: int = 20, host: str | None = None) -> list[RunRecord]:
        """Most recent first; only those of ``pipeline`` and of ``host`` when given."""

    @abstractmethod
    def last_runs(self) -> list[RunRecord]:
        """The most recent finished run of every pipeline under each of its state ids (an environment's,
        ``--state-id``'s): what the metrics file reports, one series each (runner/metrics_file.py)."""

    def succeeded_since(self, pipeline: str, state_id: str, since: float) -> RunRecord | None:
        """The last run of ``pipeline`` under ``state_id`` when it succeeded and started at ``since``
        or later (store clock). The state id, not the name alone: a dev run of a pipeline is not its
        production run (environments and tenants share a store and a pipeline's name)."""
        last = [run for run in self.runs(pipeline, 1_000) if run.state_id == state_id][:1]
        return last[0] if last and last[0].status == "succeeded" and last[0].started_at >= since else None

    def ended_cleanly(self, pipeline: str, state_id: str) -> bool:
        """Whether the last recorded run of ``pipeline`` under ``state_id`` succeeded: every STATE its
        target committed was stored then, so the store holds the destination's committed state."""
        return False

    @abstractmethod
    def abandon_stale_runs(self, state_id: str) -> int:
        """Mark 'running' rows of a pipeline whose lock we now hold as 'abandoned'."""

    def clock(self) -> float:
        """Now, on the clock the run history is written with (the database server's for PostgreSQL)."""
        return time.time()

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SQLStore(DashboardSQL, StateStore):
    """The statements both SQL backends share, written once: each backend gives its ``_exec``,
    its parameter mark (``%s`` or ``?``) and the run columns as :class:`RunRecord` takes them."""

    _mark: str
    _run_columns: str

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """A cursor of ``sql`` run with ``params``; a database error raised as StoreError."""

    def _fenced(self, state_id: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """A write under ``state_id``'s lock: a backend whose locks can be lost while the process
        lives runs it only while the lock is still held (see runner/stores/postgres.py)."""
        return self._exec(sql, params)

    def clear_state(self, state_id: str) -> bool:
        sql = f"delete from sluice_state where state_id = {self._mark}"
        return bool(self._fenced(state_id, sql, (state_id,)).rowcount > 0)

    def generation(self, state_id: str) -> int:
        sql = f"select generation from sluice_generation where state_id = {self._mark}"
        row = self._exec(sql, (state_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def runs(self, pipeline: str | None = None, limit: int = 20, host: str | None = None) -> list[RunRecord]:
        filters = [(column, value) for column, value in (("pipeline", pipeline), ("host", host)) if value is not None]
        where = " and ".join(f"{column} = {self._mark}" for column, _ in filters)
        sql = (f"select {self._run_columns} from sluice_runs {'where ' + where + ' ' if where else ''}"
               f"order by id desc limit {self._mark}")
        return [RunRecord(*row) for row in self._exec(sql, (*(value for _, value in filters), limit)).fetchall()]

    def succeeded_since(self, pipeline: str, state_id: str, since: float) -> RunRecord | None:
        sql = (f"select {self._run_columns} from sluice_runs where pipeline = {self._mark} "
               f"and state_id = {self._mark} order by id desc limit 1")
        row = self._exec(sql, (pipeline, state_id)).fetchone()
        last = None if row is None else RunRecord(*row)
        return last if last is not None and last.status == "succeeded" and last.started_at >= since else None

    def ended_cleanly(self, pipeline: str, state_id: str) -> bool:
        sql = (f"select status from sluice_runs where pipeline = {self._mark} and state_id = {self._mark} "
               "order by id desc limit 1")
        row = self._exec(sql, (pipeline, state_id)).fetchone()
        return row is not None and row[0] == "succeeded"

    def last_runs(self) -> list[RunRecord]:
        cur = self._exec(
            f"select {self._run_columns} from sluice_runs where id in ("
            "select max(id) from sluice_runs where status != 'running' group by pipeline, state_id) "
            "order by pipeline, state_id"
        )
        return [RunRecord(*row) for row in cur.fetchall()]

"""The dashboard's read API over the project's state store (no third-party import).

Everything here comes from the store (runs, their per-stream counts, commands, log tails, live
progress, states, locks) and, from sluice.yml, only each pipeline's name, tenant, state id and
schedule: never a connector's config, so no secret of a config can reach a page. The commands
and log tails were redacted by the runner before they were stored (runner/run.py).

``before`` in :meth:`DashboardData.history` is a run's id (``RunRow.id``, the store's own):
the next page of a pipeline's history is ``history(name, before=rows[-1].id)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.stores import LockInfo, StateStore
from runner.stores.base import SQLStore
from runner.ui.cron import next_due

if TYPE_CHECKING:
    from runner.project import Pipeline, Project

__all__ = ["DashboardData", "PipelineRow", "RunDetail", "RunRow", "StateRow", "StreamCount", "StreamProgress",
           "open_dashboard_store"]

_MAX_RUN_ID = 2**63 - 1  # run ids are 64-bit integers in every store

MAX_HISTORY = 1000  # runs one history() call returns at most


@dataclass(frozen=True)
class StreamCount:
    stream: str
    emitted: int | None
    committed: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "emitted": self.emitted, "committed": self.committed}


@dataclass(frozen=True)
class RunRow:
    id: int  # the store's id of the run (unique in the store)
    number: int  # its number within its pipeline (1, 2, ...)
    pipeline: str
    tenant: str | None
    status: str  # running, succeeded, failed, interrupted, abandoned
    started_at: float
    ended_at: float | None
    duration: float | None
    records_emitted: int | None
    records_committed: int | None
    error: str | None
    host: str
    pid: int
    streams: list[StreamCount] = field(default_factory=list)
    state_id: str = ""  # the state id it ran under

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "pipeline": self.pipeline, "state_id": self.state_id,
                "tenant": self.tenant,
                "status": self.status, "started_at": self.started_at, "ended_at": self.ended_at,
                "duration": self.duration, "records_emitted": self.records_emitted,
                "records_committed": self.records_committed, "error": self.error, "host": self.host,
                "pid": self.pid, "streams": [s.to_dict() for s in self.streams]}


@dataclass(frozen=True)
class PipelineRow:
    pipeline: str
    tenant: str | None
    state_id: str
    schedule: str | None
    next_due: float | None  # epoch seconds, local cron time; None without a schedule
    last_run: RunRow | None  # the latest run, whatever its status (it may be running)
    running: LockInfo | None  # the lock held now: who runs it (host, pid, run)
    last_finished: RunRow | None = None  # the latest run that is not running (== last_run when that ended)
    template: str | None = None  # a tenant's pipeline: the for_each: pipeline it was stamped out of
    in_project: bool = True  # False: only its runs are left in the store (removed from sluice.yml)

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "tenant": self.tenant, "state_id": self.state_id,
                "schedule": self.schedule, "next_due": self.next_due,
                "last_run": self.last_run.to_dict() if self.last_run else None,
                "running": self.running.to_dict() if self.running else None,
                "last_finished": self.last_finished.to_dict() if self.last_finished else None,
                "template": self.template, "in_project": self.in_project}


@dataclass(frozen=True)
class RunDetail:
    run: RunRow
    streams: list[StreamCount]
    commands: list[list[str]]  # tap, mappers, target: argv lists, secrets redacted
    log_tail: list[str]  # the last lines of the run's log (both stderrs and the runner's lines), redacted

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run.to_dict(), "streams": [s.to_dict() for s in self.streams],
                "commands": self.commands, "log_tail": self.log_tail}


@dataclass(frozen=True)
class StreamProgress:
    stream: str
    records: int  # emitted by the tap so far (its METRIC record_count lines)
    rate: float | None  # records/s: over the last second or so while running, the run's average once ended
    updated_at: float
    committed: int | None = None  # committed by the target so far

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "records": self.records, "rate": self.rate, "updated_at": self.updated_at,
                "committed": self.committed}


@dataclass(frozen=True)
class StateRow:
    state_id: str
    value: dict[str, Any] | None
    generation: int
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"state_id": self.state_id, "value": self.value, "generation": self.generation,
                "updated_at": self.updated_at}


def _owner(pipe: Pipeline | None, prefix: str) -> Callable[[str], bool]:
    """Which state ids of the runs and locks of ``pipe``'s name are its own in the project's environment
    (state ids prefixed with ``prefix``, runner/environments.py): its state id, or one given with
    ``--state-id``; not another environment's (``<environment>:<its state id>``) nor the base project's (its
    state id unprefixed). Every state id is, for a pipeline no longer in the project."""
    if pipe is None:
        return lambda state_id: True
    own, base = pipe.state_id, pipe.state_id.removeprefix(prefix)
    return lambda state_id: state_id == own or (state_id != base and not state_id.endswith(f":{base}"))


def _pick(runs: dict[int, RunRow], row: dict[str, Any] | None) -> RunRow | None:
    return None if row is None else runs[int(row["id"])]


def _run_row(row: dict[str, Any], streams: list[tuple[str, int | None, int | None]]) -> RunRow:
    started, ended = float(row["started_at"]), None if row["ended_at"] is None else float(row["ended_at"])
    return RunRow(int(row["id"]), int(row["run_number"] or 0), row["pipeline"], row["tenant"], row["status"],
                  started, ended, None if ended is None else max(0.0, ended - started), row["records_emitted"],
                  row["records_committed"], row["error"], row["host"], int(row["pid"]),
                  [StreamCount(*s) for s in streams], row["state_id"])


class DashboardData:
    """What the pages show, read from ``store`` (a SQL store) for ``project``'s pipelines."""

    def __init__(self, project: Project | None, store: StateStore) -> None:
        if not isinstance(store, SQLStore):
            from protocol import ConfigError

            raise ConfigError(f"the dashboard reads SQLite and PostgreSQL stores, not {store.description}")
        self.project = project
        self.store: SQLStore = store

    def _rows(self, rows: list[dict[str, Any]]) -> list[RunRow]:
        streams = self.store.dash_streams([int(r["id"]) for r in rows])
        return [_run_row(r, streams[int(r["id"])]) for r in rows]

    def pipelines(self) -> list[PipelineRow]:
        """Every pipeline of the project and every pipeline with runs in the store, by name. A pipeline of
        the project shows only its own runs and lock (:func:`_owner`): never another environment's."""
        configured = self.project.pipelines if self.project is not None else {}
        env = self.project.environment if self.project is not None else None
        newest = {r["pipeline"]: r for r in self.store.dash_last_runs()}
        names = sorted({*configured, *newest})
        owns = {name: _owner(configured.get(name), env.state_prefix if env else "") for name in names}
        last = {name: self._newest(name, owns[name], row) for name, row in newest.items()}
        still = [name for name, row in last.items() if row is not None and row["status"] == "running"]
        ended = {r["pipeline"]: r for r in self.store.dash_last_runs(still, finished=True)} if still else {}
        finished = {name: self._newest(name, owns[name], ended.get(name), finished=True) for name in still}
        runs = {r.id: r for r in self._rows([r for r in (*last.values(), *finished.values()) if r is not None])}
        locks = self.store.locks()
        held = {lock.state_id: lock for lock in locks}
        now = time.time()
        out = []
        for name in names:
            pipe, run = configured.get(name), _pick(runs, last.get(name))
            if pipe is not None:
                state_id, tenant, schedule, template = pipe.state_id, pipe.tenant, pipe.schedule, pipe.template
            else:
                assert run is not None
                state_id, tenant, schedule, template = run.state_id, run.tenant, None, None
            done = run if run is not None and run.status != "running" else _pick(runs, finished.get(name))
            running = held.get(state_id) or next(  # or a run under another state id (--state-id)
                (lock for lock in locks if lock.pipeline == name and owns[name](lock.state_id)), None)
            out.append(PipelineRow(name, tenant, state_id, schedule, next_due(schedule, now), run, running, done,
                                   template, pipe is not None))
        return out

    def _newest(self, name: str, owns: Callable[[str], bool], newest: dict[str, Any] | None,
                finished: bool = False) -> dict[str, Any] | None:
        """The newest run of pipeline ``name`` under a state id that ``owns`` accepts (``finished``: that is
        not running): ``newest`` (its newest run of all, None: it has none) when it is one, else the first
        found back through its history from there, a page at a time."""
        def fits(row: dict[str, Any]) -> bool:
            return owns(row["state_id"]) and not (finished and row["status"] == "running")

        row = newest
        while row is not None and not fits(row):
            page = self.store.dash_history(name, MAX_HISTORY, int(row["id"]))
            row = next(filter(fits, page), None if len(page) < MAX_HISTORY else page[-1])
        return row

    def history(self, pipeline: str, limit: int = 200, before: int | None = None) -> list[RunRow]:
        """The pipeline's runs, newest first (for its chart and table); below run id ``before`` when given."""
        limit = max(1, min(int(limit), MAX_HISTORY))
        return self._rows(self.store.dash_history(pipeline, limit, before))

    def run(self, run_id: int) -> RunDetail | None:
        """One run: its per-stream counts, error, commands (redacted) and log tail (redacted)."""
        if not 0 < run_id <= _MAX_RUN_ID:  # no store holds it (SQLite cannot even be asked)
            return None
        found = self.store.dash_run(run_id)
        if found is None:
            return None
        row, commands, tail = found
        [run] = self._rows([row])
        return RunDetail(run, run.streams, commands, tail)

    def progress(self, run_id: int) -> list[StreamProgress]:
        """A running run's records per stream and rate, as its runner last wrote them (about every
        second); once it ended, its final counts with the run's average rate."""
        if not 0 < run_id <= _MAX_RUN_ID:
            return []
        row = self.store.dash_run_row(run_id)
        if row is None:
            return []
        if row["status"] == "running":
            return [StreamProgress(stream, records, rate, at, committed)
                    for stream, records, committed, rate, at in self.store.dash_progress(run_id)]
        run = _run_row(row, self.store.dash_streams([run_id])[run_id])
        seconds = run.duration or 0.0
        return [StreamProgress(s.stream, s.emitted or 0, (s.emitted or 0) / seconds if seconds > 0 else None,
                               run.ended_at or run.started_at, s.committed) for s in run.streams]

    def states(self) -> list[StateRow]:
        """Every stored state: its JSON value, generation and when it was written."""
        return [StateRow(*row) for row in self.store.dash_states()]

    def locks(self) -> list[LockInfo]:
        """Every pipeline lock held now, by any runner on any host."""
        return self.store.locks()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> DashboardData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_dashboard_store(project: Project) -> DashboardData:
    """The dashboard over the project's configured state store (``state_store:``, ``SLUICE_STATE_URL``)."""
    from runner.stores import lock_timeout, open_store

    url, _secrets = project.state_store_url()
    return DashboardData(project, open_store(url, project.dir, lock_timeout(project.lock_timeout)))

"""INTERIM (ui-web): the DashboardData read API over today's store, replaced by ui-data's module at merge.

Only what the store holds today: no per-stream counts, commands, log tail or live progress.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from runner.project import Project
from runner.stores import LockInfo, RunRecord, StateStore

__all__ = ["DashboardData", "PipelineRow", "RunDetail", "RunRow", "StateRow", "StreamCount", "StreamProgress",
           "open_dashboard_store"]


@dataclass(frozen=True)
class StreamCount:
    stream: str
    emitted: int | None
    committed: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunRow:
    id: int
    number: int
    pipeline: str
    tenant: str | None
    status: str
    started_at: float
    ended_at: float | None
    duration: float | None
    records_emitted: int | None
    records_committed: int | None
    error: str | None
    host: str
    pid: int
    streams: list[StreamCount] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PipelineRow:
    pipeline: str
    tenant: str | None
    state_id: str
    schedule: str | None
    next_due: float | None
    last_run: RunRow | None
    running: LockInfo | None

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "tenant": self.tenant, "state_id": self.state_id,
                "schedule": self.schedule, "next_due": self.next_due,
                "last_run": self.last_run.to_dict() if self.last_run else None,
                "running": self.running.to_dict() if self.running else None}


@dataclass(frozen=True)
class RunDetail:
    run: RunRow
    streams: list[StreamCount]
    commands: list[list[str]]
    log_tail: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamProgress:
    stream: str
    records: int
    rate: float | None
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StateRow:
    state_id: str
    value: dict[str, Any] | None
    generation: int
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(r: RunRecord, tenant: str | None = None) -> RunRow:
    return RunRow(r.id, r.number, r.pipeline, tenant, r.status, r.started_at, r.ended_at, r.duration,
                  r.records_emitted, r.records_committed, r.error, r.host, r.pid)


class DashboardData:
    def __init__(self, project: Project, store: StateStore) -> None:
        self.project = project
        self.store = store

    def pipelines(self) -> list[PipelineRow]:
        last = {r.pipeline: r for r in self.store.runs(None, 100_000)[::-1]}
        held = {lock.state_id: lock for lock in self.store.locks()}
        names = sorted({*self.project.pipelines, *last})
        out = []
        for name in names:
            pipe = self.project.pipelines.get(name)
            state_id = pipe.state_id if pipe else (last[name].state_id if name in last else name)
            tenant = pipe.tenant if pipe else None
            out.append(PipelineRow(name, tenant, state_id, pipe.schedule if pipe else None, None,
                                   _row(last[name], tenant) if name in last else None, held.get(state_id)))
        return out

    def history(self, pipeline: str, limit: int = 200, before: int | None = None) -> list[RunRow]:
        rows = [r for r in self.store.runs(pipeline, 100_000) if before is None or r.id < before]
        return [_row(r) for r in rows[:limit]]

    def run(self, run_id: int) -> RunDetail | None:
        for r in self.store.runs(None, 100_000):
            if r.id == run_id:
                return RunDetail(_row(r), [], [], [])
        return None

    def progress(self, run_id: int) -> list[StreamProgress]:
        return []

    def states(self) -> list[StateRow]:
        return [StateRow(sid, self.store.get_state(sid), self.store.generation(sid), at)
                for sid, at in self.store.list_states()]

    def locks(self) -> list[LockInfo]:
        return self.store.locks()

    def close(self) -> None:
        self.store.close()


def open_dashboard_store(project: Project) -> DashboardData:
    from runner.stores import lock_timeout, open_store

    url, _ = project.state_store_url()
    return DashboardData(project, open_store(url, project.dir, lock_timeout(project.lock_timeout)))

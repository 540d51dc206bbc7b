"""What a run leaves for the dashboard (``sluice ui``), and the queries that read it back.

Besides its history row, a run records (both SQL stores, the same statements):

- its commands (argv lists, redacted as the run's log is) when the connectors start;
- live progress while it runs: per stream, the records the tap emitted and the target committed
  and the current rate, upserted by a background timer at most once a second
  (runner/live_progress.py) on a connection of its own, and removed when the run ends;
- at its end: the emitted and committed counts per stream, and the tail of its log (redacted):
  at most ``LOG_TAIL_LINES`` lines of ``MAX_LOG_LINE`` characters, kept for the newest
  ``LOG_TAILS_KEPT`` runs of each pipeline (the run that falls out of that window loses its tail
  when a run ends; the whole log stays in .sluice/logs/ on the host that ran it).

Commands and log tails live in ``sluice_run_details``, apart from the run rows, so the rows the
history pages read stay small.

The reads are the dashboard's (runner/ui/data.py): they answer in index lookups whatever the
length of the history, so a page stays fast with 100,000 runs in the store.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from protocol import dumps, loads

__all__ = ["DASH_RUN_COLUMNS", "DashboardSQL", "ProgressRow", "progress_upsert"]

#: a progress row: stream, records emitted, records committed, records/s now
ProgressRow = tuple[str, int, int, float]

#: the columns of a run as the dashboard reads it (time columns through ``_epoch``)
DASH_RUN_COLUMNS = ("id", "run_number", "pipeline", "state_id", "tenant", "status", "started_at", "ended_at",
                    "records_emitted", "records_committed", "error", "host", "pid")
_TIMES = {"started_at", "ended_at"}
LOG_TAIL_LINES = 200
MAX_LOG_LINE = 1000  # characters kept of one line of the tail
LOG_TAILS_KEPT = 100  # runs of a pipeline whose log tail is kept: the newest


class DashboardSQL:
    """Mixed into :class:`runner.stores.base.SQLStore`: the dashboard's writes and reads."""

    _mark: str

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...

    def _epoch(self, column: str) -> str:
        """``column`` (a time) as seconds since the epoch."""
        return column

    # -- writes -------------------------------------------------------------------------
    def set_run_commands(self, run_id: int, commands: Sequence[Sequence[str]]) -> None:
        m = self._mark
        self._exec(f"insert into sluice_run_details (run_id, commands) values ({m}, {m}) "
                   "on conflict (run_id) do update set commands = excluded.commands",
                   (run_id, dumps([list(argv) for argv in commands]).decode()))

    def record_run_end(self, run_id: int, streams: dict[str, tuple[int | None, int | None]],
                       log_tail: Sequence[str]) -> None:
        """The run's counts per stream and the tail of its log; its live progress removed."""
        m = self._mark
        for stream, (emitted, committed) in sorted(streams.items()):
            self._exec("insert into sluice_run_streams (run_id, stream, emitted, committed) "
                       f"values ({m}, {m}, {m}, {m}) on conflict (run_id, stream) do update set "
                       "emitted = excluded.emitted, committed = excluded.committed",
                       (run_id, stream, emitted, committed))
        tail = "\n".join(line[:MAX_LOG_LINE] for line in list(log_tail)[-LOG_TAIL_LINES:])
        self._exec(f"insert into sluice_run_details (run_id, log_tail) values ({m}, {m}) "
                   "on conflict (run_id) do update set log_tail = excluded.log_tail", (run_id, tail))
        self._exec(f"delete from sluice_run_progress where run_id = {m}", (run_id,))
        # the run that just fell out of the pipeline's window of kept tails
        self._exec(f"update sluice_run_details set log_tail = null where run_id = (select id from sluice_runs "
                   f"where pipeline = (select pipeline from sluice_runs where id = {m}) "
                   f"order by id desc limit 1 offset {LOG_TAILS_KEPT})", (run_id,))

    def clear_ended_progress(self) -> None:
        """The progress rows left by runs that ended without clearing them (their runner died):
        a look at each (few) progress row's run."""
        self._exec("delete from sluice_run_progress where run_id in (select p.run_id from sluice_run_progress p "
                   "join sluice_runs r on r.id = p.run_id where r.status != 'running')")

    # -- reads --------------------------------------------------------------------------
    def _run_select(self) -> str:
        return ", ".join(self._epoch(f"r.{c}") if c in _TIMES else f"r.{c}" for c in DASH_RUN_COLUMNS)

    def _run_dicts(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [dict(zip(DASH_RUN_COLUMNS, row, strict=True)) for row in self._exec(sql, params).fetchall()]

    def dash_last_runs(self, names: Sequence[str] | None = None, finished: bool = False) -> list[dict[str, Any]]:
        """The last run of every pipeline (of ``names`` when given; ``finished``: the last not running).
        Every pipeline: a skip scan of the (pipeline, id) index, one lookup per pipeline, one query."""
        m = self._mark
        done = " and status != 'running'" if finished else ""
        if names is None:
            rows = self._exec(
                "with recursive p(pipeline) as (select min(pipeline) from sluice_runs union all "
                "select (select min(pipeline) from sluice_runs where pipeline > p.pipeline) from p "
                "where p.pipeline is not null) "
                f"select (select id from sluice_runs r where r.pipeline = p.pipeline{done} order by id desc limit 1) "
                "from p where p.pipeline is not null").fetchall()
        else:
            rows = [row for name in names for row in self._exec(
                f"select id from sluice_runs where pipeline = {m}{done} order by id desc limit 1", (name,)).fetchall()]
        return self._runs_by_id([row[0] for row in rows if row[0] is not None])

    def _runs_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        marks = ", ".join(self._mark for _ in ids)
        return self._run_dicts(f"select {self._run_select()} from sluice_runs r where id in ({marks}) "
                               "order by id desc", tuple(ids))

    def dash_history(self, pipeline: str, limit: int, before: int | None) -> list[dict[str, Any]]:
        """The runs of ``pipeline``, newest first; only those with an id below ``before`` when given."""
        m = self._mark
        below = f" and id < {m}" if before is not None else ""
        params: tuple[Any, ...] = (pipeline, before, limit) if before is not None else (pipeline, limit)
        return self._run_dicts(f"select {self._run_select()} from sluice_runs r where pipeline = {m}{below} "
                               f"order by id desc limit {m}", params)

    def dash_run_row(self, run_id: int) -> dict[str, Any] | None:
        """One run, without its commands and log tail."""
        rows = self._run_dicts(f"select {self._run_select()} from sluice_runs r where r.id = {self._mark}", (run_id,))
        return rows[0] if rows else None

    def dash_run(self, run_id: int) -> tuple[dict[str, Any], list[list[str]], list[str]] | None:
        """One run, its commands and its log tail."""
        m = self._mark
        row = self._exec(f"select {self._run_select()}, d.commands, d.log_tail from sluice_runs r "
                         f"left join sluice_run_details d on d.run_id = r.id where r.id = {m}", (run_id,)).fetchone()
        if row is None:
            return None
        n = len(DASH_RUN_COLUMNS)
        run = dict(zip(DASH_RUN_COLUMNS, row[:n], strict=True))
        commands, tail = row[n], row[n + 1]
        return run, (loads(commands) if commands else []), (tail.split("\n") if tail else [])

    def dash_streams(self, run_ids: Sequence[int]) -> dict[int, list[tuple[str, int | None, int | None]]]:
        """Per run: (stream, emitted, committed), in stream order."""
        found: dict[int, list[tuple[str, int | None, int | None]]] = {int(i): [] for i in run_ids}
        if not run_ids:
            return found
        marks = ", ".join(self._mark for _ in run_ids)
        rows = self._exec("select run_id, stream, emitted, committed from sluice_run_streams "
                          f"where run_id in ({marks}) order by run_id, stream", tuple(run_ids)).fetchall()
        for run_id, stream, emitted, committed in rows:
            found[int(run_id)].append((stream, emitted, committed))
        return found

    def dash_progress(self, run_id: int) -> list[tuple[str, int, int | None, float | None, float]]:
        """A running run's live progress: (stream, records, committed, rate, updated_at)."""
        rows = self._exec(f"select stream, records, committed, rate, {self._epoch('updated_at')} "
                          f"from sluice_run_progress where run_id = {self._mark} order by stream", (run_id,)).fetchall()
        return [(r[0], int(r[1]), r[2], r[3], float(r[4])) for r in rows]

    def dash_states(self) -> list[tuple[str, Any, int, float]]:
        """Every stored state: (state id, value, generation, updated at), in state id order."""
        value, at = self._state_text("s.value"), self._epoch("s.updated_at")
        rows = self._exec(
            f"select s.state_id, {value}, coalesce(g.generation, 0), {at} from sluice_state s "
            "left join sluice_generation g on g.state_id = s.state_id order by s.state_id").fetchall()
        return [(r[0], loads(r[1]), int(r[2]), float(r[3])) for r in rows]

    def _state_text(self, column: str) -> str:
        return column


def progress_upsert(mark: str, now: str) -> str:
    """The statement a progress writer runs per stream: run id, stream, records, committed, rate (and now)."""
    return ("insert into sluice_run_progress (run_id, stream, records, committed, rate, updated_at) "
            f"values ({mark}, {mark}, {mark}, {mark}, {mark}, {now}) on conflict (run_id, stream) do update set "
            "records = excluded.records, committed = excluded.committed, rate = excluded.rate, "
            "updated_at = excluded.updated_at")

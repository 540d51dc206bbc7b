"""One run of one pipeline: lock, state in, supervised pair, state out, history, summary."""

from __future__ import annotations

import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from protocol.errors import ConfigError
from protocol.wording import plural
from runner.connectors import ConnectorError, about, coerce_config, connector_secrets
from runner.counts import keyless_shortfalls, nothing_moved, stream_keys
from runner.isolation import Redactor, RunDir, child_env, make_preexec
from runner.output import RunOutput
from runner.project import Connector, Project, ResolvedConnector
from runner.reconcile import ControlPipe, ReconcileError, choose_state, read_committed, supports_exactly_once
from runner.stores import StateStore, StoreError, open_store
from runner.supervise import Outcome, SideSpec, supervise
from runner.tap_catalog import write_effective_catalog

__all__ = ["STOP_EXIT_CODES", "RunOptions", "RunPlan", "plan_adhoc", "plan_pipeline", "run_pipeline"]

SLUICE_DIR = ".sluice"
#: the exit code of a run the runner stopped: the shell's for a death by that signal, GNU timeout's for --timeout
STOP_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "timeout": 124}
_STOPPED_BY = {"SIGINT": "interrupted by SIGINT (Ctrl-C)", "SIGTERM": "interrupted by SIGTERM"}


@dataclass
class RunOptions:
    full_refresh: bool = False
    state_id: str | None = None
    timeout: float | None = None
    dry_run: bool = False
    metrics_file: Path | None = None
    grace: float = 10.0
    verbose: bool = False


@dataclass
class RunPlan:
    pipeline: str
    state_id: str
    tap: Connector
    target: Connector
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def plan_pipeline(project: Project, name: str, options: RunOptions) -> RunPlan:
    pipe = project.pipeline(name)
    return RunPlan(
        pipeline=pipe.name,
        state_id=options.state_id or pipe.state_id,
        tap=project.connector(pipe.tap),
        target=project.connector(pipe.target),
        timeout=options.timeout if options.timeout is not None else pipe.timeout,
    )


def plan_adhoc(project: Project, tap: str, target: str, options: RunOptions) -> RunPlan:
    tap_conn, target_conn = project.connector(tap), project.connector(target)
    name = f"{tap_conn.name}-to-{target_conn.name}"
    return RunPlan(name, options.state_id or name, tap_conn, target_conn, options.timeout)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]


class _Commands:
    """The argv of both sides, with their config (and state) files in a private run directory."""

    def __init__(self, tap: ResolvedConnector, target: ResolvedConnector, state: dict[str, Any] | None,
                 run_dir: RunDir | None) -> None:
        def config_path(conn: ResolvedConnector, role: str) -> str:
            name = f"{role}-{_safe(conn.name)}.config.json"
            if run_dir is None:
                return f"<run dir>/{name}"
            return str(run_dir.write_private(name, orjson.dumps(conn.config)))

        self.tap = [*tap.argv, "--config", config_path(tap, "tap")]
        if tap.catalog is not None:
            self.tap += ["--catalog", str(tap.catalog)]
        if state:
            path = "<run dir>/state.json" if run_dir is None else str(
                run_dir.write_private("state.json", orjson.dumps(state)))
            self.tap += ["--state", path]
        self.target = [*target.argv, "--config", config_path(target, "target")]


def _print_dry_run(plan: RunPlan, tap: ResolvedConnector, target: ResolvedConnector, state: dict[str, Any] | None,
                   out: IO[str]) -> None:
    cmds = _Commands(tap, target, state, None)
    out.write(f"pipeline: {plan.pipeline} (state id {plan.state_id})\n")
    out.write(f"tap:    {shlex.join(cmds.tap)}\n")
    if plan.tap.metadata:
        base = "the catalog file" if tap.catalog else "its --discover output"
        out.write(f"        --catalog <run dir>/catalog.json: {base} with the metadata: of sluice.yml laid over it\n")
    out.write(f"        env: {' '.join(sorted(child_env(tap.env)))}\n")
    out.write(f"target: {shlex.join(cmds.target)}\n")
    out.write(f"        env: {' '.join(sorted(child_env(target.env)))}\n")
    out.write(f"pipe:   {Path(cmds.tap[0]).name} | {Path(cmds.target[0]).name}; STATE from the target is stored\n")
    out.write(f"dir:    {tap.cwd} (both run here: relative paths in their config resolve from it)\n")


def run_pipeline(project: Project, plan: RunPlan, options: RunOptions, *,
                 terminal: IO[str] | None = None, out: IO[str] | None = None) -> int:
    """Run one pipeline to the end; return the exit code (0 ok, 1 failed). Raises PipelineLocked."""
    terminal = terminal or sys.stderr
    out = out or sys.stdout
    tap = project.resolve(plan.tap, check_catalog=True)
    target = project.resolve(plan.target)
    url, url_secrets = project.state_store_url()
    store = open_store(url, project.dir)
    try:
        if options.dry_run:
            state = None if options.full_refresh else store.get_state(plan.state_id)
            _print_dry_run(plan, tap, target, state, out)
            return 0
        lock = store.lock(plan.state_id)
        try:
            return _locked_run(project, plan, options, store, lock.alive, tap, target, url_secrets, terminal)
        finally:
            lock.release()
    finally:
        store.close()


def _locked_run(project: Project, plan: RunPlan, options: RunOptions, store: StateStore, lock_alive: Any,
                tap: ResolvedConnector, target: ResolvedConnector, url_secrets: set[str], terminal: IO[str]) -> int:
    base = project.dir / SLUICE_DIR
    store.abandon_stale_runs(plan.state_id)
    started = store.start_run(plan.pipeline, plan.state_id)
    run_id = started.id
    state = None if options.full_refresh else store.get_state(plan.state_id)
    generation = store.bump_generation(plan.state_id) if options.full_refresh else store.generation(plan.state_id)
    redactor = Redactor(url_secrets)
    exactly_once = False
    try:
        for conn in (tap, target):
            info = about(conn, base / "cache")
            redactor.add(connector_secrets(conn, info))
            conn.config = coerce_config(conn.config, info)
            exactly_once = conn is target and supports_exactly_once(info)
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted", None, None, "interrupted before the connectors started")
        raise
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log_path = base / "logs" / _safe(plan.pipeline) / f"{stamp}-run{started.number}.log"
    output = RunOutput(log_path, redactor, terminal, verbose=options.verbose)
    saved = 0

    def on_state(value: dict[str, Any]) -> None:
        nonlocal saved
        store.set_state(plan.state_id, value)
        saved += 1

    outcome: Outcome | None = None
    error: str | None = None
    keyed = stream_keys(tap.catalog)
    control: ControlPipe | None = None
    try:
        with RunDir(base / "tmp") as run_dir:
            if plan.tap.metadata:  # sluice.yml metadata: over the catalog file or a fresh discovery
                write_effective_catalog(tap, plan.tap.metadata, run_dir, redactor, output.runner_line)
                keyed = stream_keys(tap.catalog)
            if exactly_once:
                state = _reconcile(plan, target, run_dir, store, state, generation, output, redactor)
                control = ControlPipe(plan.state_id, generation)
            cmds = _Commands(tap, target, state, run_dir)
            how = "full refresh" if options.full_refresh else ("resuming from the stored state" if state
                                                                 else "no stored state")
            output.runner_line(f"run {started.number} of pipeline '{plan.pipeline}': {tap.name} | {target.name} "
                               f"({how})")
            output.runner_line(f"tap: {shlex.join(cmds.tap)}", terminal=False)
            output.runner_line(f"delivery: exactly-once (the target commits state id '{plan.state_id}', generation "
                               f"{generation}, with its rows)" if exactly_once else
                               "delivery: at-least-once (the target does not list sluice-exactly-once)",
                               terminal=False)
            output.runner_line(f"target: {shlex.join(cmds.target)}", terminal=False)
            output.runner_line(f"working directory of both: {tap.cwd}", terminal=False)
            outcome = supervise(
                # connectors run in the project directory: relative paths in their config resolve from it
                SideSpec("tap", tap.name, cmds.tap, child_env(tap.env), make_preexec(tap.limits), str(tap.cwd)),
                SideSpec("target", target.name, cmds.target,
                         {**child_env(target.env), **(control.env if control else {})},
                         make_preexec(target.limits), str(target.cwd),
                         pass_fds=(control.read_fd,) if control else ()),
                output, on_state, timeout=plan.timeout, grace=options.grace, lock_alive=lock_alive,
                on_tap_exit=control.tap_exited if control else None,
                on_stop=control.stopping if control else None,
            )
    except StoreError as exc:
        error = redactor(f"runner: state store failed during the run: {exc}")
        raise
    except (ReconcileError, ConfigError, ConnectorError) as exc:
        error = redactor(f"runner: {exc}")
        raise
    except KeyboardInterrupt:  # a signal before supervise() took over signal handling
        error = "runner: interrupted before the connectors started"
        raise
    finally:
        if outcome is not None:
            _fail_on_lost_records(outcome, keyed)
        if control is not None:
            control.close()
        status = outcome.status if outcome is not None else ("interrupted" if error and "interrupted" in error
                                                             else "failed")
        if outcome is not None and not outcome.ok:
            error = redactor(f"{_side_name(outcome, tap, target)} failed: {outcome.reason}")
        emitted = outcome.tap.stats.total if outcome and outcome.tap.stats.reported else None
        committed = outcome.target.stats.total if outcome and outcome.target.stats.reported else None
        if outcome is not None and outcome.ok and nothing_moved(outcome.tap.stats, outcome.target.stats):
            committed = 0
        try:
            store.finish_run(run_id, status, emitted, committed, error)
        except StoreError as exc:
            output.runner_line(f"cannot record the run in the history: {exc}")
        if outcome is not None:
            _summary(output, plan, outcome, saved, state is not None, keyed)
        output.runner_line(f"log: {log_path}", terminal=outcome is not None and not outcome.ok)
        output.close()
    if options.metrics_file is not None:
        from runner.metrics_file import write_metrics_file

        write_metrics_file(options.metrics_file, store.last_runs())
    assert outcome is not None
    if outcome.ok:
        terminal.write(f"sluice: pipeline '{plan.pipeline}' succeeded in {outcome.elapsed:.2f} s\n")
        return 0
    if outcome.stopped_by is not None:
        terminal.write(_stopped_line(plan, outcome, saved, state is not None) + "\n")
        terminal.flush()
        return STOP_EXIT_CODES[outcome.stopped_by]
    terminal.write(f"sluice: pipeline '{plan.pipeline}' {outcome.status}: {error}\n")
    terminal.flush()
    return 1


def _stopped_line(plan: RunPlan, outcome: Outcome, saved: int, had_state: bool) -> str:
    """The last line of a run the runner stopped: by whom, and what is kept. Never the data's fault."""
    cause = outcome.stopped_by or ""
    how = _STOPPED_BY.get(cause) or f"timed out after {plan.timeout:g} s (--timeout)"
    if saved:
        kept = (f"the data is committed up to the last STATE the target sent ({saved} stored this run); "
                f"the next run resumes from there")
    else:
        kept = "the target sent no STATE, so no new state was stored; the next run starts from " + (
            "the stored state again" if had_state else "the beginning again")
    return f"sluice: run of pipeline '{plan.pipeline}' {how}; {kept}"


def _reconcile(plan: RunPlan, target: ResolvedConnector, run_dir: RunDir, store: StateStore,
               state: dict[str, Any] | None, generation: int, output: RunOutput,
               redactor: Redactor) -> dict[str, Any] | None:
    """Exactly-once: start from the destination's committed state when it is the newer truth."""
    config = str(run_dir.write_private("committed-state.config.json", orjson.dumps(target.config)))
    committed = read_committed(target.argv, config, plan.state_id, child_env(target.env), target.name,
                               str(target.cwd))
    chosen, changed = choose_state(state, generation, committed)
    if changed and chosen is not None:
        store.set_state(plan.state_id, chosen)
        output.runner_line(redactor(f"target '{target.name}' committed a newer state than the store held "
                                    f"(an interrupted run); resuming from it"))
    return chosen


def _side_name(outcome: Outcome, tap: ResolvedConnector, target: ResolvedConnector) -> str:
    if outcome.failed_side == "tap":
        return f"tap '{tap.name}'"
    if outcome.failed_side == "target":
        return f"target '{target.name}'"
    return "runner"


def _fail_on_lost_records(outcome: Outcome, keyed: dict[str, bool]) -> None:
    """A run that committed fewer records of a keyless stream than the tap emitted failed."""
    lost = keyless_shortfalls(outcome.tap.stats, outcome.target.stats, keyed)
    if lost and outcome.ok:
        outcome.status, outcome.failed_side = "failed", "target"
        outcome.reason = "; ".join(shortfall.describe() for shortfall in lost)


def _summary(output: RunOutput, plan: RunPlan, outcome: Outcome, saved: int, had_state: bool,
             keyed: dict[str, bool]) -> None:
    emitted, committed = outcome.tap.stats, outcome.target.stats
    streams = sorted(set(emitted.counts) | set(committed.counts))
    width = max([len("stream"), *(len(s) for s in streams)])
    lines = [f"summary: {outcome.status} in {outcome.elapsed:.2f} s"]
    if outcome.ok and nothing_moved(emitted, committed):
        lines.append("  0 records: nothing new since the last run" if had_state else
                     "  0 records: the tap emitted none")
    elif not streams:
        lines.append("  no record counts reported (no METRIC record_count lines from either side)")
    else:
        lines.append(f"  {'stream':<{width}}  {'tap emitted':>12}  {'target committed':>16}")
        both = emitted.reported and committed.reported
        for stream in streams:
            e = emitted.counts.get(stream, 0) if emitted.reported else None
            c = committed.counts.get(stream, 0) if committed.reported else None
            flag = ""
            if both and e != c:
                assert e is not None and c is not None
                flag = f"  <- MISMATCH: {c - e:,} more committed than emitted"
                if e > c:
                    flag = _shortfall_flag(e - c, keyed.get(stream))
            lines.append(f"  {stream:<{width}}  {_n(e):>12}  {_n(c):>16}{flag}")
        for side, stats in (("tap", emitted), ("target", committed)):
            if not stats.reported:
                lines.append(f"  note: the {side} reported no record counts (no METRIC record_count lines)")
    if saved:
        lines.append(f"  state: {plural(saved, 'STATE value')} stored under '{plan.state_id}'")
    else:
        kept = "the stored bookmarks are unchanged" if had_state else "nothing stored"
        lines.append(f"  state: the target sent no STATE; {kept}")
    for line in lines:
        output.runner_line(line)


def _shortfall_flag(gap: int, has_keys: bool | None) -> str:
    if has_keys is False:
        return f"  <- MISMATCH: {gap:,} not committed (no key properties)"
    why = "keys unknown: not in the catalog" if has_keys is None else "has key properties: may be merged duplicates"
    return f"  <- MISMATCH: {gap:,} not committed ({why})"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"

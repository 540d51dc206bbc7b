"""One run of one pipeline: lock, state in, supervised pair, state out, history, summary."""

from __future__ import annotations

import functools
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from protocol import ConfigError, ExitCode, dumps
from runner.connectors import ConnectorError, about, coerce_config, connector_secrets
from runner.counts import nothing_moved, stream_keys
from runner.interpolation import all_resolved
from runner.isolation import Redactor, RunDir, child_env, credential_users, make_preexec
from runner.live_progress import ProgressTimer
from runner.map_steps import resolve_step
from runner.outcome import Outcome, RunStatus
from runner.output import RunOutput
from runner.pipeline_roles import refuse_wrong_roles
from runner.project import Connector, MapStep, Project, ResolvedConnector
from runner.reconcile import ControlPipe, ReconcileError, choose_state, read_committed, supports_exactly_once
from runner.run_checks import fail_on_lost_records, fail_on_unstored_state
from runner.run_details import record_commands, record_end
from runner.run_summary import stopped_line, summary, summary_record, write_summary_json
from runner.run_telemetry import NoTelemetry, start_telemetry
from runner.stores import LockLost, StateStore, StoreError, lock_timeout, open_store, ran_since
from runner.supervise import SideSpec, supervise
from runner.tap_catalog import write_effective_catalog
from runner.tenant_env import foreign_variables
from runner.tenants import Tenant

if TYPE_CHECKING:
    from runner.telemetry import Telemetry

__all__ = ["RunOptions", "RunPlan", "plan_adhoc", "plan_pipeline", "run_pipeline"]

SLUICE_DIR = ".sluice"


@dataclass
class RunOptions:
    full_refresh: bool = False
    state_id: str | None = None
    timeout: float | None = None
    dry_run: bool = False
    metrics_file: Path | None = None
    grace: float = 10.0
    verbose: bool = False
    summary_json: Path | None = None  # --summary-json: the run's outcome as JSON, for orchestrators
    done_since: float | None = None  # skip (exit 3) if a run that began then or later succeeded: --all's batch


@dataclass
class RunPlan:
    pipeline: str
    state_id: str
    tap: Connector
    target: Connector
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    maps: list[MapStep] = field(default_factory=list)  # tap | maps[0] | ... | target
    tenant: Tenant | None = None  # a tenant's pipeline (for_each:): fills ${tenant.x}, private run directory


def plan_pipeline(project: Project, name: str, options: RunOptions) -> RunPlan:
    pipe = project.pipeline(name)
    return RunPlan(
        pipeline=pipe.name,
        state_id=options.state_id or pipe.state_id,
        tap=project.connector_for(pipe, pipe.tap),
        target=project.connector_for(pipe, pipe.target),
        timeout=options.timeout if options.timeout is not None else pipe.timeout,
        maps=list(pipe.maps),
        tenant=pipe.tenant_record,
    )


def plan_adhoc(project: Project, tap: str, target: str, options: RunOptions, maps: tuple[str, ...] = ()) -> RunPlan:
    """``sluice run TAP TARGET [--map MAPPER ...]``: connectors of sluice.yml or programs on PATH."""
    tap_conn, target_conn = project.connector(tap), project.connector(target)
    for name in maps:
        project.connector(name)  # a connector of sluice.yml or a program on PATH, or a ConfigError now
    steps = [MapStep(name, None, "--map") for name in maps]
    name = f"{tap_conn.name}-to-{target_conn.name}"
    return RunPlan(name, options.state_id or name, tap_conn, target_conn, options.timeout, maps=steps)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", name)[:170]


def _tmp_root(base: Path, plan: RunPlan) -> Path:
    """Where a run's private directory goes: a tenant's runs in their own 0700 directory."""
    if plan.tenant is None:
        return base / "tmp"
    root = base / "tmp" / f"tenant-{plan.tenant.id}"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


class _Commands:
    """The argv of both sides, with their config (and state) files in a private run directory."""

    def __init__(self, tap: ResolvedConnector, target: ResolvedConnector, state: dict[str, Any] | None,
                 run_dir: RunDir | None, mappers: list[ResolvedConnector]) -> None:
        def config_path(conn: ResolvedConnector, role: str) -> str:
            name = f"{role}-{_safe(conn.name)}.config.json"
            if run_dir is None:
                return f"<run dir>/{name}"
            return str(run_dir.write_private(name, dumps(conn.config)))

        self.tap = [*tap.argv, "--config", config_path(tap, "tap")]
        if tap.catalog is not None:
            self.tap += ["--catalog", str(tap.catalog)]
        if state:
            path = "<run dir>/state.json" if run_dir is None else str(
                run_dir.write_private("state.json", dumps(state)))  # exact: a bookmark may hold any number
            self.tap += ["--state", path]
        self.target = [*target.argv, "--config", config_path(target, "target")]
        self.mappers = [[*m.argv, "--config", config_path(m, f"map{i}")] for i, m in enumerate(mappers)]


def _print_dry_run(plan: RunPlan, tap: ResolvedConnector, target: ResolvedConnector, state: dict[str, Any] | None,
                   out: IO[str], mappers: list[ResolvedConnector]) -> None:
    cmds = _Commands(tap, target, state, None, mappers)
    redact = Redactor()  # the secrets of args: (every ${} value there), as `sluice config show` masks them
    for conn in (tap, *mappers, target):
        redact.add(connector_secrets(conn, None))
    out.write(f"pipeline: {plan.pipeline} (state id {plan.state_id})\n")
    out.write(f"tap:    {shlex.join(map(redact, cmds.tap))}\n")
    if plan.tap.metadata:
        base = "the catalog file" if tap.catalog else "its --discover output"
        out.write(f"        --catalog <run dir>/catalog.json: {base} with the metadata: of sluice.yml laid over it\n")
    out.write(f"        env: {' '.join(sorted(child_env(tap.env)))}\n")
    for mapper, argv in zip(mappers, cmds.mappers, strict=True):
        out.write(f"mapper: {shlex.join(map(redact, argv))}\n")
        out.write(f"        env: {' '.join(sorted(child_env(mapper.env)))}\n")
    out.write(f"target: {shlex.join(map(redact, cmds.target))}\n")
    out.write(f"        env: {' '.join(sorted(child_env(target.env)))}\n")
    pipe = " | ".join(Path(argv[0]).name for argv in (cmds.tap, *cmds.mappers, cmds.target))
    out.write(f"pipe:   {pipe}; STATE from the target is stored\n")
    out.write(f"dir:    {tap.cwd} ({'both' if not mappers else 'all'} run here: relative paths in their config "
              f"resolve from it)\n")


def run_pipeline(project: Project, plan: RunPlan, options: RunOptions, *,
                 terminal: IO[str] | None = None, out: IO[str] | None = None) -> int:
    """Run one pipeline to the end; return its exit code (:meth:`Outcome.exit_code`: 0 ok, 1 failed,
    124/130/143 stopped). Raises PipelineLocked (exit code 3) when another run holds the lock."""
    terminal = terminal or sys.stderr
    out = out or sys.stdout
    # a tenant's pipeline reads no other tenant's variable, from the environment or .env, however started
    scope = project.scope().without(foreign_variables(project, plan.pipeline) if plan.tenant else ())
    tap, target, *mappers = all_resolved(
        f"{project.where}: pipeline '{plan.pipeline}' cannot run",
        [lambda: project.resolve(plan.tap, scope, check_catalog=True), lambda: project.resolve(plan.target, scope),
         *(functools.partial(resolve_step, project, step, scope, tenant=plan.tenant) for step in plan.maps)])
    if not options.dry_run:  # a tap as the target would have its bookmarks stored: refused (exit 2)
        refuse_wrong_roles(plan.pipeline, tap, target, project.dir / SLUICE_DIR / "cache")
    url, url_secrets = project.state_store_url()
    store = open_store(url, project.dir, lock_timeout(project.lock_timeout))
    try:
        if options.dry_run:
            state = None if options.full_refresh else store.get_state(plan.state_id)
            _print_dry_run(plan, tap, target, state, out, mappers)
            return ExitCode.OK
        lock = store.lock(plan.state_id)
        try:
            done = (None if options.done_since is None
                    else store.succeeded_since(plan.pipeline, plan.state_id, options.done_since))
            if done is not None:  # another host's batch ran it while this one was on its way: it is done
                terminal.write(f"sluice: pipeline '{plan.pipeline}' skipped: {ran_since(done)}\n")
                return ExitCode.LOCKED
            return _locked_run(project, plan, options, store, lock.alive, (tap, mappers, target), url_secrets,
                               terminal)
        finally:
            lock.release()
    finally:
        store.close()


@dataclass
class _Run:
    """What one run under the pipeline's lock carries from its start to its history row."""

    plan: RunPlan
    options: RunOptions
    store: StateStore
    tap: ResolvedConnector
    target: ResolvedConnector
    redactor: Redactor
    run_id: int
    number: int
    state: dict[str, Any] | None
    generation: int
    saved: int = 0  # STATE values stored during this run
    lock_lost: bool = False  # a STATE came after the lock was lost: not stored, the run failed
    control: ControlPipe | None = None
    live: ProgressTimer | None = None  # writes live progress for `sluice ui` while the connectors run
    mappers: list[ResolvedConnector] = field(default_factory=list)  # between tap and target, in pipe order
    # exactly-once: ask the target for its committed state. Not after a run that succeeded (the store
    # holds what it committed) nor on a full refresh (the new generation makes the store's win).
    reconcile: bool = True
    telemetry: Telemetry = field(default_factory=NoTelemetry)  # OpenTelemetry: runner/telemetry/

    def on_state(self, value: dict[str, Any]) -> None:
        try:
            self.store.set_state(self.plan.state_id, value)
        except LockLost:  # not stored: the lock is gone, the supervisor stops the run at its next lock check
            self.lock_lost = True
            return
        self.saved += 1
        self.telemetry.state_committed()


def _locked_run(project: Project, plan: RunPlan, options: RunOptions, store: StateStore, lock_alive: Any,
                sides: tuple[ResolvedConnector, list[ResolvedConnector], ResolvedConnector], url_secrets: set[str],
                terminal: IO[str]) -> int:
    tap, mappers, target = sides
    base, begun_ns = project.dir / SLUICE_DIR, time.time_ns()
    store.abandon_stale_runs(plan.state_id)
    clean = store.ended_cleanly(plan.pipeline, plan.state_id)  # before this run's row: the last one's ending
    started = store.start_run(plan.pipeline, plan.state_id, plan.tenant.id if plan.tenant else None)
    state = None if options.full_refresh else store.get_state(plan.state_id)
    generation = store.bump_generation(plan.state_id) if options.full_refresh else store.generation(plan.state_id)
    run = _Run(plan, options, store, tap, target, Redactor(url_secrets), started.id, started.number, state, generation,
               mappers=mappers, reconcile=not (clean or options.full_refresh))
    exactly_once = _introduce(run, base / "cache")
    run.telemetry = start_telemetry(run.plan.pipeline, run.plan.state_id, (run.number, run.run_id), begun_ns,
                                    run.redactor)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log_path = base / "logs" / _safe(plan.pipeline) / f"{stamp}-run{started.number}.log"
    output = RunOutput(log_path, run.redactor, terminal, verbose=options.verbose)
    outcome = _recorded(run, output, base, exactly_once, lock_alive)
    if options.metrics_file is not None:
        from runner.metrics_file import write_metrics_file

        write_metrics_file(options.metrics_file, store.last_runs())
    if options.summary_json is not None:
        write_summary_json(options.summary_json, summary_record(
            plan.pipeline, plan.state_id, (started.number, started.id), outcome, run.saved, _last_line(run, outcome)))
    terminal.write(_last_line(run, outcome) + "\n")
    terminal.flush()
    return outcome.exit_code


def _introduce(run: _Run, cache: Path) -> bool:
    """Ask every process what it is (--about): its secrets, setting types; the target: exactly-once."""
    exactly_once = False
    try:
        for conn in (run.tap, *run.mappers, run.target):
            info = about(conn, cache)
            run.redactor.add(connector_secrets(conn, info), users=credential_users(conn.config, conn.env))
            conn.config = coerce_config(conn.config, info)
            exactly_once = conn is run.target and supports_exactly_once(info)
    except KeyboardInterrupt:
        run.store.finish_run(run.run_id, RunStatus.INTERRUPTED.value, None, None,
                             "interrupted before the connectors started")
        raise
    return exactly_once


def _recorded(run: _Run, output: RunOutput, base: Path, exactly_once: bool, lock_alive: Any) -> Outcome:
    """Supervise the pair; whatever happens, record the run in the history and close its log."""
    outcome: Outcome | None = None
    status, error = RunStatus.FAILED, None  # how a run that never reached the pair ended
    keyed = stream_keys(run.tap.catalog)
    try:
        with RunDir(_tmp_root(base, run.plan)) as run_dir:
            keyed = _prepare(run, output, run_dir, exactly_once)
            outcome = _supervised(run, output, run_dir, lock_alive)
            for side in (outcome.tap, *outcome.mappers, outcome.target):  # a stream named after a secret
                side.stats.redact_streams(run.redactor)
    except StoreError as exc:
        error = run.redactor(f"runner: state store failed during the run: {exc}")
        raise
    except (ReconcileError, ConfigError, ConnectorError) as exc:
        error = run.redactor(f"runner: {exc}")
        raise
    except KeyboardInterrupt:  # a signal before supervise() took over signal handling
        status, error = RunStatus.INTERRUPTED, "runner: interrupted before the connectors started"
        raise
    finally:
        if run.control is not None:
            run.control.close()
        if outcome is None:
            _finish(run, output, status, error, None, None)
        else:
            fail_on_lost_records(outcome, keyed)
            fail_on_unstored_state(outcome, run.lock_lost)
            status, error = outcome.status, _finish_supervised(run, output, outcome, keyed)
        note = run.telemetry.finish(status, error, outcome)  # at most the export bound: runner/telemetry/export.py
        if note:
            output.runner_line(note, terminal=False)
        output.runner_line(f"log: {output.log_path}", terminal=outcome is not None and not outcome.ok)
        record_end(run.store, run.run_id, outcome, output, run.live)  # for `sluice ui`
        output.close()
    return outcome


def _prepare(run: _Run, output: RunOutput, run_dir: RunDir, exactly_once: bool) -> dict[str, bool]:
    """The effective catalog and, exactly-once, the state to start from; return the keyed streams."""
    tap, target, plan = run.tap, run.target, run.plan
    if plan.tap.metadata:  # sluice.yml metadata: over the catalog file or a fresh discovery
        write_effective_catalog(tap, plan.tap.metadata, run_dir, run.redactor, output.runner_line)
    if exactly_once:
        if run.reconcile:
            run.state = _reconcile(plan, target, run_dir, run.store, run.state, run.generation, output, run.redactor)
        run.control = ControlPipe(plan.state_id, run.generation)
    return stream_keys(tap.catalog)


def _supervised(run: _Run, output: RunOutput, run_dir: RunDir, lock_alive: Any) -> Outcome:
    tap, target, plan, control = run.tap, run.target, run.plan, run.control
    cmds = _Commands(tap, target, run.state, run_dir, run.mappers)
    record_commands(run.store, run.run_id, [cmds.tap, *cmds.mappers, cmds.target], run.redactor, output.runner_line)
    run.live = live = ProgressTimer.start(run.store, run.run_id, run.redactor)  # `sluice ui`; stopped by record_end
    how = "full refresh" if run.options.full_refresh else ("resuming from the stored state" if run.state
                                                           else "no stored state")
    pipe = " | ".join(conn.name for conn in (tap, *run.mappers, target))
    output.runner_line(f"run {run.number} of pipeline '{plan.pipeline}': {pipe} ({how})")
    output.runner_line(f"tap: {shlex.join(map(run.redactor, cmds.tap))}", terminal=False)
    for argv in cmds.mappers:
        output.runner_line(f"mapper: {shlex.join(map(run.redactor, argv))}", terminal=False)
    output.runner_line(f"delivery: exactly-once (the target commits state id '{plan.state_id}', generation "
                       f"{run.generation}, with its rows)" if control else
                       "delivery: at-least-once (the target does not list sluice-exactly-once)", terminal=False)
    output.runner_line(f"target: {shlex.join(map(run.redactor, cmds.target))}", terminal=False)
    output.runner_line(f"working directory of {'both' if not run.mappers else 'all'}: {tap.cwd}", terminal=False)
    def env(role: str, conn: ResolvedConnector) -> dict[str, str]:  # TRACEPARENT: its span of the run's trace
        return {**child_env(conn.env), **run.telemetry.connector_env(role, conn.name)}

    mappers = [SideSpec("mapper", m.name, argv, env("mapper", m), make_preexec(m.limits), str(m.cwd))
               for m, argv in zip(run.mappers, cmds.mappers, strict=True)]
    return supervise(
        # connectors run in the project directory: relative paths in their config resolve from it
        SideSpec("tap", tap.name, cmds.tap, env("tap", tap), make_preexec(tap.limits), str(tap.cwd)),
        SideSpec("target", target.name, cmds.target, {**env("target", target), **(control.env if control else {})},
                 make_preexec(target.limits), str(target.cwd), pass_fds=(control.read_fd,) if control else ()),
        output, run.on_state, mappers=mappers, timeout=plan.timeout, grace=run.options.grace, lock_alive=lock_alive,
        on_tap_exit=control.tap_exited if control else None,
        on_stop=control.stopping if control else None, watch=live.watch if live else None,
    )


def _finish_supervised(run: _Run, output: RunOutput, outcome: Outcome, keyed: dict[str, bool]) -> str | None:
    """Record a run that reached the pair, with its counts; then its summary. Return its error."""
    error = None if outcome.ok else run.redactor(f"{_side_name(outcome)} failed: {outcome.reason}")
    emitted = outcome.tap.stats.total if outcome.tap.stats.reported else None
    committed = outcome.target.stats.total if outcome.target.stats.reported else None
    if outcome.ok and nothing_moved(outcome.tap.stats, outcome.target.stats):
        committed = 0
    _finish(run, output, outcome.status, error, emitted, committed)
    summary(output, run.plan.state_id, outcome, run.saved, run.state is not None, keyed)
    return error


def _finish(run: _Run, output: RunOutput, status: RunStatus, error: str | None, emitted: int | None,
            committed: int | None) -> None:
    try:
        run.store.finish_run(run.run_id, status.value, emitted, committed, error)
    except StoreError as exc:
        output.runner_line(f"cannot record the run in the history: {exc}")


def _last_line(run: _Run, outcome: Outcome) -> str:
    """The run's last line on the terminal: succeeded, stopped (by whom, what is kept), or failed."""
    pipeline = run.plan.pipeline
    if outcome.ok:
        return f"sluice: pipeline '{pipeline}' succeeded in {outcome.elapsed:.2f} s"
    if outcome.stopped_by is not None:
        return stopped_line(pipeline, run.plan.timeout, outcome.stopped_by, run.saved, run.state is not None)
    error = run.redactor(f"{_side_name(outcome)} failed: {outcome.reason}")
    return f"sluice: pipeline '{pipeline}' {outcome.status}: {error}"


def _reconcile(plan: RunPlan, target: ResolvedConnector, run_dir: RunDir, store: StateStore,
               state: dict[str, Any] | None, generation: int, output: RunOutput,
               redactor: Redactor) -> dict[str, Any] | None:
    """Exactly-once: start from the destination's committed state when it is the newer truth."""
    config = str(run_dir.write_private("committed-state.config.json", dumps(target.config)))
    committed = read_committed(target.argv, config, plan.state_id, child_env(target.env), target.name,
                               str(target.cwd))
    chosen, changed = choose_state(state, generation, committed)
    if changed and chosen is not None:
        store.set_state(plan.state_id, chosen)
        output.runner_line(redactor(f"target '{target.name}' committed a newer state than the store held "
                                    f"(an interrupted run); resuming from it"))
    return chosen


def _side_name(outcome: Outcome) -> str:
    """"tap 'orders-db'", "mapper 'mask'", "target 'warehouse'" or "runner"."""
    if outcome.failed_side in (None, "runner"):
        return "runner"
    return f"{outcome.failed_side} '{outcome.failed_name}'"

"""The ``sluice`` command line. Heavy modules are imported inside the commands that use them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from protocol import RUNNER_CODES, ExitCode
from protocol import describe_exit_codes as describe
from runner.cli_context import INSTALL_HELP, Ctx, when
from runner.cli_environment import ENVIRONMENT_HELP, environment_option
from runner.cli_lazy import LazyGroup
from runner.outcome import ALL_EXIT_HELP

if TYPE_CHECKING:
    from runner.run import RunOptions

__all__ = ["cli", "main"]

EXIT_HELP = (f"Exit codes: {describe(RUNNER_CODES)} (an interrupted or timed-out run keeps what was committed "
             "up to the last STATE).")


def _echo(text: str, err: bool = False) -> None:
    click.echo(text, err=err)


#: the commands of other modules, imported when named (``sluice run`` imports none of them)
LAZY_COMMANDS = {
    "spec": "runner.cli_connectors:spec", "check": "runner.cli_connectors:check",
    "discover": "runner.cli_connectors:discover", "select": "runner.cli_connectors:select",
    "install": "runner.cli_install:install", "add": "runner.cli_registry:add", "search": "runner.cli_registry:search",
    "import": "runner.cli_import:import_command", "locks": "runner.cli_hosts:locks",
    "ui": "runner.cli_ui:ui",
    "config": "runner.cli_config:config", "validate": "runner.cli_validate:validate",
}


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_HELP)
@click.version_option(None, "-V", "--version", package_name="sluice", prog_name="sluice",
                      help="Print the version of sluice and exit.")
@click.option("-p", "--project", "project_arg", metavar="FILE", envvar="SLUICE_PROJECT",
              help="The project file (default: sluice.yml in the current directory).")
@click.option("-e", "--environment", metavar="NAME", help=ENVIRONMENT_HELP)
@click.pass_context
def cli(ctx: click.Context, project_arg: str | None, environment: str | None) -> None:
    """Run Singer taps into Singer targets, keep their state, and inspect any connector.

    The state store is .sluice/state.db (SQLite) in the project directory, or the
    PostgreSQL database named by `state_store:` in sluice.yml or SLUICE_STATE_URL.

    Relative paths in sluice.yml and in connector settings resolve from the directory of
    sluice.yml (connectors run there); paths given on the command line, from the current one.
    """
    ctx.obj = Ctx(project_arg, environment)


# -- run ------------------------------------------------------------------------------------
@cli.command(epilog=EXIT_HELP)
@environment_option
@click.argument("names", nargs=-1, metavar="PIPELINE | TAP TARGET")
@click.option("--all", "all_", is_flag=True, help=f"Run every pipeline of the project. {ALL_EXIT_HELP}")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --all or a pipeline with for_each: pipelines run at once.")
@click.option("--full-refresh", is_flag=True, help="Ignore the stored state (it is replaced as the run goes).")
@click.option("--state-id", help="Store state under this id instead of the pipeline's.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Stop the run after SECONDS.")
@click.option("--dry-run", is_flag=True, help="Print the commands that would run, and exit.")
@click.option("--metrics-file", type=click.Path(dir_okay=False), help="Write a Prometheus textfile after the run.")
@click.option("--summary-json", type=click.Path(dir_okay=False),
              help="With one PIPELINE: write the run's outcome and per-stream counts to this JSON file "
                   "(not written when the run is refused or fails before its connectors start).")
@click.option("--grace", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when a connector is stopped.")
@click.option("-v", "--verbose", is_flag=True, help="Also show METRIC lines on the terminal.")
@click.option("--install", "install_", is_flag=True, help=INSTALL_HELP)
@click.option("--skip-if-done-since", "done_since", type=float, hidden=True,
              help="Internal (sluice run --all): exit 3 without running if a run that began at this time (the "
                   "store's clock) or later succeeded.")
@click.option("--map", "maps", multiple=True, metavar="MAPPER",
              help="With TAP TARGET: a mapper run between them (TAP | MAPPER | TARGET), a connector of sluice.yml "
                   "or a program on PATH; repeat for several, in pipe order.")
@click.pass_obj
def run(obj: Ctx, names: tuple[str, ...], all_: bool, jobs: int, full_refresh: bool, state_id: str | None,
        timeout: float | None, dry_run: bool, metrics_file: str | None, summary_json: str | None, grace: float,
        verbose: bool, install_: bool, maps: tuple[str, ...], done_since: float | None) -> int:
    """Run a pipeline of sluice.yml, or TAP | TARGET ad hoc.

    A pipeline with for_each: runs once per tenant (PIPELINE@ID, -j at once); PIPELINE@ID
    runs one tenant's.

    The tap's stdout is piped into the target's stdin (through the pipeline's maps: or the
    --map mappers, if any); every STATE the target sends back is stored as it arrives and
    given to the tap (--state) on the next run. Both run in the
    project directory (that of sluice.yml), whatever the current one: relative paths in their
    settings resolve from there. On a terminal a live progress line shows records emitted and
    committed; SLUICE_PROGRESS=SECONDS prints one every SECONDS anywhere (and in the run's log),
    SLUICE_PROGRESS=0 none.
    """
    from runner.cli_install import ensure_installed
    from runner.install.needed import run_connectors
    from runner.run import RunOptions, plan_adhoc, plan_pipeline, run_pipeline

    options = RunOptions(full_refresh, state_id, timeout, dry_run,
                         Path(metrics_file).resolve() if metrics_file else None, grace, verbose,
                         summary_json=Path(summary_json).resolve() if summary_json else None, done_since=done_since)
    project = obj.project
    if maps and len(names) != 2:
        raise click.UsageError("--map goes with TAP TARGET; a pipeline of sluice.yml lists its mappers under maps:")
    ensure_installed(obj, run_connectors(project, names, all_, maps), install_)
    if all_ or (len(names) == 1 and names[0] in project.templates):
        if (names if all_ else state_id) or summary_json:
            raise click.UsageError("--all takes no PIPELINE, no --state-id and no --summary-json" if all_ else
                                   f"'{names[0]}' runs once per tenant, each with its own state id: no --state-id"
                                   " and no --summary-json")
        return _run_many(obj, None if all_ else names[0], jobs, options)
    if len(names) == 1:
        plan = plan_pipeline(project, names[0], options)
    elif len(names) == 2:
        plan = plan_adhoc(project, names[0], names[1], options, maps)
    else:
        raise click.UsageError("give a PIPELINE, or a TAP and a TARGET, or --all")
    return run_pipeline(project, plan, options)


def _run_many(obj: Ctx, template: str | None, jobs: int, options: RunOptions) -> int:
    """``--all`` (``template`` None) or the pipelines of a template's tenants: each pipeline in its own
    runner process, ``jobs`` at once."""
    from protocol import ConfigError
    from runner.cli_hosts import Batch
    from runner.parallel import host_order, run_all
    from runner.stores import host_name, is_shared
    from runner.tenant_env import runner_environments

    project = obj.project
    names = list(project.pipelines) if template is None else project.templates[template]
    if not names and template is not None:
        raise ConfigError(f"{project.where}: pipeline '{template}' has no tenants (its for_each: list is empty)")
    if not names:
        raise ConfigError(project.missing() if project.path is None else f"{project.where} declares no pipelines")
    run_args = [flag for flag, on in (("--full-refresh", options.full_refresh), ("--dry-run", options.dry_run),
                                      ("--verbose", options.verbose)) if on]
    if options.timeout is not None:
        run_args += ["--timeout", str(options.timeout)]
    if options.metrics_file:
        run_args += ["--metrics-file", str(options.metrics_file)]
    run_args += ["--grace", str(options.grace)]
    if is_shared(project.state_store_url()[0]):
        names = host_order(names, host_name())
    batch = Batch(obj, active=not options.dry_run)
    if batch.began is not None:
        run_args += ["--skip-if-done-since", repr(batch.began)]
    try:
        code = run_all(names, jobs, obj.base_args(), run_args, skip=batch.skip,
                       envs=runner_environments(project, names))
    finally:
        batch.close()
    if options.metrics_file and not options.dry_run:  # once more, after every run: the last writer saw them all
        from runner.metrics_file import write_metrics_file

        with _store(obj) as store:
            write_metrics_file(options.metrics_file, store.last_runs())
    return code


# -- state ----------------------------------------------------------------------------------
@cli.group(epilog=EXIT_HELP)
def state() -> None:
    """Show or change stored states (the bookmarks a pipeline resumes from)."""


def _state_id(obj: Ctx, name: str) -> str:
    if name in obj.project.templates:
        obj.project.pipeline(name)  # a ConfigError: each tenant has its own state, name one
    return obj.state_id(name)


def _store(obj: Ctx) -> Any:
    return obj.open_store()


@state.command("list")
@environment_option
@click.pass_obj
def state_list(obj: Ctx) -> int:
    """Every stored state id and when it was last written."""
    with _store(obj) as store:
        for state_id, updated in store.list_states():
            _echo(f"{state_id}\t{when(updated)}")
    return ExitCode.OK


@state.command("get")
@environment_option
@click.argument("pipeline")
@click.pass_obj
def state_get(obj: Ctx, pipeline: str) -> int:
    """Print the stored state of PIPELINE (or of a state id) as JSON."""
    from protocol import dumps_pretty
    from runner.cli_hosts import state_ids, stray_name

    state_id = _state_id(obj, pipeline)
    with _store(obj) as store:
        value = store.get_state(state_id)
        hint = stray_name(obj, pipeline, state_ids(store)) if value is None else None
    if value is None:
        named = "" if state_id == pipeline else f" (state id '{state_id}')"
        _echo(f"sluice: no state stored for '{pipeline}'{named}{hint or ''}", err=True)
        return ExitCode.FAILED
    _echo(dumps_pretty(value))
    return ExitCode.OK


@state.command("set")
@environment_option
@click.argument("pipeline")
@click.argument("value", metavar="JSON|@FILE|-")
@click.pass_obj
def state_set(obj: Ctx, pipeline: str, value: str) -> int:
    """Store a state for PIPELINE (refused while the pipeline runs); a name that is no pipeline is taken
    as a state id (a warning says so when no state is stored under it yet)."""
    from protocol import ConfigError, JSONDecodeError, loads, state_value
    from runner.cli_hosts import state_ids, stray_name

    if value == "-":
        text = sys.stdin.read()
    elif value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read {value[1:]}: {exc.strerror}") from exc
    else:
        text = value
    try:
        data = loads(text)
    except JSONDecodeError as exc:
        raise ConfigError(f"the state is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and set(data) == {"singer_state"} and isinstance(data["singer_state"], dict):
        _echo("sluice: note: the state is `meltano state get`'s output: its singer_state is set", err=True)
        data = data["singer_state"]  # as it was, no tap knew it: the next run read everything again
    data = state_value(data)
    if data is None:
        raise ConfigError("a state must be a JSON object")
    state_id = _state_id(obj, pipeline)
    with _store(obj) as store:
        hint = stray_name(obj, pipeline, state_ids(store))
        if hint is not None:
            _echo(f"sluice: warning: '{pipeline}' is neither a pipeline nor a stored state id: a new state id"
                  f"{hint}", err=True)
        lock = store.lock(state_id, "this change of its state")
        try:
            store.set_state(state_id, data)
            store.bump_generation(state_id)  # a deliberate reset wins over a destination's committed state
        finally:
            lock.release()
    _echo(f"sluice: state of '{state_id}' set", err=True)
    return ExitCode.OK


@state.command("clear")
@environment_option
@click.argument("pipeline")
@click.pass_obj
def state_clear(obj: Ctx, pipeline: str) -> int:
    """Delete the stored state of PIPELINE: its next run starts from scratch (exit 1 for a name that is
    neither a pipeline nor a stored state id)."""
    from runner.cli_hosts import state_ids, stray_name

    state_id = _state_id(obj, pipeline)
    with _store(obj) as store:
        hint = stray_name(obj, pipeline, state_ids(store))
        if hint is not None:
            _echo(f"sluice: no state stored for '{pipeline}', which is not a pipeline either{hint}", err=True)
            return ExitCode.FAILED
        lock = store.lock(state_id, "this change of its state")
        try:
            existed = store.clear_state(state_id)
            store.bump_generation(state_id)
        finally:
            lock.release()
    _echo(f"sluice: state of '{state_id}' {'cleared' if existed else 'was not stored'}", err=True)
    return ExitCode.OK


# -- history, cron ----------------------------------------------------------------------------
@cli.command()
@environment_option
@click.argument("pipeline", required=False)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show at most this many runs, the most recent.")
@click.option("--host", help="Only the runs of this host (as recorded: SLUICE_HOST or the machine's name).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def runs(obj: Ctx, pipeline: str | None, limit: int, host: str | None, as_json: bool) -> int:
    """The run history: start, end, status, records, host, error (most recent first).

    PIPELINE with for_each: shows the runs of all its tenants' pipelines."""
    import json

    from runner.cli_hosts import run_names, stray_name

    tenants = obj.project.templates.get(pipeline or "")
    with _store(obj) as store:
        if tenants is None:
            records = store.runs(pipeline, limit, host=host)
        else:
            found = [r for name in tenants for r in store.runs(name, limit, host=host)]
            records = sorted(found, key=lambda r: r.id, reverse=True)[:limit]
        hint = stray_name(obj, pipeline, run_names(store)) if pipeline and not records else None
    if hint is not None:
        _echo(f"sluice: no runs of '{pipeline}', which is not a pipeline either{hint}", err=True)
    if as_json:
        for r in records:
            _echo(json.dumps(r.to_dict()))
        return ExitCode.OK
    _echo("RUN\tPIPELINE\tSTARTED\tENDED\tSTATUS\tRECORDS\tHOST\tERROR")
    for r in records:
        recs = "-" if r.records_committed is None else str(r.records_committed)
        _echo(f"{r.number}\t{r.pipeline}\t{when(r.started_at)}\t{when(r.ended_at)}\t{r.status}\t{recs}\t"
              f"{r.host}\t{r.error or ''}")
    return ExitCode.OK


@cli.command()
@environment_option
@click.option("--metrics-file", type=click.Path(dir_okay=False), help="Add --metrics-file to every line.")
@click.pass_obj
def crontab(obj: Ctx, metrics_file: str | None) -> int:
    """Print crontab lines for the pipelines that have a schedule (the same from any directory)."""
    from runner.crontab import crontab_lines

    for line in crontab_lines(obj.project, Path(metrics_file).resolve() if metrics_file else None):
        _echo(line)
    return ExitCode.OK


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sluice`` console script."""
    from protocol import SluiceError
    from runner.entry import report

    try:
        code = cli.main(args=argv, prog_name="sluice", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("sluice: aborted", err=True)
        sys.exit(ExitCode.FAILED)
    except click.ClickException as exc:  # click says its code: 2 (ExitCode.USAGE) for a usage error
        exc.show()
        sys.exit(exc.exit_code)
    except (SluiceError, KeyboardInterrupt) as exc:
        sys.exit(report(exc, lambda text: click.echo(text, err=True)))
    sys.exit(code if isinstance(code, int) else ExitCode.OK)

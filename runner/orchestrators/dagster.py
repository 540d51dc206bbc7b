"""Dagster definitions for a sluice project: one asset per pipeline (or per stream), its schedules.

``definitions_from_project("sluice.yml")`` returns a :class:`dagster.Definitions`. Each asset is
materialized by running ``sluice run PIPELINE`` as a subprocess (``runner.orchestrators.sluice_run``),
so every Dagster executor works and the run is the one cron would start: same lock, same state,
same history. Needs the extra: ``pip install 'sluice[dagster]'``. Dagster is imported here only.

No ``from __future__ import annotations`` here: Dagster reads the asset functions' annotations.
"""

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol import ConfigError, ExitCode, SluiceError
from runner.orchestrators.sluice_run import SluiceRunResult, run_sluice
from runner.orchestrators.sluice_run import safe_name as asset_name
from runner.orchestrators.streams import selected_streams
from runner.project import Pipeline, Project, find_project, load_project

try:
    import dagster as dg
except ImportError as exc:  # the extra is not installed

    class DagsterMissing(ConfigError, ImportError):
        """``runner.orchestrators.dagster`` imported without Dagster."""

    raise DagsterMissing("runner.orchestrators.dagster needs Dagster, which is not installed: "
                         "pip install 'sluice[dagster]'") from exc

__all__ = ["asset_name", "definitions_from_project"]

_log = logging.getLogger("sluice.orchestrators")

#: cron's nicknames, as five fields (Dagster versions differ in which nicknames they accept)
_NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
              "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


@dataclass(frozen=True)
class _Setup:
    """What every asset of one project shares."""

    project_file: Path
    group_name: str
    command: Sequence[str] | None  # the sluice program (default: runner.orchestrators.sluice_run.sluice_command)
    run_args: Sequence[str]  # added to every `sluice run`
    environment: str | None = None  # the environment of sluice.yml the definitions were built in


def definitions_from_project(project: "str | os.PathLike[str] | None" = None, *, per_stream: bool = False,
                             group_name: str = "sluice", sluice: Sequence[str] | None = None,
                             run_args: Sequence[str] = (), timezone: str | None = None,
                             environment: str | None = None) -> dg.Definitions:
    """One asset per pipeline of the project (``per_stream``: one per selected stream, materialized
    together), each by ``sluice run PIPELINE``; one schedule per pipeline ``schedule:``.

    ``project`` is found as the ``sluice`` command finds it: a file, a directory holding
    sluice.yml, else ``$SLUICE_PROJECT``, else sluice.yml in the current directory. ``sluice``
    is the program to run (default: the ``sluice`` beside this Python); ``run_args`` are added to
    every ``sluice run`` (e.g. ``["--timeout", "3600"]``); ``timezone`` is the schedules'
    (Dagster's default: UTC). ``environment`` is the environment of sluice.yml to build and run in
    (default: ``$SLUICE_ENVIRONMENT``, else the file's ``default_environment``); every run is given it.
    """
    loaded = _load(project, environment)
    chosen = loaded.environment.name if loaded.environment else None
    setup = _Setup(loaded.path.resolve() if loaded.path else Path(), group_name, sluice, tuple(run_args), chosen)
    names = _unique_names(list(loaded.pipelines), f"pipelines of {loaded.where}")
    assets: list[dg.AssetsDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    for pipe in loaded.pipelines.values():
        name = names[pipe.name]
        streams = _streams(loaded, pipe) if per_stream else None
        asset = _stream_assets(setup, pipe, name, streams) if streams else _pipeline_asset(setup, pipe, name)
        assets.append(asset)
        schedule = _schedule(pipe, name, asset, timezone)
        if schedule is not None:
            schedules.append(schedule)
    return dg.Definitions(assets=assets, schedules=schedules)


def _load(project: "str | os.PathLike[str] | None", environment: str | None) -> Project:
    explicit = os.fspath(project) if project is not None else os.environ.get("SLUICE_PROJECT") or None
    path = find_project(explicit)
    if path is None:
        raise ConfigError(f"no sluice.yml found in {Path.cwd()}; pass definitions_from_project('path/to/sluice.yml')")
    return load_project(path.resolve(), environment)


def _unique_names(originals: list[str], what: str) -> dict[str, str]:
    """Each name sanitized; two names that sanitize alike are an error (Dagster needs unique keys)."""
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    for original in originals:
        name = asset_name(original)
        if name in seen:
            raise ConfigError(f"{what}: '{seen[name]}' and '{original}' both become the Dagster name '{name}'; "
                              "rename one")
        seen[name] = names[original] = name
    return names


def _description(pipe: Pipeline) -> str:
    maps = "".join(f" | {step.mapper}" for step in pipe.maps)
    return f"sluice pipeline '{pipe.name}': {pipe.tap}{maps} | {pipe.target} (state id '{pipe.state_id}')"


def _pipeline_asset(setup: _Setup, pipe: Pipeline, name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name=setup.group_name, description=_description(pipe),
              metadata={"sluice/pipeline": pipe.name, "sluice/project": str(setup.project_file)})
    def materialize_pipeline(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = _run(setup, pipe.name, context)
        return dg.MaterializeResult(metadata=_pipeline_metadata(result))

    return materialize_pipeline


def _streams(project: Project, pipe: Pipeline) -> list[str] | None:
    """The pipeline's selected streams; None (one asset for the pipeline, and a warning) when they cannot
    be read: the definitions of the other pipelines still load, and a run reports the real error."""
    try:
        streams = selected_streams(project, pipe)
    except SluiceError as exc:
        _log.warning("pipeline '%s': cannot read its streams (%s); one asset for the whole pipeline", pipe.name, exc)
        return None
    if not streams:
        _log.warning("pipeline '%s': its tap selects no stream; one asset for the whole pipeline", pipe.name)
    return streams or None


def _stream_assets(setup: _Setup, pipe: Pipeline, name: str, streams: list[str]) -> dg.AssetsDefinition:
    keys = _unique_names(streams, f"streams of pipeline '{pipe.name}'")
    specs = {stream: dg.AssetSpec(key=[name, keys[stream]], group_name=setup.group_name,
                                  description=f"stream '{stream}' of {_description(pipe)}",
                                  metadata={"sluice/pipeline": pipe.name, "sluice/stream": stream,
                                            "sluice/project": str(setup.project_file)})
             for stream in streams}

    @dg.multi_asset(name=name, specs=list(specs.values()), can_subset=False)
    def materialize_streams(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        result = _run(setup, pipe.name, context)
        for stream, spec in specs.items():
            yield dg.MaterializeResult(asset_key=spec.key, metadata=_stream_metadata(result, stream))

    return materialize_streams


def _run(setup: _Setup, pipeline: str, context: dg.AssetExecutionContext) -> SluiceRunResult:
    """``sluice run PIPELINE``, its stderr into the step's log; a run that did not succeed fails the step
    with its one error line (a refusal because another run holds the lock says so). A retry policy
    retries a failed or refused run, never an invalid project (exit 2), as Airflow's operator does."""
    try:
        result = run_sluice(pipeline, setup.project_file, args=setup.run_args, command=setup.command,
                            log=context.log.info, environment=setup.environment)
    except OSError as exc:  # no such program, not executable
        raise dg.Failure(description=f"cannot start sluice for pipeline '{pipeline}': {exc}",
                         metadata={"sluice/pipeline": pipeline, "sluice/outcome": "not started"}) from None
    if not result.ok:  # an invalid project or usage (exit 2) is not retried: a retry cannot fix it
        raise dg.Failure(description=result.message(), metadata={
            "sluice/pipeline": pipeline, "sluice/exit_code": result.exit_code,
            "sluice/outcome": "refused" if result.refused else "failed"},
            allow_retries=result.exit_code != ExitCode.USAGE)
    return result


def _common_metadata(result: SluiceRunResult) -> dict[str, Any]:
    summary = result.summary or {}
    out: dict[str, Any] = {"sluice/pipeline": result.pipeline,
                           "duration_s": dg.MetadataValue.float(float(summary.get("duration_s", result.wall_s)))}
    if "state_id" in summary:
        out["state_id"] = dg.MetadataValue.text(str(summary["state_id"]))
    if "run" in summary:
        out["run"] = dg.MetadataValue.int(int(summary["run"]))
    return out


def _pipeline_metadata(result: SluiceRunResult) -> dict[str, Any]:
    out = _common_metadata(result)
    summary = result.summary or {}
    for key in ("records_emitted", "records_committed"):
        if summary.get(key) is not None:
            out[key] = dg.MetadataValue.int(int(summary[key]))
    streams: dict[str, dict[str, int | None]] = summary.get("streams") or {}
    for stream, counts in streams.items():
        if counts.get("committed") is not None:
            out[f"rows.{stream}"] = dg.MetadataValue.int(int(counts["committed"] or 0))
    if streams:
        out["streams"] = dg.MetadataValue.json(streams)
    return out


def _stream_metadata(result: SluiceRunResult, stream: str) -> dict[str, Any]:
    out = _common_metadata(result)
    summary = result.summary or {}
    counts: dict[str, int | None] = (summary.get("streams") or {}).get(stream) or {}
    if summary.get("records_committed") == 0 and not counts:  # nothing new since the last run
        counts = {"emitted": 0, "committed": 0}
    if counts.get("committed") is not None:
        out["dagster/row_count"] = dg.MetadataValue.int(int(counts["committed"] or 0))
        out["records_committed"] = dg.MetadataValue.int(int(counts["committed"] or 0))
    if counts.get("emitted") is not None:
        out["records_emitted"] = dg.MetadataValue.int(int(counts["emitted"] or 0))
    return out


def _schedule(pipe: Pipeline, name: str, asset: dg.AssetsDefinition,
              timezone: str | None) -> dg.ScheduleDefinition | None:
    if not pipe.schedule:
        return None
    cron = _NICKNAMES.get(pipe.schedule.strip(), pipe.schedule.strip())
    if cron.startswith("@"):  # @reboot: cron's own, Dagster has no such schedule
        _log.warning("pipeline '%s': schedule %s has no Dagster equivalent; no schedule made", pipe.name, cron)
        return None
    job = dg.define_asset_job(f"{name}_job", selection=dg.AssetSelection.assets(asset),
                              description=f"sluice run {pipe.name}")
    return dg.ScheduleDefinition(name=f"{name}_schedule", cron_schedule=cron, job=job,
                                 execution_timezone=timezone, description=f"schedule: of pipeline '{pipe.name}'")

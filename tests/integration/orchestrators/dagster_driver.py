"""Run inside the Dagster test venv (tests/integration/orchestrators/test_dagster.py); prints one JSON object.

    python dagster_driver.py materialize PROJECT [--per-stream] [--sluice=PROGRAM] SELECTION...   # a run each
    python dagster_driver.py definitions PROJECT [--per-stream]                # assets and schedules
    python dagster_driver.py events DAGSTER_HOME ASSET_KEY                     # latest materialization's metadata
    python dagster_driver.py retried PROJECT SELECTION...   # a run each, in a job retrying each op twice
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dagster as dg

from runner.orchestrators.dagster import definitions_from_project


def _metadata(entries: Any) -> dict[str, Any]:
    return {key: value.value for key, value in entries.items()}


def materialize(project: str, per_stream: bool, selections: list[str], sluice: list[str] | None) -> dict[str, Any]:
    defs = definitions_from_project(project, per_stream=per_stream, sluice=sluice)
    assets = list(defs.assets or [])
    runs = []
    for selection in selections:
        result = dg.materialize(assets, selection=selection.split(","), raise_on_error=False)
        runs.append({
            "selection": selection,
            "success": result.success,
            "materializations": [
                {"key": event.step_materialization_data.materialization.asset_key.to_user_string(),
                 "metadata": _metadata(event.step_materialization_data.materialization.metadata)}
                for event in result.get_asset_materialization_events()],
            "failures": [
                {"description": event.step_failure_data.user_failure_data.description,
                 "metadata": _metadata(event.step_failure_data.user_failure_data.metadata)}
                if event.step_failure_data.user_failure_data else {"error": event.step_failure_data.error.message}
                for event in result.get_step_failure_events()],
        })
    return {"runs": runs}


def retried(project: str, selections: list[str]) -> dict[str, Any]:
    """Each selection run by a job whose op retry policy allows two retries: how many it took."""
    assets = list(definitions_from_project(project).assets or [])
    runs = []
    for selection in selections:
        job = dg.define_asset_job("retried", selection=selection.split(","),
                                  op_retry_policy=dg.RetryPolicy(max_retries=2))
        result = dg.Definitions(assets=assets, jobs=[job]).get_job_def("retried").execute_in_process(
            raise_on_error=False)
        runs.append({
            "selection": selection,
            "success": result.success,
            "retries": sum(event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for event in result.all_events),
            "exit_codes": [_metadata(event.step_failure_data.user_failure_data.metadata)["sluice/exit_code"]
                           for event in result.get_step_failure_events()
                           if event.step_failure_data.user_failure_data is not None],
        })
    return {"runs": runs}


def definitions(project: str, per_stream: bool) -> dict[str, Any]:
    defs = definitions_from_project(project, per_stream=per_stream)
    repo = defs.get_repository_def()
    schedules = []
    for schedule in repo.schedule_defs:
        job = repo.get_job(schedule.job_name)
        schedules.append({"name": schedule.name, "cron": schedule.cron_schedule, "job": schedule.job_name,
                          "assets": sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)})
    keys = sorted(key.to_user_string() for asset in defs.assets or [] for key in asset.keys)
    return {"assets": keys, "schedules": schedules}


def events(home: str, key: str) -> dict[str, Any]:
    import os

    os.environ["DAGSTER_HOME"] = home
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key))
        if event is None or event.asset_materialization is None:
            return {"metadata": None}
        return {"metadata": _metadata(event.asset_materialization.metadata)}


def main(argv: list[str]) -> None:
    command, target, *rest = argv
    per_stream = "--per-stream" in rest
    sluice = [arg.removeprefix("--sluice=") for arg in rest if arg.startswith("--sluice=")] or None
    rest = [arg for arg in rest if arg != "--per-stream" and not arg.startswith("--sluice=")]
    if command == "materialize":
        out = materialize(target, per_stream, rest, sluice)
    elif command == "retried":
        out = retried(target, rest)
    elif command == "definitions":
        out = definitions(target, per_stream)
    else:
        out = events(target, rest[0])
    sys.stdout.write(json.dumps(out, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

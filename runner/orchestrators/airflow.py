"""Apache Airflow: run sluice pipelines as Airflow tasks, one DAG per scheduled pipeline.

``SluiceRunOperator`` runs ``sluice run PIPELINE`` as a subprocess in the project directory
(through :func:`runner.orchestrators.sluice_run.run_sluice`, as the Dagster module does), so a
pipeline runs exactly as from cron or a shell, on any Airflow executor. Its stderr goes to the
task log line by line; a failed run raises with the pipeline's own error line; per-stream counts
(``sluice run --summary-json``) are the task's return value, hence its ``return_value`` XCom.

``dags_from_project("sluice.yml")`` builds one DAG per pipeline that has a ``schedule:``. A DAG
file of two lines puts them where Airflow looks (docs/airflow.md)::

    from runner.orchestrators.airflow import dags_from_project
    globals().update(dags_from_project("sluice.yml"))

Written against Airflow 3's public authoring API (``airflow.sdk``); on Airflow 2 the same
names are imported from their older homes (not tested there).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from protocol import ConfigError, ExitCode

try:
    from airflow.sdk import DAG, BaseOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 2, or no Airflow at all
    try:
        from airflow.exceptions import (  # type: ignore[no-redef]
            AirflowException,
            AirflowFailException,
            AirflowSkipException,
        )
        from airflow.models import DAG, BaseOperator  # type: ignore[no-redef,assignment]
    except ImportError as exc:  # the extra is not installed

        class AirflowMissing(ConfigError, ImportError):
            """``runner.orchestrators.airflow`` imported without Apache Airflow."""

        raise AirflowMissing("runner.orchestrators.airflow needs Apache Airflow, which is not installed: "
                             "pip install 'sluice[airflow]'") from exc

from runner.orchestrators.sluice_run import SluiceRunResult, run_sluice, safe_name
from runner.project import Pipeline, find_project, load_project

__all__ = ["DEFAULT_ARGS", "SluiceRunOperator", "dags_from_project"]

_log = logging.getLogger("sluice.orchestrators.airflow")

#: the ``default_args`` of every generated DAG; ``dags_from_project(default_args=...)`` overrides them key by key
DEFAULT_ARGS: dict[str, Any] = {"owner": "sluice", "retries": 2, "retry_delay": timedelta(minutes=5)}
#: the start of every generated DAG (catchup is off: only the latest interval runs)
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
#: cron presets sluice.yml accepts that Airflow names differently; @reboot has no Airflow meaning
_PRESETS = {"@annually": "@yearly", "@midnight": "@daily"}


class SluiceRunOperator(BaseOperator):  # type: ignore[misc]
    """Run ``sluice run PIPELINE`` of the project ``project`` (a ``sluice.yml`` or its directory).

    A relative ``project`` is taken from the directory of the DAG file. ``args`` are more
    ``sluice run`` options (``--full-refresh``, ``--timeout 600``); ``sluice`` is the command
    to run (default: the ``sluice`` installed beside Airflow's Python); ``environment`` the
    environment of sluice.yml to run in (default: ``$SLUICE_ENVIRONMENT`` or ``default_environment``).

    Failure semantics (docs/airflow.md): exit 0 succeeds and returns the run's summary; exit 2
    (an invalid project or usage) fails the task without retries, since a retry cannot fix it;
    exit 3 (another run holds the pipeline's lock, the run was refused) fails it as a refusal,
    so Airflow retries it after ``retry_delay``, unless ``skip_when_locked`` makes it a skip;
    anything else fails it with the pipeline's error line, and Airflow's retries apply.
    """

    template_fields: Sequence[str] = ("pipeline", "project", "args", "environment")
    ui_color = "#d7ecf7"

    def __init__(self, *, pipeline: str, project: str | Path = "sluice.yml", args: Sequence[str] = (),
                 sluice: str | Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 skip_when_locked: bool = False, environment: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("task_id", safe_name(pipeline))
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.project = str(project)
        self.args = list(args)
        self.sluice = [sluice] if isinstance(sluice, str) else list(sluice) if sluice else None
        self.env = dict(env) if env is not None else None
        self.skip_when_locked = skip_when_locked
        self.environment = environment
        self._proc: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> dict[str, Any] | None:
        try:
            project = self._project_file()
        except ConfigError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("sluice run %s (project %s)", self.pipeline, project)
        env = None if self.env is None else {**os.environ, **self.env}
        result = run_sluice(self.pipeline, project, args=self.args, command=self.sluice, env=env,
                            log=lambda line: self.log.info("%s", line), on_start=self._started,
                            environment=self.environment)
        self._proc = None
        if not result.ok:
            raise _failure(result, self.skip_when_locked)
        summary = result.summary
        if summary is not None:
            self.log.info("records per stream: %s", _counts_text(summary))
        return summary

    def on_kill(self) -> None:
        """Airflow stops the task (SIGTERM, or execution_timeout): stop sluice as a user would; it
        keeps what was committed up to the last STATE."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self.log.info("stopping sluice run %s (SIGTERM)", self.pipeline)
            proc.terminate()

    def _started(self, proc: subprocess.Popen[str]) -> None:
        self._proc = proc

    def _project_file(self) -> Path:
        path = Path(self.project).expanduser()
        if not path.is_absolute():
            fileloc = getattr(getattr(self, "dag", None), "fileloc", None)
            path = (Path(fileloc).parent if fileloc else Path.cwd()) / path
        found = find_project(str(path))
        assert found is not None  # find_project raises for a missing explicit path
        return found.resolve()


def _failure(result: SluiceRunResult, skip_when_locked: bool) -> Exception:
    """The exception that ends a task whose run did not succeed: its message is one line."""
    if result.refused:
        message = f"sluice run {result.pipeline} was refused, another run holds the pipeline: {result.error_line}"
        return AirflowSkipException(message) if skip_when_locked else AirflowException(message)
    if result.exit_code == ExitCode.USAGE:
        return AirflowFailException(result.message())
    return AirflowException(result.message())


def _counts_text(summary: Mapping[str, Any]) -> str:
    streams = summary.get("streams") or {}
    if not streams:
        return "none reported"
    return "; ".join(f"{name}: {_n(c.get('emitted'))} emitted, {_n(c.get('committed'))} committed"
                     for name, c in streams.items())


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def dags_from_project(project: str | Path = "sluice.yml", *, default_args: Mapping[str, Any] | None = None,
                      task_kwargs: Mapping[str, Any] | None = None, dag_id_prefix: str = "",
                      environment: str | None = None, **dag_kwargs: Any) -> dict[str, DAG]:
    """One DAG per pipeline of ``project`` that has a ``schedule:``, by DAG id.

    Each DAG holds one :class:`SluiceRunOperator` (task id ``run``). A relative ``project`` is
    taken from the directory of the calling DAG file. The DAGs run on the pipeline's cron
    schedule with catchup off and one active run at a time; ``default_args`` are merged over
    :data:`DEFAULT_ARGS`, ``task_kwargs`` go to every operator (``pool``, ``execution_timeout``,
    ``skip_when_locked``, ``args``...), and any other keyword to every ``DAG(...)``. ``environment``
    is the environment of sluice.yml (default: ``$SLUICE_ENVIRONMENT``, else ``default_environment``):
    its pipelines and schedules make the DAGs, and every task runs in it.
    """
    path = _from_caller(Path(project).expanduser(), sys._getframe(1).f_globals.get("__file__"))
    found = find_project(str(path))
    assert found is not None  # find_project raises for a missing explicit path
    found = found.resolve()
    loaded = load_project(found, environment)
    chosen = loaded.environment.name if loaded.environment else None
    args = {**DEFAULT_ARGS, **(default_args or {})}
    dags: dict[str, DAG] = {}
    owners: dict[str, str] = {}
    for pipe in loaded.pipelines.values():
        schedule = _schedule(pipe)
        if schedule is None:
            continue
        dag_id = dag_id_prefix + safe_name(pipe.name)
        if dag_id in owners:
            raise ConfigError(f"{found}: pipelines '{owners[dag_id]}' and '{pipe.name}' would both be "
                              f"the Airflow DAG '{dag_id}'; rename one of them")
        owners[dag_id] = pipe.name
        dags[dag_id] = _dag(dag_id, pipe, schedule, found, args, {"environment": chosen, **(task_kwargs or {})},
                            dag_kwargs)
    return dags


def _from_caller(path: Path, caller_file: str | None) -> Path:
    if path.is_absolute() or not caller_file:
        return path
    return Path(caller_file).resolve().parent / path


def _schedule(pipe: Pipeline) -> str | None:
    if not pipe.schedule:
        return None
    if pipe.schedule == "@reboot":
        _log.warning("pipeline '%s': schedule @reboot has no Airflow meaning; no DAG for it", pipe.name)
        return None
    return _PRESETS.get(pipe.schedule, pipe.schedule)


def _dag(dag_id: str, pipe: Pipeline, schedule: str, project: Path, default_args: dict[str, Any],
         task_kwargs: Mapping[str, Any], dag_kwargs: Mapping[str, Any]) -> DAG:
    settings: dict[str, Any] = {
        "schedule": schedule, "start_date": DEFAULT_START, "catchup": False, "max_active_runs": 1,
        "default_args": default_args, "tags": ["sluice"],
        "description": f"sluice run {pipe.name} ({project})",
        "doc_md": f"Runs `sluice --project {project} run {pipe.name}` in `{project.parent}` on `{pipe.schedule}`.",
        **dag_kwargs,
    }
    dag = DAG(dag_id, **settings)
    SluiceRunOperator(**{"task_id": "run", "pipeline": pipe.name, "project": str(project), "dag": dag,
                         **task_kwargs})
    return dag

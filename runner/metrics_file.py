"""A Prometheus textfile for node_exporter's textfile collector, on cron hosts.

It is rebuilt from the state store's run history after every run, so several pipelines
sharing one file never overwrite each other's lines, and written atomically (a temporary
file in the same directory, then rename) so node_exporter never reads half a file.

One series per pipeline and state id (labels ``pipeline`` and ``state_id``): the runs of a
pipeline in two environments (``-e prod``, ``-e dev``: state ids ``prod:p`` and ``dev:p``) or
under ``--state-id`` are reported apart, so a success in one never hides a failure in another.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from runner.stores.base import RunRecord

__all__ = ["render", "write_metrics_file"]

_METRICS = [
    ("sluice_last_run_success", "1 if the last run of the pipeline under the state id succeeded, else 0."),
    ("sluice_last_run_duration_seconds", "Duration of the last run of the pipeline under the state id."),
    ("sluice_last_run_records", "Records the target committed in the last run of the pipeline under the state id."),
    ("sluice_last_run_records_emitted", "Records the tap emitted in the last run of the pipeline under the state id."),
    ("sluice_last_run_timestamp_seconds", "Unix time at which the last run of the pipeline under the state id ended."),
]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _values(run: RunRecord) -> list[float]:
    return [
        1.0 if run.status == "succeeded" else 0.0,
        run.duration or 0.0,
        float(run.records_committed or 0),
        float(run.records_emitted or 0),
        run.ended_at or run.started_at,
    ]


def render(runs: list[RunRecord]) -> str:
    lines: list[str] = []
    values = {(run.pipeline, run.state_id): _values(run) for run in runs}
    for i, (metric, help_text) in enumerate(_METRICS):
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} gauge")
        for pipeline, state_id in sorted(values):
            labels = f'pipeline="{_label(pipeline)}",state_id="{_label(state_id)}"'
            lines.append(f"{metric}{{{labels}}} {values[pipeline, state_id][i]:.17g}")
    return "\n".join(lines) + "\n"


def write_metrics_file(path: Path, runs: list[RunRecord]) -> None:
    text = render(runs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

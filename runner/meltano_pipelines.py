"""Meltano ``jobs`` and ``schedules`` as pipelines of sluice.yml (``sluice import``).

- A job's task (``tap-x target-y``, several blocks in one task, a list of tasks) gives one pipeline
  per extractor-loader pair: named after the job (``JOB``, or ``JOB-2``, ... when it has several).
  A pair with a mapper between its ends is not converted (it would load unmapped data), nor are
  commands (``dbt:run``) and other plugins; each is reported.
- Every pipeline's ``state_id`` is ``TAP-to-TARGET``, the id Meltano's ``run`` keeps its bookmarks
  under (less the environment prefix), so pipelines that move the same pair share bookmarks as they
  do in Meltano, and with ``sluice run TAP TARGET``.
- A schedule of a job sets ``schedule:`` on the job's pipelines (a second schedule of one job gets
  copies of them, named after it); a schedule of an extractor and a loader becomes a pipeline named
  after the schedule (its bookmarks under its own name, as Meltano's ``elt`` schedules keep them).
  ``@once`` and ``@manual`` have no cron form: the pipeline is kept, unscheduled, and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from runner.meltano_project import MeltanoProject
from runner.meltano_report import Report

__all__ = ["Pipelines", "pipelines"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CRON = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly|reboot)|\S+(\s+\S+){4})$")


@dataclass
class Pipelines:
    items: list[dict[str, Any]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # where each came from, for a comment above it
    by_job: dict[str, list[int]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return {p["name"] for p in self.items}

    def add(self, pipe: dict[str, Any], origin: str) -> int:
        self.items.append(pipe)
        self.origins.append(origin)
        return len(self.items) - 1


def _name(text: str, used: set[str], report: Report, what: str) -> str:
    name = text if _NAME.match(text) else re.sub(r"[^A-Za-z0-9._-]", "-", text).lstrip("._-") or "pipeline"
    if name != text:
        report.notes.append(f"{what}: the name {text!r} is written {name!r} (letters, digits, '.', '_', '-')")
    base, n = name, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    return name


def _tokens(tasks: Any) -> list[list[str]]:
    """A job's tasks as token lists: a string is one task, a list holds tasks (strings or token lists)."""
    if isinstance(tasks, str):
        return [tasks.split()]
    out: list[list[str]] = []
    for task in tasks or []:
        if isinstance(task, str):
            out.append(task.split())
        elif isinstance(task, list):
            out.append([tok for part in task for tok in str(part).split()])
    return out


def _blocks(tokens: list[str], meltano: MeltanoProject, mappers: set[str],
            report: Report, where: str) -> list[tuple[str, str]]:
    """The extractor-loader pairs of a task that have nothing between them; the rest reported."""
    pairs: list[tuple[str, str]] = []
    tap: str | None = None
    between: list[str] = []
    for tok in tokens:
        plugin = meltano.plugins.get(tok)
        if plugin is not None and plugin.kind == "extractors":
            if tap is not None:
                report.skip(f"{where}: {tap}", "an extractor with no loader after it")
            tap, between = tok, []
        elif plugin is not None and plugin.kind == "loaders" and tap is not None:
            if between:
                report.skip(f"{where}: {tap} {' '.join(between)} {tok}",
                            f"mapper {', '.join(between)} is not converted; the pipeline would load unmapped data")
            else:
                pairs.append((tap, tok))
            tap, between = None, []
        elif tok in mappers and tap is not None:
            between.append(tok)
        else:
            kind = "a command" if ":" in tok else ("a mapper" if tok in mappers else "not an extractor-loader pair")
            report.skip(f"{where}: {tok}", f"{kind}; sluice runs extractor-loader pairs only")
    if tap is not None:
        report.skip(f"{where}: {tap}", "an extractor with no loader after it")
    return pairs


def _jobs(meltano: MeltanoProject, out: Pipelines, mappers: set[str], report: Report) -> None:
    for job in meltano.data.get("jobs") or []:
        if not isinstance(job, dict) or not job.get("name"):
            report.skip("jobs", f"an entry without a name ({job!r:.60})")
            continue
        pairs = [pair for i, tokens in enumerate(_tokens(job.get("tasks")), 1)
                 for pair in _blocks(tokens, meltano, mappers, report, f"job {job['name']} task {i}")]
        out.by_job[str(job["name"])] = []
        for n, (tap, target) in enumerate(pairs, 1):
            label = str(job["name"]) if len(pairs) == 1 else f"{job['name']}-{n}"
            name = _name(label, out.names(), report, f"job {job['name']}")
            index = out.add({"name": name, "tap": tap, "target": target, "state_id": f"{tap}-to-{target}"},
                            f"job {job['name']}: {tap} {target}")
            out.by_job[str(job["name"])].append(index)
            report.converted.append(f"job {job['name']}: {tap} {target} -> pipeline {name}")


def _cron(schedule: dict[str, Any], report: Report) -> str | None:
    interval = schedule.get("interval") or schedule.get("cron_interval")
    text = str(interval or "").strip()
    if text and _CRON.match(text):
        return text
    report.skip(f"schedule {schedule.get('name')}.interval {text or '(none)'}",
                "not a cron schedule (5 fields or @hourly, @daily, ...); the pipeline is kept without one")
    return None


def _job_schedule(schedule: dict[str, Any], cron: str | None, out: Pipelines, report: Report) -> None:
    job = str(schedule["job"])
    if job not in out.by_job:
        report.skip(f"schedule {schedule['name']}", f"its job '{job}' is not in meltano.yml")
        return
    if not out.by_job[job]:
        report.skip(f"schedule {schedule['name']}", f"its job '{job}' gave no pipeline (see above)")
        return
    for index in list(out.by_job[job]):
        pipe = out.items[index]
        if "schedule" not in pipe and cron is not None:
            pipe["schedule"] = cron
            out.origins[index] += f"; schedule {schedule['name']}"
            report.converted.append(f"schedule {schedule['name']}: {cron} on pipeline {pipe['name']}")
        elif cron is not None:  # a second schedule of one job: a copy of the pipeline, sharing its bookmarks
            name = _name(str(schedule["name"]), out.names(), report, f"schedule {schedule['name']}")
            out.add({**pipe, "name": name, "schedule": cron}, f"schedule {schedule['name']} (job {job})")
            report.converted.append(f"schedule {schedule['name']}: {cron} on pipeline {name} (a copy of "
                                    f"{pipe['name']})")


def _elt_schedule(schedule: dict[str, Any], cron: str | None, meltano: MeltanoProject, out: Pipelines,
                  report: Report) -> None:
    tap, target = str(schedule.get("extractor")), str(schedule.get("loader"))
    missing = [n for n, kind in ((tap, "extractors"), (target, "loaders"))
               if n not in meltano.plugins or meltano.plugins[n].kind != kind]
    if missing:
        report.skip(f"schedule {schedule['name']}", f"{', '.join(missing)}: not an extractor/loader of meltano.yml")
        return
    if schedule.get("transform") not in (None, "skip"):
        report.skip(f"schedule {schedule['name']}.transform {schedule['transform']}",
                    "transforms are not converted; the pipeline extracts and loads only")
    name = _name(str(schedule["name"]), out.names(), report, f"schedule {schedule['name']}")
    pipe: dict[str, Any] = {"name": name, "tap": tap, "target": target}
    if cron is not None:
        pipe["schedule"] = cron
    out.add(pipe, f"schedule {schedule['name']}: {tap} {target}")
    report.converted.append(f"schedule {schedule['name']}: {tap} {target} -> pipeline {name}"
                            + (f" ({cron})" if cron else ""))


def pipelines(meltano: MeltanoProject, report: Report) -> Pipelines:
    """The pipelines of a Meltano project's jobs and schedules."""
    mappers: set[str] = set()
    for mapper in (meltano.data.get("plugins") or {}).get("mappers") or []:
        if isinstance(mapper, dict):
            mappers.add(str(mapper.get("name")))
            mappers.update(str(m.get("name")) for m in mapper.get("mappings") or [] if isinstance(m, dict))
    out = Pipelines()
    _jobs(meltano, out, mappers, report)
    for schedule in meltano.data.get("schedules") or []:
        if not isinstance(schedule, dict) or not schedule.get("name"):
            report.skip("schedules", f"an entry without a name ({schedule!r:.60})")
            continue
        cron = _cron(schedule, report)
        for key in ("env", "start_date"):
            if schedule.get(key):
                report.skip(f"schedule {schedule['name']}.{key}", "pipelines have no such key")
        if schedule.get("job"):
            _job_schedule(schedule, cron, out, report)
        else:
            _elt_schedule(schedule, cron, meltano, out, report)
    return out

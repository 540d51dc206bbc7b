"""A pipeline whose tap is a target, or whose target is a tap (sluice.yml with the two swapped).

Run that way, the tap (a target) reads nothing and the target (a tap) ignores its input and prints
its own bookmarks, which a runner that took them for the target's would store: after the fix the
pipeline would start after rows that were never loaded. What a connector is comes from its
``--about`` capabilities (:func:`runner.connector_output.wrong_role`), the answers the other commands
cached (``.sluice/cache``): ``sluice validate`` lists each such pipeline with its line, ``sluice run``
refuses it (exit 2) before anything starts. Only a certain answer is judged: a connector without
``--about``, or whose ``--about`` lists no capabilities, is not; at run time a tap run as the target
is then caught by what it writes on stdout (runner/target_stdout.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ConfigError
from runner.connector_output import wrong_role
from runner.connectors import about

if TYPE_CHECKING:
    from runner.project import Pipeline, Project, ResolvedConnector

__all__ = ["pipeline_role_problems", "refuse_wrong_roles", "role_problems"]

SIDES = ("tap", "target")


def role_problems(pipeline: str, tap: ResolvedConnector, target: ResolvedConnector,
                  cache_dir: Path | None) -> dict[str, str]:
    """By side ("tap", "target"): why that connector cannot be the pipeline's, as ``--about`` says."""
    out: dict[str, str] = {}
    for side, conn in zip(SIDES, (tap, target), strict=True):
        info = about(conn, cache_dir)
        wrong = wrong_role(info, side)
        if wrong is not None:
            out[side] = f"pipeline '{pipeline}': '{conn.name}' ({_program(conn, info)}) is {wrong}"
    return out


def refuse_wrong_roles(pipeline: str, tap: ResolvedConnector, target: ResolvedConnector,
                       cache_dir: Path | None) -> None:
    """``sluice run``: a ConfigError (exit 2) when the tap or the target cannot play its part."""
    problems = list(role_problems(pipeline, tap, target, cache_dir).values())
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"pipeline '{pipeline}' not run (tap and target swapped?)", problems)


def pipeline_role_problems(project: Project, cache_dir: Path | None) -> list[str]:
    """``sluice validate``: each pipeline side that cannot play its part, as ``FILE:LINE: PLACE: text``."""
    if project.path is None:
        return []
    from runner.project_validate import _line_of
    from runner.yamlload import parse_project

    data, root = parse_project(project.path, project.path.read_text())
    out: list[str] = []
    for i, raw in enumerate(data.get("pipelines") or []):
        pipe = _pipeline(project, raw.get("name") if isinstance(raw, dict) else None)
        sides = _resolved(project, pipe)
        if pipe is None or sides is None:
            continue  # not run, or the resolve step of `validate` says why its connectors cannot be
        for side, text in role_problems(pipe.template or pipe.name, *sides, cache_dir).items():
            out.append(f"{project.path.name}:{_line_of(root, ['pipelines', i, side])}: pipelines[{i}].{side}: {text}")
    return out


def _pipeline(project: Project, name: Any) -> Pipeline | None:
    """The pipeline of that entry of the file as it runs (a for_each: one: its first tenant's)."""
    if not isinstance(name, str):
        return None
    stamped = project.templates.get(name)
    if stamped:
        return project.pipelines[stamped[0]]
    return project.pipelines.get(name) or project.disabled.get(name)


def _resolved(project: Project, pipe: Pipeline | None) -> tuple[ResolvedConnector, ResolvedConnector] | None:
    """The pipeline's tap and target, as programs to ask for ``--about`` (their config not needed)."""
    if pipe is None:
        return None
    try:
        return (project.resolve(project.connector_for(pipe, pipe.tap), with_config=False),
                project.resolve(project.connector_for(pipe, pipe.target), with_config=False))
    except ConfigError:
        return None


def _program(conn: ResolvedConnector, info: dict[str, Any] | None) -> str:
    """The program's own name (its --about's), else its executable's."""
    name = (info or {}).get("name")
    return name if isinstance(name, str) and name else Path(conn.argv[0]).name

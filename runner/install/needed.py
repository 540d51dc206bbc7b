"""Which connectors a ``sluice run`` starts, and the refusal of one whose environment is missing.
Light to import (no click, no installer): every run goes through it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.project import Project

__all__ = ["check_installed", "refuse_missing", "run_connectors"]


def run_connectors(project: Project, names: tuple[str, ...], all_: bool, maps: tuple[str, ...] = ()) -> list[str]:
    """The connectors ``sluice run`` would start: a pipeline's (with its mappers), an ad hoc pair
    (with its --map mappers), or every pipeline's."""
    if all_:
        pipes = list(project.pipelines.values())
    elif len(names) == 1 and names[0] in project.pipelines:
        pipes = [project.pipelines[names[0]]]
    elif len(names) == 1 and names[0] in project.templates:  # a pipeline with for_each: runs its tenants'
        pipes = [project.pipelines[name] for name in project.templates[names[0]]]
    else:
        return [*names, *maps] if len(names) == 2 else []
    return list(dict.fromkeys(n for p in pipes for n in (p.tap, *(step.mapper for step in p.maps), p.target)))


def check_installed(project: Project, names: list[str]) -> list[str]:
    """The connectors among ``names`` that have a pip_url and are not installed (none without a pip_url:
    the installer's modules are then not even imported)."""
    if not any((conn := project.connectors.get(name)) is not None and conn.pip_url for name in names):
        return []
    from runner.install.envs import require_installed

    return require_installed(project, names)


def refuse_missing(missing: list[str]) -> None:
    """The one error line of a run whose connectors ``missing`` are not installed (none: nothing)."""
    if missing:
        from runner.install.envs import missing_error

        raise missing_error(missing)

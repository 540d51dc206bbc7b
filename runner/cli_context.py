"""What every ``sluice`` command shares: the project, loaded on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.project import Project

__all__ = ["Ctx"]


class Ctx:
    def __init__(self, project_arg: str | None) -> None:
        self.project_arg = project_arg
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            from runner.project import find_project, load_project

            self._project = load_project(find_project(self.project_arg))
        return self._project

    def base_args(self) -> list[str]:
        p = self.project
        return ["--project", str(p.path.resolve())] if p.path else []

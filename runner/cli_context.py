"""What every ``sluice`` command shares: the project, loaded on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.project import Project
    from runner.stores import StateStore

__all__ = ["INSTALL_HELP", "Ctx", "when"]

INSTALL_HELP = "Install a connector with a pip_url that is not installed (default: fail, naming `sluice install`)."


class Ctx:
    def __init__(self, project_arg: str | None, environment: str | None = None) -> None:
        self.project_arg = project_arg
        self.environment = environment  # --environment (None: SLUICE_ENVIRONMENT or the file's default)
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            from runner.project import find_project, load_project

            self._project = load_project(find_project(self.project_arg), self.environment)
        return self._project

    def base_args(self) -> list[str]:
        """The options that give a child ``sluice`` this project, in this environment."""
        p = self.project
        env = ["--environment", p.environment.name] if p.environment else []
        return ["--project", str(p.path.resolve()), *env] if p.path else []

    def open_store(self) -> StateStore:
        """The project's state store (``SLUICE_STATE_URL`` or ``state_store:``), opened."""
        from runner.stores import lock_timeout, open_store

        url, _ = self.project.state_store_url()
        return open_store(url, self.project.dir, lock_timeout(self.project.lock_timeout))

    def state_id(self, name: str) -> str:
        """The state id of pipeline ``name``; any other name is taken as a state id."""
        pipe = self.project.pipelines.get(name) or self.project.disabled.get(name)
        return pipe.state_id if pipe else name


def when(ts: float | None) -> str:
    """A store time as the CLI shows it (local time), "-" for none."""
    import time

    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

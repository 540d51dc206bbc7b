"""What every ``sluice`` command shares: the project, loaded on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from runner.project import Project
    from runner.stores import StateStore

__all__ = ["ENVIRONMENT_HELP", "INSTALL_HELP", "Ctx", "environment_option", "when"]

F = TypeVar("F", bound=Callable[..., Any])

INSTALL_HELP = "Install a connector with a pip_url that is not installed (default: fail, naming `sluice install`)."
ENVIRONMENT_HELP = ("The environment of sluice.yml (environments:) laid over the project "
                    "(default: $SLUICE_ENVIRONMENT, else default_environment:, else none).")


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


def environment_option(command: F) -> F:
    """``-e/--environment NAME`` on a command that reads the project (as after ``sluice`` itself)."""
    import click

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            obj = ctx.find_object(Ctx)
            if obj is not None:
                obj.environment = value

    option = click.option("-e", "--environment", metavar="NAME", expose_value=False, is_eager=True,
                          callback=remember, help=ENVIRONMENT_HELP)
    return option(command)


def when(ts: float | None) -> str:
    """A store time as the CLI shows it (local time), "-" for none."""
    import time

    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

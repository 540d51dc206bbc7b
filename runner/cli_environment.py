"""``-e/--environment NAME``: the option of every command that reads the project (runner/environments.py).

Kept out of runner.cli_context, which the click-free ``sluice run PIPELINE`` imports too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from runner.cli_context import Ctx

__all__ = ["ENVIRONMENT_HELP", "environment_option"]

F = TypeVar("F", bound=Callable[..., Any])

ENVIRONMENT_HELP = ("The environment of sluice.yml (environments:) laid over the project "
                    "(default: $SLUICE_ENVIRONMENT, else default_environment:, else none).")


def environment_option(command: F) -> F:
    """``-e/--environment NAME`` on a command that reads the project (as after ``sluice`` itself)."""
    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            obj = ctx.find_object(Ctx)
            if obj is not None:
                obj.environment = value

    option = click.option("-e", "--environment", metavar="NAME", expose_value=False, is_eager=True,
                          callback=remember, help=ENVIRONMENT_HELP)
    return option(command)

"""Every option of every ``sluice`` command says what it does in --help (durations with their unit)."""

from __future__ import annotations

from collections.abc import Iterator

import click

from runner.cli import cli


def _options(command: click.Command, path: str, ctx: click.Context) -> Iterator[tuple[str, click.Option]]:
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _options(sub, f"{path} {name}", ctx)
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            yield path, param


def test_every_option_has_a_help_text() -> None:
    options = list(_options(cli, "sluice", click.Context(cli)))
    assert any(path == "sluice check" for path, _ in options)  # the lazily imported commands are reached
    assert [f"{path} {'/'.join(o.opts)}" for path, o in options if not (o.help or "").strip()] == []
    timeouts = [(path, o.help or "") for path, o in options if "--timeout" in o.opts]
    assert len(timeouts) >= 3
    assert [path for path, text in timeouts if "second" not in text.lower()] == []

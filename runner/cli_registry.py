"""``sluice add`` and ``sluice search``: connectors from the registry (``runner/registry.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from protocol import ExitCode
from runner.cli_context import Ctx

if TYPE_CHECKING:
    from runner.registry import Entry

__all__ = ["add", "search"]

REGISTRY_HELP = ("The registry is the file shipped with sluice, or the files SLUICE_REGISTRY lists "
                 "(separated by ':'; 'builtin' is the shipped one). See docs/registry.md.")


def _project_file(project_arg: str | None) -> Path:
    """The sluice.yml to edit; unlike other commands, one that does not exist yet is created."""
    from runner.project import PROJECT_FILES

    base = Path(project_arg) if project_arg else Path.cwd()
    if project_arg and not base.is_dir():
        return base
    for name in PROJECT_FILES:
        if (base / name).exists():
            return base / name
    return base / PROJECT_FILES[0]


def _entry_dict(name: str, entry: Entry | None, pip_url: str | None, executable: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "executable": executable or (entry.executable if entry else name)}
    spec = pip_url if pip_url is not None else (entry.pip_url if entry else None)
    if spec:
        out["pip_url"] = list(spec) if isinstance(spec, tuple) else spec
    config = entry.skeleton(name) if entry else {}
    if config:
        out["config"] = config
    return out


@click.command(epilog=REGISTRY_HELP)
@click.argument("name")
@click.option("--as", "as_name", metavar="NAME", help="The connector's name in sluice.yml (default: NAME); "
              "to add the same connector twice.")
@click.option("--variant", metavar="VARIANT",
              help="Which variant of NAME (default: the registry's default; see sluice search NAME).")
@click.option("--pip-url", metavar="SPEC", help="What sluice install installs (requirement specs separated by "
              "spaces, a git URL or a path). Required for a NAME the registry does not know; overrides its "
              "pip_url otherwise.")
@click.option("--executable", metavar="PROGRAM", help="The program (default: the registry's, or NAME).")
@click.pass_obj
def add(obj: Ctx, name: str, as_name: str | None, variant: str | None, pip_url: str | None,
        executable: str | None) -> int:
    """Add connector NAME from the registry to sluice.yml.

    Writes its executable, its pip_url (for sluice install) and a config with its required settings.
    Secret settings (and settings with no usual value) are written as ${NAME_SETTING} references to
    environment variables, never as values; the command lists the variables to set. For a
    connector the registry does not know, give --pip-url (the executable is NAME unless
    --executable says otherwise). Comments and layout of sluice.yml are kept; a file that does
    not exist is created. A name already in sluice.yml is refused: use --as OTHER_NAME.
    """
    from runner.project_add import add_connector
    from runner.registry import load_registry

    target = as_name or name
    registry = load_registry()
    known = pip_url is None or variant is not None or name in registry.by_name
    entry = registry.get(name, variant) if known else None  # unknown without --pip-url: an error with a hint
    path = _project_file(obj.project_arg)
    data = _entry_dict(target, entry, pip_url, executable)
    comment = f"{entry.name} ({entry.variant}): {entry.description}" if entry else ""
    add_connector(path, data, comment)
    what = f"{entry.kind} {entry.name} ({entry.variant})" if entry else name
    click.echo(f"sluice: added {what} to {path} as '{target}'", err=True)
    if "pip_url" in data:
        click.echo(f"sluice: install it with: sluice install {target}", err=True)
    variables = entry.env_vars(target) if entry else []
    if variables:
        click.echo(f"sluice: set before a run: {' '.join(variables)}", err=True)
    return ExitCode.OK


@click.command(epilog=REGISTRY_HELP)
@click.argument("word", required=False)
def search(word: str | None) -> int:
    """Find connectors in the registry (all of them without WORD).

    Lists the entries whose name, variant, keywords or description contain WORD, one
    per line: name, kind, variant, description, separated by tabs; the default variant of
    a name comes first. Exit 1 when nothing matches.
    """
    from runner.registry import load_registry

    registry = load_registry()
    found = registry.search(word)
    if not found:
        click.echo(f"sluice: no connector in the registry matches '{word}' ({', '.join(registry.sources)}); "
                   "add any Singer connector with: sluice add NAME --pip-url SPEC", err=True)
        return ExitCode.FAILED
    for entry in found:
        click.echo(f"{entry.name}\t{entry.kind}\t{entry.variant}\t{entry.description}")
    return ExitCode.OK

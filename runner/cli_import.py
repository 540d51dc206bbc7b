"""``sluice import meltano.yml``: migrate a Meltano project (runner.meltano_import)."""

from __future__ import annotations

from pathlib import Path

import click

from protocol import ExitCode
from runner.cli_context import Ctx

__all__ = ["import_command"]


@click.command("import")
@click.argument("meltano_yml", default="meltano.yml", type=click.Path(dir_okay=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write sluice.yml (default: beside meltano.yml).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option("-e", "--environment", metavar="NAME",
              help="The Meltano environment whose config overlay is applied (default: the project's "
                   "default_environment; '' for none). `sluice -e NAME import` means the same.")
@click.option("--dry-run", is_flag=True, help="Print the sluice.yml on stdout instead of writing it.")
@click.pass_obj
def import_command(obj: Ctx, meltano_yml: Path, output: Path | None, force: bool, environment: str | None,
                   dry_run: bool) -> int:
    """Convert a Meltano project (MELTANO_YML, default ./meltano.yml) into a sluice.yml.

    Extractors and loaders become connectors (executable, pip_url, config with $VAR as ${VAR},
    select and metadata as a metadata: block, env); jobs and schedules become pipelines. A secret
    in meltano.yml (a password-kind or sensitive setting, a credential-like name, a password in a
    URL) is never written: the file references the variable Meltano reads it from
    (TAP_X_PASSWORD) instead. The report on stderr lists what was converted, what was not and why,
    and the environment variables to set. A setting the project's .env sets (Meltano's
    TAP_X_SETTING names) is written as a ${VAR} reference over meltano.yml's value; .env values are
    never copied into sluice.yml. meltano.yml is read by YAML 1.2's rules, as Meltano reads it.
    See docs/import-meltano.md.
    """
    from runner.meltano_import import import_meltano, write_import

    source = meltano_yml / "meltano.yml" if meltano_yml.is_dir() else meltano_yml
    target = output if output is not None else source.parent / "sluice.yml"
    result = import_meltano(source, target.parent, _meltano_environment(environment, obj.environment))
    if dry_run:
        click.echo(result.text, nl=False)
    else:
        write_import(result, target, force)
    for line in result.report.lines():
        click.echo(f"sluice import: {line}", err=True)
    if not dry_run:
        click.echo(f"sluice import: wrote {target}; next: sluice -p {target} validate", err=True)
    return ExitCode.OK


def _meltano_environment(own: str | None, global_option: str | None) -> str | None:
    """The Meltano environment to apply: ``import -e NAME`` or ``sluice -e NAME import`` (the same name if
    both are given). SLUICE_ENVIRONMENT, which names an environment of sluice.yml, is not read."""
    if own is not None and global_option is not None and own != global_option:
        raise click.UsageError(f"two environments given: '{global_option}' (sluice -e) and '{own}' (import -e); "
                               "give one")
    return own if own is not None else global_option

"""``sluice install``: build the environment of every connector that has a ``pip_url``, and ``sluice.lock``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from protocol import ConfigError, ExitCode, plural
from runner.cli_context import Ctx
from runner.cli_environment import environment_option

if TYPE_CHECKING:
    from runner.install.jobs import Mode, Outcome
    from runner.install.lockfile import LockEntry

__all__ = ["ensure_installed", "install", "lock_problems"]


@click.command(epilog="Exit codes: 0 every connector installed or up to date; 1 one or more failed (each is "
                      "reported); 2 a usage or project-file problem, or a damaged sluice.lock with --frozen. "
                      "See docs/install.md.")
@click.argument("connectors", nargs=-1, metavar="[CONNECTOR]...")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Connectors installed at once.")
@click.option("--force", is_flag=True, help="Rebuild the environments even when they are up to date.")
@click.option("--frozen", is_flag=True,
              help="Install exactly what sluice.lock lists (hashes checked); fail when it cannot. The lock is not "
                   "changed.")
@click.option("-U", "--upgrade", is_flag=True,
              help="Resolve the pip_url afresh (newest versions it allows) instead of installing what sluice.lock "
                   "lists, and re-lock.")
@environment_option
@click.pass_obj
def install(obj: Ctx, connectors: tuple[str, ...], jobs: int, force: bool, frozen: bool, upgrade: bool) -> int:
    """Install the connectors that have a pip_url (default: all of them), each into its own
    virtual environment under .sluice/venvs/ in the project directory, and record what was
    resolved in sluice.lock next to sluice.yml.

    An environment is rebuilt only when the connector's pip_url or python changed (or with
    --force). A connector whose sluice.lock entry was made for its pip_url gets exactly the
    versions listed there (--upgrade resolves afresh); the others are resolved and added to the
    lock. A failing connector is reported with the end of its installer's output while the
    others finish, and the command then exits 1. Installs use uv when it is available
    (SLUICE_INSTALLER=pip forces python -m venv + pip).
    """
    from runner.install.jobs import Mode

    if frozen and upgrade:
        raise click.UsageError("--frozen and --upgrade contradict each other")
    project = obj.project
    names = _names(obj, connectors)
    if not names:
        click.echo("sluice: no connector declares a pip_url: nothing to install", err=True)
        return ExitCode.OK
    from runner.install.exclusive import one_install

    with one_install(project.dir):
        outcomes = run_installs(obj, names, jobs=jobs, mode=Mode(force, frozen, upgrade))
        if project.path is not None and not frozen:
            _update_lock(obj, outcomes)
    failed = [o for o in outcomes if o.failed]
    for o in failed:
        click.echo(f"sluice: {o.name}: install failed: {o.message}", err=True)
        for line in o.tail:
            click.echo(f"  | {line}", err=True)
        if o.log:
            click.echo(f"  (the installer's whole output: {o.log})", err=True)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("installed", "up to date", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    click.echo(f"sluice: {plural(len(outcomes), 'connector')}: {summary}", err=True)
    return ExitCode.FAILED if failed else ExitCode.OK


def _names(obj: Ctx, connectors: tuple[str, ...]) -> list[str]:
    project = obj.project
    if project.path is None:
        raise ConfigError(project.missing())
    with_pip = [n for n, c in project.connectors.items() if c.pip_url]
    if not connectors:
        return with_pip
    problems = [f"connector '{n}' has no pip_url: nothing to install" if n in project.connectors
                else f"no connector named '{n}'" for n in connectors if n not in with_pip]
    if problems:
        raise ConfigError(f"{project.where}: cannot install", problems)
    return list(dict.fromkeys(connectors))


def run_installs(obj: Ctx, names: list[str], *, jobs: int, mode: Mode) -> list[Outcome]:
    from runner.install.builder import find_installer
    from runner.install.envs import connector_env
    from runner.install.jobs import install_envs
    from runner.install.progress import Progress

    project = obj.project
    lock = _read_lock(obj, strict=mode.frozen)
    envs = [connector_env(project, project.connectors[n]) for n in names]
    installer = find_installer()
    progress = Progress(names, sys.stderr, sys.stderr.isatty())
    try:
        return install_envs(envs, installer, jobs=jobs, mode=mode, lock=lock, report=progress)
    finally:
        progress.close()


def _read_lock(obj: Ctx, *, strict: bool) -> dict[str, LockEntry]:
    """sluice.lock's entries. ``strict`` (--frozen): it must exist and be intact; otherwise a damaged
    lock is ignored with a warning (the install resolves afresh and writes it anew)."""
    from runner.install.lockfile import LOCK_FILE, read_lock

    path = obj.project.dir / LOCK_FILE
    if not strict:
        try:
            return read_lock(path) or {}
        except ConfigError as exc:
            click.echo(f"sluice: warning: {exc}; resolving afresh", err=True)
            return {}
    lock = read_lock(path)
    if lock is None:
        raise ConfigError(f"--frozen: no {LOCK_FILE} in {obj.project.dir} (run `sluice install` to write it)")
    return lock


def _update_lock(obj: Ctx, outcomes: list[Outcome]) -> None:
    from runner.install.lockfile import LOCK_FILE, read_lock, write_lock

    project = obj.project
    path = project.dir / LOCK_FILE
    try:
        entries = read_lock(path) or {}
    except ConfigError:  # damaged: said once already, when the install read it
        entries = {}
    old = dict(entries)
    for o in outcomes:
        if o.entry is not None:
            entries[o.name] = o.entry
    entries = {n: e for n, e in entries.items() if n in project.connectors and project.connectors[n].pip_url}
    if entries != old or not path.exists():
        write_lock(path, entries)
        click.echo(f"sluice: {path.name} written", err=True)


def ensure_installed(obj: Ctx, names: list[str], install_missing: bool) -> None:
    """Before a run: the connectors among ``names`` with a pip_url must be installed. Without
    ``install_missing`` a missing one is one error line naming the command; with it, it is installed."""
    from runner.install.needed import check_installed, refuse_missing

    missing = check_installed(obj.project, names)
    if not missing:
        return
    if not install_missing:
        refuse_missing(missing)
    from runner.install.exclusive import one_install
    from runner.install.jobs import Mode

    with one_install(obj.project.dir):
        missing = check_installed(obj.project, names)  # another install may have built them meanwhile
        if not missing:
            return
        outcomes = run_installs(obj, missing, jobs=len(missing), mode=Mode())
        failed = [o for o in outcomes if o.failed]
        if failed:
            from protocol import SluiceError

            lines = [f"{o.name}: {o.message}" + (f" ({o.tail[-1]})" if o.tail else "") for o in failed]
            raise SluiceError("install failed: " + "; ".join(lines))
        _update_lock(obj, outcomes)


def lock_problems(obj: Ctx) -> list[str]:
    """For ``sluice validate``: connectors whose environment differs from sluice.lock or from their pip_url."""
    from runner.install.envs import connector_env, installed_distributions, read_marker
    from runner.install.lockfile import LOCK_FILE, entry_problems, read_lock

    project = obj.project
    try:
        lock = read_lock(project.dir / LOCK_FILE) or {}
    except ConfigError as exc:
        return [str(exc)]
    problems: list[str] = []
    for name, conn in project.connectors.items():
        if not conn.pip_url:
            continue
        env, locked = connector_env(project, conn), lock.get(name)
        if locked is not None and locked.pip_url != conn.pip_url:
            problems.append(f"{name}: sluice.lock was made for pip_url '{' '.join(locked.pip_url)}', "
                            f"sluice.yml says '{' '.join(conn.pip_url)}' (run `sluice install {name}`)")
        elif locked is not None:
            problems.extend(f"{name}: sluice.lock: {problem} (run `sluice install --upgrade {name}`)"
                            for problem in entry_problems(locked))
        marker = read_marker(env.home)
        if marker is None:
            continue  # not installed: resolve() reports it
        if marker.get("pip_url") != list(conn.pip_url):
            problems.append(f"{name}: installed from pip_url '{' '.join(marker.get('pip_url') or [])}', "
                            f"sluice.yml says '{' '.join(conn.pip_url)}' (run `sluice install {name}`)")
        elif locked is not None:
            have = installed_distributions(env.home, frozenset(locked.versions()))
            diff = [f"{d} {locked.versions().get(d, 'absent')} in the lock, {have.get(d, 'absent')} installed"
                    for d in sorted(set(have) | set(locked.versions())) if have.get(d) != locked.versions().get(d)]
            if diff:
                problems.append(f"{name}: environment differs from sluice.lock: {'; '.join(diff[:5])} "
                                f"(run `sluice install --frozen {name}`)")
    return problems

"""Install many connectors at once: ``-j N`` builds in parallel, each failure kept to its connector.

A connector whose environment is current (same pip_url and interpreter, see envs.py) is left as it
is unless ``force``; with ``--frozen`` it must also hold what the lock lists. A connector that is
built gets what sluice.lock lists for it when its entry was made for the same pip_url (so a fresh
checkout installs what was locked, with no resolution), else what its pip_url resolves to now; a lock
entry that cannot be checked (lockfile.entry_problems) is refused first. A build that fails leaves no
environment behind (so the connector counts as not installed), or the one it was replacing put back,
its installer's whole output in ``.sluice/venvs/NAME.log`` and the last lines of it in the :class:`Outcome`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runner.install.builder import Installer, InstallFailed, write_marker
from runner.install.envs import ConnectorEnv, installed_distributions, read_marker
from runner.install.lockfile import LockEntry, entry_problems
from runner.install.startcheck import check_starts

__all__ = ["Mode", "Outcome", "install_envs"]

TAIL_LINES = 15
Report = Callable[[str, str], None]  # (connector, what it is doing now)


@dataclass
class Outcome:
    name: str
    status: str  # "installed", "up to date" or "failed"
    seconds: float = 0.0
    entry: LockEntry | None = None
    message: str = ""
    tail: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def _marker_entry(env: ConnectorEnv) -> LockEntry | None:
    marker = read_marker(env.home)
    if marker is None or "entry" not in marker:
        return None
    try:
        return LockEntry.from_dict(marker["entry"], str(env.marker))
    except ValueError:
        return None


def _installed(env: ConnectorEnv, locked: LockEntry) -> dict[str, str]:
    return installed_distributions(env.home, frozenset(locked.versions()))


def _frozen_problem(env: ConnectorEnv, locked: LockEntry | None) -> str:
    if locked is None:
        return "not in sluice.lock (run `sluice install` without --frozen to add it)"
    if locked.pip_url != env.specs:
        return (f"sluice.lock was made for pip_url '{' '.join(locked.pip_url)}', sluice.yml now says "
                f"'{' '.join(env.specs)}' (run `sluice install` without --frozen to re-lock)")
    return ""


def _refused(env: ConnectorEnv, locked: LockEntry | None) -> str:
    """Why the lock entry that would be installed cannot be trusted ('' when it can, or there is none)."""
    problems = entry_problems(locked) if locked is not None else []
    if not problems:
        return ""
    return (f"sluice.lock's entry is refused: {'; '.join(problems)} "
            f"(re-lock it: `sluice install --upgrade {env.name}`)")


@dataclass(frozen=True)
class Mode:
    force: bool = False  # rebuild environments that are up to date
    frozen: bool = False  # only from the lock; fail when it cannot
    upgrade: bool = False  # resolve afresh, whatever the lock says


def _install_one(env: ConnectorEnv, installer: Installer, mode: Mode, locked: LockEntry | None,
                 report: Report) -> Outcome:
    started = time.monotonic()
    if mode.frozen and (problem := _frozen_problem(env, locked)):
        return Outcome(env.name, "failed", message=problem)
    usable = locked if locked is not None and locked.pip_url == env.specs and not mode.upgrade else None
    if mode.frozen and (refused := _refused(env, usable)):
        return Outcome(env.name, "failed", message=refused)
    if not mode.force and env.current():
        entry = _marker_entry(env)
        # with --frozen, what is really there (a hand-made change too) must be what the lock lists
        if entry is not None and not (mode.frozen and locked and _installed(env, locked) != locked.versions()):
            report(env.name, "up to date")
            return Outcome(env.name, "up to date", time.monotonic() - started, entry)
    log: list[str] = []
    log_path = env.home.parent / f"{env.name}.log"
    if refused := _refused(env, usable):
        return Outcome(env.name, "failed", message=refused)
    previous = None
    try:
        previous = _set_aside(env)
        entry = _build(env, installer, usable, mode.frozen, lambda text: report(env.name, text), log)
    except (InstallFailed, OSError) as exc:
        shutil.rmtree(env.home, ignore_errors=True)
        if previous is not None:  # the environment that worked before works on
            previous.rename(env.home)
        output = getattr(exc, "output", "") or ""
        _write_log(log_path, log)
        report(env.name, "failed")
        return Outcome(env.name, "failed", time.monotonic() - started, message=str(exc),
                       tail=[ln for ln in output.splitlines() if ln.strip()][-TAIL_LINES:],
                       log=log_path if any(log) else None)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    _write_log(log_path, log)
    seconds = time.monotonic() - started
    report(env.name, f"installed ({len(entry.distributions)} distributions, {seconds:.1f} s)")
    return Outcome(env.name, "installed", seconds, entry, log=log_path)


def _set_aside(env: ConnectorEnv) -> Path | None:
    """An installed environment about to be rebuilt, moved next to where it was (``.NAME.previous``)
    until the new one is built: a failed rebuild puts it back. (Built elsewhere and moved, a new
    environment would not work: its programs name their interpreter by its absolute path.)"""
    if read_marker(env.home) is None:
        return None
    aside = env.home.parent / f".{env.name}.previous"
    shutil.rmtree(aside, ignore_errors=True)
    env.home.rename(aside)
    return aside


def _build(env: ConnectorEnv, installer: Installer, locked: LockEntry | None, frozen: bool,
           step: Callable[[str], None], log: list[str]) -> LockEntry:
    """A new environment: exactly as ``locked`` lists when given (and made with the same Python
    minor version; else, unless ``frozen``, resolved afresh), or resolved from the pip_url."""
    step("creating the environment")
    installer.create(env, log)
    if locked is not None:
        version = installer.python_version(env)
        if version == locked.python:
            entry = installer.install_locked(env, locked, step, log)
        elif frozen:
            raise InstallFailed(f"sluice.lock was made with Python {locked.python}; "
                                f"this environment's python is {version}")
        else:
            entry = installer.resolve_and_install(env, step, log)
    else:
        entry = installer.resolve_and_install(env, step, log)
    step("starting it once")
    check_starts(env, log)
    write_marker(env, entry, installer.name)
    return entry


def _write_log(path: Path, log: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(log) + "\n")
    except OSError:
        return


def install_envs(envs: list[ConnectorEnv], installer: Installer, *, jobs: int, mode: Mode,
                 lock: dict[str, LockEntry], report: Report) -> list[Outcome]:
    """Install every environment of ``envs``, ``jobs`` at a time. A connector whose ``lock`` entry
    was made for its pip_url gets exactly that (unless ``mode.upgrade``); with ``mode.frozen``, only
    that. The outcomes are in the order of ``envs``."""
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="sluice-install") as pool:
        futures = [pool.submit(_install_one, env, installer, mode, lock.get(env.name), report) for env in envs]
        return [f.result() for f in futures]

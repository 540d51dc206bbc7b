"""Build one connector's environment, with uv or with ``python -m venv`` + pip.

uv (``SLUICE_INSTALLER=uv``, or by default when it is installed: it is a dependency of sluice)
installs the pip_url with ``uv pip install``, then takes the hashes of what it installed from
``uv pip compile --no-deps --generate-hashes`` of the pins;
pip (``SLUICE_INSTALLER=pip``, or when uv is missing) installs the pip_url with ``--report``, which
names every distribution it installed with the hash of the file it took. Either way the result is
the connector's :class:`LockEntry`; ``install_locked`` installs one back exactly (``--no-deps``,
``--require-hashes`` for every distribution that has hashes) and checks what landed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from protocol import SluiceError
from runner.install.envs import (
    MARKER,
    ConnectorEnv,
    direct_requirements,
    installed_distributions,
    local_requirement,
    normalize,
    record_seeded,
    site_packages,
)
from runner.install.lockfile import Distribution, LockEntry

__all__ = ["InstallFailed", "Installer", "find_installer", "parse_compiled", "write_marker"]

#: the setuptools a uv environment is seeded with: the last releases that still have ``pkg_resources``
SEED_SETUPTOOLS = "setuptools<81"
Step = Callable[[str], None]  # told what the build is doing now ("resolving", "installing")


class InstallFailed(SluiceError):
    """One connector's environment could not be built; ``output`` is what the installer said."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def _uv_binary() -> str | None:
    try:
        from uv import find_uv_bin  # the uv distribution on PyPI ships the binary and this finder
    except ImportError:
        return shutil.which("uv")
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return shutil.which("uv")


def find_installer() -> Installer:
    """uv when available (or asked for with SLUICE_INSTALLER=uv), else pip."""
    wanted = os.environ.get("SLUICE_INSTALLER", "").strip().lower()
    if wanted not in ("", "uv", "pip"):
        from protocol import ConfigError

        raise ConfigError(f"SLUICE_INSTALLER must be uv or pip, not {wanted!r}")
    uv = _uv_binary() if wanted != "pip" else None
    if wanted == "uv" and uv is None:
        from protocol import ConfigError

        raise ConfigError("SLUICE_INSTALLER=uv but no uv program was found (pip install uv)")
    return Installer(uv)


def _spec_lines(specs: tuple[str, ...]) -> list[str]:
    """pip_url tokens as requirement lines: ``-e PATH`` stays one line."""
    lines: list[str] = []
    for spec in specs:
        if lines and lines[-1] in ("-e", "--editable"):
            lines[-1] = f"-e {spec}"
        else:
            lines.append(spec)
    return lines


def _line_name(requirement: str) -> str:
    """The distribution a pinned requirement line names ('' for a bare path or URL)."""
    head = requirement.split(";", 1)[0].strip()
    for sep in (" @ ", "==="):
        if sep in head:
            return normalize(head.split(sep, 1)[0].split("[", 1)[0].strip())
    if "==" in head and not head.startswith(("-", ".", "/")):
        return normalize(head.split("==", 1)[0].split("[", 1)[0].strip())
    return ""


def parse_compiled(text: str) -> list[Distribution]:
    """The lines of ``uv pip compile --generate-hashes`` output: requirement, hashes."""
    joined = text.replace("\\\n", " ")
    found: list[Distribution] = []
    for raw in joined.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(" --hash=")
        requirement, hashes = parts[0].strip(), tuple(h.strip() for h in parts[1:])
        name = _line_name(requirement)
        version = requirement.split("==", 1)[1].split(";", 1)[0].strip() if name and "==" in requirement else ""
        found.append(Distribution(name, version, requirement, hashes))
    return found


class Installer:
    """One way of building environments: uv at ``uv``, or pip when ``uv`` is None."""

    def __init__(self, uv: str | None) -> None:
        self.uv = uv
        self.name = "uv" if uv else "pip"

    # -- steps ----------------------------------------------------------------------------
    def _run(self, env: ConnectorEnv, argv: list[str], what: str, log: list[str], stdin: str | None = None) -> str:
        started = time.monotonic()
        done = subprocess.run(argv, cwd=env.cwd, input=stdin, capture_output=True, text=True, check=False,
                              env=_installer_environ())
        log.append(f"$ {' '.join(argv)}  ({time.monotonic() - started:.1f} s, exit {done.returncode})")
        output = "\n".join(ln for ln in (done.stderr + done.stdout).splitlines() if "is ignored: it is" not in ln)
        log.append(output)
        if done.returncode:
            raise InstallFailed(f"{what} failed (exit {done.returncode})", output)
        return done.stdout

    def _run_cached_first(self, env: ConnectorEnv, argv: list[str], what: str, log: list[str],
                          stdin: str | None = None, again: Callable[[], None] | None = None) -> str:
        """uv: first from the local cache alone (``--offline``: no index round trips, the most of a
        cold install's time when every file is cached), and only when something is missing there,
        again asking the index, after ``again()`` undid the first try. pip has no such mode: one call."""
        if not self.uv:
            return self._run(env, argv, what, log, stdin)
        try:
            return self._run(env, [*argv, "--offline"], what, log, stdin)
        except InstallFailed:
            log.append("(not everything is in uv's cache: asking the package index)")
            if again is not None:
                again()
            return self._run(env, argv, what, log, stdin)

    def create(self, env: ConnectorEnv, log: list[str]) -> None:
        """A fresh, empty environment at ``env.home`` (any old one is removed first)."""
        if env.python is None:
            raise InstallFailed(f"the interpreter '{env.python_asked}' was not found (python: in sluice.yml names "
                                "a program on PATH or a path to one)")
        shutil.rmtree(env.home, ignore_errors=True)
        env.home.parent.mkdir(parents=True, exist_ok=True)
        if self.uv:  # --seed: pip and setuptools too, as `python -m venv` gives (old taps import pkg_resources)
            self._run_cached_first(env, [self.uv, "venv", "--quiet", "--seed", "--python", env.python,
                                         str(env.home)], "creating the environment", log,
                                   again=lambda: shutil.rmtree(env.home, ignore_errors=True))
            self._seed_pkg_resources(self.uv, env, log)
        else:
            self._run(env, [env.python, "-m", "venv", str(env.home)], "creating the environment", log)
        record_seeded(env.home)

    def _seed_pkg_resources(self, uv: str, env: ConnectorEnv, log: list[str]) -> None:
        """uv seeds the newest setuptools, which since version 81 has no ``pkg_resources``: one that
        still has it (older connectors import it) replaces it. When the index has none, the
        environment keeps what it has (the connector's start-up check tells whether it matters)."""
        if any((folder / "pkg_resources" / "__init__.py").is_file() for folder in site_packages(env.home)):
            return
        try:
            self._run_cached_first(env, [uv, "pip", "install", "--quiet", "--python", str(env.bin / "python"),
                                         SEED_SETUPTOOLS], f"seeding {SEED_SETUPTOOLS}", log)
        except InstallFailed as exc:
            log.append(f"({exc}: the environment keeps the setuptools it was seeded with)")

    def python_version(self, env: ConnectorEnv) -> str:
        """major.minor of the environment's interpreter, from its pyvenv.cfg."""
        try:
            text = (env.home / "pyvenv.cfg").read_text()
        except OSError:
            return ""
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                return ".".join(value.strip().split(".")[:2])
        return ""

    def resolve_and_install(self, env: ConnectorEnv, step: Step, log: list[str]) -> LockEntry:
        """Install the pip_url afresh; what was installed, as a lock entry."""
        py = str(env.bin / "python")
        if self.uv:  # one resolution and build, as `uv pip install` does; then the hashes of what it chose
            step("installing")
            self._run(env, [self.uv, "pip", "install", "--python", py, *_spec_lines_argv(env.specs)],
                      "uv pip install", log)
            step("locking")
            dists = self._hashes_of_installed(self.uv, env, log)
        else:
            step("installing")
            report = env.home / "sluice-pip-report.json"
            self._run(env, [py, "-m", "pip", "install", "--report", str(report), *_spec_lines_argv(env.specs)],
                      "pip install", log)
            dists = _from_pip_report(report, env.cwd)
        return self._entry(env, dists)

    def _hashes_of_installed(self, uv: str, env: ConnectorEnv, log: list[str]) -> list[Distribution]:
        """The installed distributions as lock lines: those from the index pinned, with the hashes of
        their files (``uv pip compile --no-deps`` of the pins: nothing is built again); those from a
        path or URL (PEP 610 ``direct_url.json``) as that path or URL, a git one at its commit."""
        installed = installed_distributions(env.home)
        direct = direct_requirements(env.home, env.cwd)
        pins = [f"{name}=={version}" for name, version in sorted(installed.items()) if name not in direct]
        dists = [Distribution(name, installed[name], requirement) for name, requirement in direct.items()
                 if name in installed]
        if pins:
            argv = [uv, "pip", "compile", "-", "--quiet", "--no-deps", "--generate-hashes", "--no-header",
                    "--no-annotate", "--python", str(env.bin / "python")]
            compiled = self._run_cached_first(env, argv, "hashing the installed distributions", log,
                                              stdin="\n".join(pins) + "\n")
            dists.extend(parse_compiled(compiled))
        return dists

    def install_locked(self, env: ConnectorEnv, entry: LockEntry, step: Step, log: list[str]) -> LockEntry:
        """Install exactly the distributions of ``entry``; fail unless exactly those landed."""
        step("installing from sluice.lock")
        self._install_pinned(env, list(entry.distributions), log)
        got = self._entry(env, list(entry.distributions))
        if got.versions() != entry.versions():
            diff = _difference(entry.versions(), got.versions())
            raise InstallFailed(f"the environment differs from sluice.lock: {diff} "
                                f"(re-lock it: `sluice install --upgrade {env.name}`)")
        return got

    def _install_pinned(self, env: ConnectorEnv, dists: list[Distribution], log: list[str]) -> None:
        """``--no-deps`` installs of exactly ``dists``, checking every hash given. uv checks the
        hashes a line has (its default) in one call; pip checks hashes only in its all-or-nothing
        ``--require-hashes`` mode, so the lines without any (a path, a git URL) go in a second call.
        (uv's ``--require-hashes`` would rebuild every sdist on each install: its built wheels are
        not reused in that mode.)"""
        groups: list[tuple[list[Distribution], list[str]]]
        if self.uv:
            groups = [(dists, [])]
        else:
            groups = [([d for d in dists if d.hashes], ["--require-hashes"]), ([d for d in dists if not d.hashes], [])]
        for group, extra in groups:
            if not group:
                continue
            reqs = env.home / f"sluice-requirements{'-hashed' if extra else ''}.txt"  # kept: what was installed
            reqs.write_text("".join(f"{d.requirement}{''.join(f' --hash={h}' for h in d.hashes)}\n" for d in group))
            if self.uv:
                argv = [self.uv, "pip", "install", "--python", str(env.bin / "python")]
            else:
                argv = [str(env.bin / "python"), "-m", "pip", "install"]
            self._run_cached_first(env, [*argv, "--no-deps", *extra, "-r", str(reqs)], "installing", log)

    def _entry(self, env: ConnectorEnv, dists: list[Distribution]) -> LockEntry:
        """The lock entry of what is now installed: versions as installed, requirements and hashes as resolved.
        An unnamed requirement (a path) takes the installed distribution no named line accounts for."""
        named = {d.name for d in dists if d.name}
        installed = installed_distributions(env.home, keep_seeded=frozenset(named))
        strays = sorted(set(installed) - named)
        out: list[Distribution] = []
        for d in dists:
            name = d.name or (strays.pop(0) if strays else d.requirement)
            out.append(Distribution(name, installed.get(name, d.version), d.requirement, d.hashes))
        return LockEntry(env.specs, self.python_version(env), tuple(sorted(out, key=lambda d: d.name)))


def _spec_lines_argv(specs: tuple[str, ...]) -> list[str]:
    argv: list[str] = []
    for line in _spec_lines(specs):
        argv.extend(line.split(" ", 1) if line.startswith("-e ") else [line])
    return argv


def _from_pip_report(report: Path, base: Path) -> list[Distribution]:
    """pip's ``--report``: what it installed, as lock lines (an editable directory as ``-e PATH``)."""
    data = json.loads(report.read_text())
    dists: list[Distribution] = []
    for item in data.get("install", []):
        name, version = normalize(item["metadata"]["name"]), item["metadata"]["version"]
        info = item.get("download_info") or {}
        hashes = tuple(f"{algo}:{value}" for algo, value in sorted((info.get("archive_info") or {})
                                                                   .get("hashes", {}).items()) if algo == "sha256")
        if item.get("is_direct") and (info.get("dir_info") or {}).get("editable"):
            dists.append(Distribution(name, version, local_requirement(info["url"], base, editable=True)))
        elif item.get("is_direct"):
            vcs = info.get("vcs_info")
            url = f"{vcs['vcs']}+{info['url']}@{vcs['commit_id']}" if vcs else info["url"]
            dists.append(Distribution(name, version, f"{name} @ {url}", () if vcs else hashes))
        else:
            dists.append(Distribution(name, version, f"{name}=={version}", hashes))
    return dists


def _difference(want: dict[str, str], got: dict[str, str]) -> str:
    parts = [f"{n} {want.get(n, 'absent')} in the lock, {got.get(n, 'absent')} installed"
             for n in sorted(set(want) | set(got)) if want.get(n) != got.get(n)]
    return "; ".join(parts[:5]) + (f"; and {len(parts) - 5} more" if len(parts) > 5 else "")


def _installer_environ() -> dict[str, str]:
    """The installers' environment: ours, less a virtualenv we may run in (it is not theirs to use),
    with pip's index settings carried over to uv's names when those are unset."""
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    for pip_name, uv_name in (("PIP_INDEX_URL", "UV_INDEX_URL"), ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"),
                              ("PIP_FIND_LINKS", "UV_FIND_LINKS")):
        if environ.get(pip_name) and not environ.get(uv_name):
            environ[uv_name] = environ[pip_name]
    environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return environ


def write_marker(env: ConnectorEnv, entry: LockEntry, installer: str) -> None:
    """Written last: from now on the environment counts as installed."""
    data = {"key": env.key, "pip_url": list(env.specs), "python": env.python, "installer": installer,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "entry": entry.to_dict()}
    (env.home / MARKER).write_text(json.dumps(data, indent=2) + "\n")


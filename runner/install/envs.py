"""A connector's own environment: where it lives, whether it is current, what it holds.

The environment of connector ``NAME`` is ``.sluice/venvs/NAME`` in the project directory. It is
current when its marker file (``sluice-env.json``, written last by ``sluice install``) holds the
key of the connector as sluice.yml declares it now: a hash of its ``pip_url`` and of the real path
of its interpreter. Anything else (no marker, another key) means "not installed": the runner then
refuses to start the connector and names the command that installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from protocol import ConfigError

if TYPE_CHECKING:
    from runner.project import Connector, Project

__all__ = [
    "MARKER",
    "activation",
    "ConnectorEnv",
    "connector_env",
    "direct_requirements",
    "installed_distributions",
    "local_requirement",
    "missing_error",
    "normalize",
    "not_installed",
    "program_in_env",
    "read_marker",
    "record_seeded",
    "require_installed",
    "site_packages",
]

MARKER = "sluice-env.json"
#: the distributions the environment tool put there before any requirement (pip, setuptools, ...)
SEEDED = "sluice-seeded.txt"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Singer_SDK`` -> ``singer-sdk``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class ConnectorEnv:
    """What ``sluice install`` builds for one connector, and where."""

    name: str
    specs: tuple[str, ...]  # the pip_url
    python: str | None  # the interpreter, a real path; None when it cannot be found
    python_asked: str  # as sluice.yml names it (or the running interpreter)
    home: Path  # .sluice/venvs/NAME
    cwd: Path  # the project directory: relative paths in pip_url resolve from it
    executable: str = ""  # the connector's program, looked up in bin/ ('' or a path: not checked by install)

    @property
    def key(self) -> str:
        data = json.dumps({"pip_url": list(self.specs), "python": self.python or self.python_asked})
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def marker(self) -> Path:
        return self.home / MARKER

    def current(self) -> bool:
        """Installed, from this pip_url and interpreter."""
        marker = read_marker(self.home)
        return marker is not None and marker.get("key") == self.key


def _interpreter(asked: str | None, base: Path) -> tuple[str | None, str]:
    if asked is None:
        return os.path.realpath(sys.executable), sys.executable
    if "/" in asked:
        path = Path(asked).expanduser()
        path = path if path.is_absolute() else base / path
        return (os.path.realpath(path) if os.access(path, os.X_OK) else None), asked
    found = shutil.which(asked)
    return (os.path.realpath(found) if found else None), asked


def connector_env(project: Project, connector: Connector) -> ConnectorEnv:
    """The environment of a connector that has a ``pip_url``."""
    python, asked = _interpreter(connector.python, project.dir)
    return ConnectorEnv(connector.name, connector.pip_url, python, asked,
                        project.dir / ".sluice" / "venvs" / connector.name, project.dir, connector.executable)


def read_marker(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def not_installed(env: ConnectorEnv) -> str:
    """Why the environment is not usable, in words; '' when it is."""
    if env.python is None:
        return f"connector '{env.name}': python '{env.python_asked}' not found"
    marker = read_marker(env.home)
    if marker is None:
        return f"connector '{env.name}' is not installed"
    if marker.get("key") != env.key:
        return f"connector '{env.name}' was installed from another pip_url or python"
    return ""


def program_in_env(project: Project, connector: Connector, executable: str, where: str,
                   problems: list[str]) -> str:
    """The program ``executable`` inside the connector's environment (runner/project.py asks here)."""
    env = connector_env(project, connector)
    why = not_installed(env)
    if why:
        problems.append(f"{where}: {why}: run `sluice install {connector.name}`")
        return executable
    path = Path(executable).expanduser() if "/" in executable else env.bin / executable
    path = path if path.is_absolute() else project.dir / path
    if not os.access(path, os.X_OK) or path.is_dir():
        problems.append(f"{where}: program '{executable}' not found in {env.bin} "
                        f"(installed from pip_url {' '.join(env.specs)})")
    return str(path)


def activation(project: Project, connector: Connector, environ: Mapping[str, str]) -> dict[str, str]:
    """What activating the connector's environment sets: VIRTUAL_ENV, and its bin/ first on PATH."""
    home = project.dir / ".sluice" / "venvs" / connector.name
    path = environ.get("PATH", os.defpath)
    return {"VIRTUAL_ENV": str(home), "PATH": f"{home / 'bin'}{os.pathsep}{path}"}


def site_packages(home: Path) -> list[Path]:
    return sorted(home.glob("lib/python*/site-packages"))


def installed_distributions(home: Path, keep_seeded: frozenset[str] = frozenset()) -> dict[str, str]:
    """``{normalized name: version}`` of what is installed in the environment ``home``, read from its
    ``.dist-info`` folders (no interpreter started). What the environment tool put there itself
    (pip, setuptools, ... listed in ``sluice-seeded.txt``) is left out, unless the connector needs it:
    some distribution that is not seeded requires it (directly or through other seeded ones), or its
    version is no longer the one seeded; or it is named in ``keep_seeded``."""
    seeded = _seeded(home)
    found: dict[str, str] = {}
    requires: dict[str, set[str]] = {}
    for folder in site_packages(home):
        for info in folder.glob("*.dist-info"):
            name, version, needs = _metadata(info)
            if name:
                found[name], requires[name] = version, needs
    needed = _needed_seeded(found, requires, seeded)
    return {n: v for n, v in found.items() if n not in seeded or n in needed or n in keep_seeded}


def _needed_seeded(found: dict[str, str], requires: dict[str, set[str]], seeded: dict[str, str]) -> set[str]:
    """The seeded distributions the connector needs (see :func:`installed_distributions`)."""
    todo = [n for n in found if n not in seeded or (seeded[n] and seeded[n] != found[n])]
    seen = set(todo)
    while todo:
        for dep in requires.get(todo.pop(), set()):
            if dep in found and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return {n for n in seen if n in seeded}


def _seeded(home: Path) -> dict[str, str]:
    """``sluice-seeded.txt``: ``name version`` per line ('' for the version in files of older sluices)."""
    try:
        lines = (home / SEEDED).read_text().splitlines()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in lines:
        name, _, version = line.strip().partition(" ")
        if name:
            out[name] = version.strip()
    return out


def direct_requirements(home: Path, base: Path) -> dict[str, str]:
    """``{name: requirement}`` of the distributions installed from a path or URL, from their PEP 610
    ``direct_url.json``: ``name @ git+URL@COMMIT``, ``name @ URL``, or the directory (``-e`` when
    editable; relative to ``base``, the project directory, when inside it, so the lock travels)."""
    found: dict[str, str] = {}
    for folder in site_packages(home):
        for info in folder.glob("*.dist-info"):
            try:
                data = json.loads((info / "direct_url.json").read_text())
            except (OSError, ValueError):
                continue
            name, _ = _name_version(info)
            url, vcs, folder_info = data.get("url", ""), data.get("vcs_info"), data.get("dir_info")
            if vcs:
                found[name] = f"{name} @ {vcs['vcs']}+{url}@{vcs['commit_id']}"
            elif folder_info is not None and url.startswith("file://"):
                found[name] = local_requirement(url, base, editable=bool(folder_info.get("editable")))
            else:
                found[name] = f"{name} @ {url}"
    return found


def local_requirement(url: str, base: Path, *, editable: bool) -> str:
    """The lock line of a directory installed from ``file://...``: its path (``./`` relative to ``base``,
    the project directory, when inside it, so the lock travels), ``-e PATH`` when editable."""
    path = Path(unquote(url[len("file://"):]))
    shown = f"./{path.relative_to(base)}" if path.is_relative_to(base) else str(path)
    return f"-e {shown}" if editable else shown


def record_seeded(home: Path) -> None:
    """Right after the environment is made: remember what it came with, and in which versions."""
    (home / SEEDED).unlink(missing_ok=True)
    found = installed_distributions(home)
    (home / SEEDED).write_text("".join(f"{name} {found[name]}\n" for name in sorted(found)))


_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _metadata(info: Path) -> tuple[str, str, set[str]]:
    """Name, version and the names of the requirements (``Requires-Dist`` not limited to an extra)."""
    name = version = ""
    needs: set[str] = set()
    try:
        with (info / "METADATA").open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Name:"):
                    name = normalize(line[5:].strip())
                elif line.startswith("Version:"):
                    version = line[8:].strip()
                elif line.startswith("Requires-Dist:"):
                    requirement, _, marker = line[14:].partition(";")
                    found = _REQUIREMENT_NAME.match(requirement.strip())
                    if found and "extra" not in marker:
                        needs.add(normalize(found.group()))
                elif not line.strip():
                    break
    except OSError:
        return "", "", set()
    return name, version, needs


def _name_version(info: Path) -> tuple[str, str]:
    name, version, _ = _metadata(info)
    return name, version


def require_installed(project: Project, names: list[str]) -> list[str]:
    """The connectors among ``names`` that have a pip_url and are not (currently) installed."""
    missing: list[str] = []
    for name in names:
        conn = project.connectors.get(name)
        if conn is not None and conn.pip_url and not_installed(connector_env(project, conn)):
            missing.append(name)
    return missing


def missing_error(missing: list[str]) -> ConfigError:
    """The one line a run prints when connectors it needs are not installed."""
    names = " ".join(missing)
    which = "is" if len(missing) == 1 else "are"
    return ConfigError(f"{', '.join(missing)} {which} not installed: run `sluice install {names}` "
                       "(or pass --install)")

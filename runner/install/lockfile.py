"""``sluice.lock``: what ``sluice install`` resolved for every connector, to install it again exactly.

A JSON file next to sluice.yml::

    {
      "version": 1,
      "connectors": {
        "tap-jsonl": {
          "pip_url": ["tap-jsonl==0.3.1"],
          "python": "3.11",
          "distributions": [
            {"name": "singer-sdk", "version": "0.53.4", "requirement": "singer-sdk==0.53.4",
             "hashes": ["sha256:..."]},
            ...
          ]
        }
      },
      "checksum": "sha256:..."
    }

``checksum`` is the SHA-256 of the ``connectors`` object in canonical JSON (sorted keys, no
spaces): a lock edited by hand, or half-merged, no longer matches it and ``sluice install
--frozen`` refuses it. The hashes of each distribution are checked by the installer itself
(``--require-hashes``), so a lock whose hashes were changed along with its checksum fails there;
and before any install, :func:`entry_problems` refuses an entry that names a distribution from the
index without hashes (nothing would be checked), or a version that contradicts an exact pin
(``name==version``) of its pip_url.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol import ConfigError

__all__ = ["LOCK_FILE", "Distribution", "LockEntry", "entry_problems", "read_lock", "write_lock"]

LOCK_FILE = "sluice.lock"
VERSION = 1


@dataclass(frozen=True)
class Distribution:
    name: str  # normalized
    version: str
    requirement: str  # how to install exactly this one: "name==version", "name @ git+...@commit", a path
    hashes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "requirement": self.requirement,
                "hashes": list(self.hashes)}


@dataclass(frozen=True)
class LockEntry:
    """One connector's environment: what it was asked for and what was resolved."""

    pip_url: tuple[str, ...]
    python: str  # major.minor of the interpreter
    distributions: tuple[Distribution, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"pip_url": list(self.pip_url), "python": self.python,
                "distributions": [d.to_dict() for d in self.distributions]}

    def versions(self) -> dict[str, str]:
        return {d.name: d.version for d in self.distributions}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> LockEntry:
        try:
            dists = tuple(Distribution(str(d["name"]), str(d["version"]), str(d["requirement"]),
                                       tuple(str(h) for h in d.get("hashes") or ()))
                          for d in data["distributions"])
            return cls(tuple(str(s) for s in data["pip_url"]), str(data["python"]), dists)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{where}: malformed entry ({exc!r} missing or of the wrong type)") from exc


def _checksum(connectors: dict[str, Any]) -> str:
    text = json.dumps(connectors, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_lock(path: Path) -> dict[str, LockEntry] | None:
    """The entries of ``path``; None when there is no lock file. A lock that does not match its own
    checksum, or cannot be read, is refused (ConfigError)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("connectors"), dict):
        raise ConfigError(f"{path} is not a sluice lock file (no connectors object)")
    if data.get("version") != VERSION:
        raise ConfigError(f"{path}: lock file version {data.get('version')!r} is not {VERSION}")
    if data.get("checksum") != _checksum(data["connectors"]):
        raise ConfigError(f"{path} does not match its checksum: it was edited by hand or merged badly; "
                          "refusing to install from it (run `sluice install` without --frozen to re-lock)")
    return {name: LockEntry.from_dict(entry, f"{path}: {name}") for name, entry in data["connectors"].items()}


def write_lock(path: Path, entries: dict[str, LockEntry]) -> None:
    """Write the lock atomically, connectors in name order (a stable, diffable file)."""
    connectors = {name: entries[name].to_dict() for name in sorted(entries)}
    text = json.dumps({"version": VERSION, "connectors": connectors, "checksum": _checksum(connectors)}, indent=2)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([A-Za-z0-9.!+_-]+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _same_version(a: str, b: str) -> bool:
    """PEP 440 equality of two plain versions, enough for pins: ``1.0`` is ``1.0.0``, ``V1.2`` is ``1.2``."""
    def key(v: str) -> tuple[list[int], str]:
        m = re.match(r"v?(\d+(?:\.\d+)*)(.*)", v.strip().lower())
        if m is None:
            return [], v.strip().lower()
        release = [int(p) for p in m.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return release, m.group(2)
    return key(a) == key(b)


def _exact_pins(pip_url: tuple[str, ...]) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` specs of a pip_url (not after ``-e``)."""
    pins: dict[str, str] = {}
    for before, spec in zip(("", *pip_url), pip_url, strict=False):
        found = _PIN.fullmatch(spec.split(";", 1)[0].strip())
        if found and before not in ("-e", "--editable"):
            pins[_normal(found.group(1))] = found.group(2)
    return pins


def _from_index(requirement: str) -> bool:
    """A line that installs a distribution from the package index (``name==version``), not a path or URL."""
    head = requirement.split(";", 1)[0].strip()
    return " @ " not in head and "==" in head and not head.startswith(("-", ".", "/", "~"))


def entry_problems(entry: LockEntry) -> list[str]:
    """Why a lock entry cannot be installed as it is, one line per distribution: a distribution from
    the index with no hashes, a version that contradicts an exact pin of the pip_url, or a pinned
    distribution that is not in it. Paths, URLs and ``-e`` lines have no hashes by nature."""
    problems: list[str] = []
    pins = _exact_pins(entry.pip_url)
    for dist in entry.distributions:
        if _from_index(dist.requirement) and not dist.hashes:
            problems.append(f"'{dist.requirement}' has no hashes")
        pinned = pins.pop(dist.name, None)
        if pinned is not None and not _same_version(pinned, dist.version):
            problems.append(f"'{dist.requirement}' contradicts the pip_url's {dist.name}=={pinned}")
    problems.extend(f"the pip_url pins {name}=={version}, which is not in it" for name, version in pins.items())
    return problems

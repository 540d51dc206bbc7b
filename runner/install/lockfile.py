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
(``--require-hashes``), so a lock whose hashes were changed along with its checksum fails there.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol import ConfigError

__all__ = ["LOCK_FILE", "Distribution", "LockEntry", "read_lock", "write_lock"]

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

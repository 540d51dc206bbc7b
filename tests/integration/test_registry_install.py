"""Every public connector of the shipped registry installs: its pip_url resolves on the package
index for this Python, dependencies included, and the distribution ships its executable.

Only metadata is fetched: each pip_url is downloaded without dependencies (to read the console
scripts from the wheel's or sdist's entry_points.txt) and resolved, dependencies included, with
``uv pip compile`` for this Python: uv is the installer `sluice install` uses (a dependency of
sluice), and it resolves in about a second where ``pip install --dry-run`` took ten, most of this
test's cold minutes. Both are cached under SLUICE_TEST_CACHE, keyed by the pip_url and the Python
version, so a second run in the same CI job costs nothing.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from uv import find_uv_bin

from runner.registry import BUILTIN, Entry, load_registry

# cold (nothing cached) this takes a few minutes on 2 idle cores, far more on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

CACHE = Path(os.environ.get("SLUICE_TEST_CACHE", Path.home() / ".cache" / "sluice-tests")) / "registry"
PUBLIC = [e for e in load_registry([BUILTIN]).entries() if e.pip_url]


@dataclass
class Checked:
    problem: str = ""
    scripts: frozenset[str] = frozenset()
    resolved: tuple[str, ...] = ()


def _specs(entry: Entry) -> list[str]:
    return list(entry.pip_url) if isinstance(entry.pip_url, tuple) else str(entry.pip_url).split()


def _console_scripts(dist: Path) -> set[str]:
    text = ""
    if dist.suffix == ".whl":
        with zipfile.ZipFile(dist) as whl:
            names = [n for n in whl.namelist() if n.endswith(".dist-info/entry_points.txt")]
            text = whl.read(names[0]).decode() if names else ""
    elif dist.name.endswith((".tar.gz", ".zip")):
        with tarfile.open(dist) as sdist:
            names = [n for n in sdist.getnames() if n.endswith(".egg-info/entry_points.txt")]
            member = sdist.extractfile(names[0]) if names else None
            text = member.read().decode() if member else ""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return set(parser["console_scripts"]) if parser.has_section("console_scripts") else set()


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"], capture_output=True,
                          text=True, timeout=600, check=False)


def check_specs(specs: list[str], executable: str) -> Checked:
    """Download (no deps) and resolve (dry run) ``specs``; say what is wrong, if anything."""
    key = hashlib.sha256(json.dumps([specs, sys.version_info[:2]]).encode()).hexdigest()[:16]
    where = CACHE / key
    dists = where / "dists"
    if not (where / "downloaded").exists():
        done = _pip("download", "--no-deps", "-q", "-d", str(dists), *specs)
        if done.returncode:
            return Checked(f"pip download {' '.join(specs)} failed: {done.stderr.strip()[-600:]}")
        (where / "downloaded").touch()
    scripts = frozenset(s for dist in sorted(dists.iterdir()) for s in _console_scripts(dist))
    if executable not in scripts:
        return Checked(f"{executable} is not a console script of {' '.join(specs)} ({sorted(scripts)})", scripts)
    report = where / "resolved.txt"
    if not report.exists():
        partial = where / f"partial-{os.getpid()}-{threading.get_ident()}.txt"  # two runs may share the cache
        done = subprocess.run([_uv(), "pip", "compile", "-", "--python", sys.executable, "--quiet", "--no-header",
                               "--no-annotate", "--output-file", str(partial)],
                              input="\n".join(specs) + "\n", capture_output=True, text=True, timeout=600, check=False)
        if done.returncode:
            return Checked(f"{' '.join(specs)} does not resolve: {done.stderr.strip()[-600:]}", scripts)
        partial.replace(report)
    pins = [line.strip() for line in report.read_text().splitlines() if "==" in line and not line.startswith("#")]
    return Checked("", scripts, tuple(pins))


def _uv() -> str:
    return str(find_uv_bin())


@pytest.fixture(scope="module")
def checked() -> dict[str, Checked]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {f"{e.name}@{e.variant}": pool.submit(check_specs, _specs(e), e.executable) for e in PUBLIC}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("entry", PUBLIC, ids=[f"{e.name}@{e.variant}" for e in PUBLIC])
def test_public_connector_installs_and_ships_its_executable(entry: Entry, checked: dict[str, Checked]) -> None:
    result = checked[f"{entry.name}@{entry.variant}"]
    assert not result.problem, result.problem
    assert entry.executable in result.scripts
    assert any(r.split("==")[0].lower().replace("_", "-") == _specs(entry)[0].split("=")[0].lower()
               for r in result.resolved), result.resolved


def test_the_check_catches_a_wrong_executable_and_a_missing_distribution() -> None:
    wrong = check_specs(["target-jsonl"], "tap-jsonl")
    assert wrong.problem.startswith("tap-jsonl is not a console script of target-jsonl (['target-jsonl'])")
    missing = check_specs(["target-jsonl==0.0.0"], "target-jsonl")  # a version that was never released
    assert missing.problem.startswith("pip download target-jsonl==0.0.0 failed")
    assert "No matching distribution found for target-jsonl==0.0.0" in missing.problem

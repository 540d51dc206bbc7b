"""`sluice install` on small local connectors: what the lock must hold (the seeded distributions a
connector needs, `-e` paths with pip), what it refuses (a forged entry), and installs that must fail
(a program that cannot start, an executable the package does not have) without losing what worked.
Real environments, built with uv (or pip) from the package index; uv's cache under SLUICE_TEST_CACHE."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runner.install.envs import installed_distributions
from runner.install.lockfile import Distribution, LockEntry, read_lock, write_lock
from tests.integration.runner.helpers import sluice
from tests.integration.test_install import env

pytestmark = pytest.mark.slow

MAIN = '''
import sys
{imports}

def main():
    if "--help" in sys.argv:
        print("usage: {script} [--help]")
        return
    print({says})
'''


def package(root: Path, name: str, *, imports: str = "", says: str = '"hello"', deps: tuple[str, ...] = ()) -> Path:
    """A local distribution NAME with one program NAME (its module: ``imports``, then prints ``says``)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    (folder / f"{module}.py").write_text(MAIN.format(imports=imports, script=name, says=says))
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = {json.dumps(list(deps))}\n'
        f'[project.scripts]\n{name} = "{module}:main"\n'
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n')
    return folder


def project(root: Path, connectors: list[dict[str, object]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sluice.yml").write_text(yaml.safe_dump({"connectors": connectors}, sort_keys=False))
    return root


def program(root: Path, name: str, executable: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(root / ".sluice" / "venvs" / name / "bin" / executable), *args],
                          capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A connector that needs packaging==23.2 (uv seeds a newer one) and wheel (seeded as it is)."""
    root = tmp_path_factory.mktemp("seeded")
    package(root, "tap-seeded", imports="import packaging", says="packaging.__version__", deps=("wheel",))
    project(root, [{"name": "tap-seeded", "executable": "tap-seeded", "pip_url": "./tap-seeded packaging==23.2"}])
    done = sluice(["install"], root, env=env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def test_seeded_distributions_the_connector_needs_are_locked(seeded: Path, tmp_path: Path) -> None:
    lock = read_lock(seeded / "sluice.lock")
    assert lock is not None
    dists = {d.name: d for d in lock["tap-seeded"].distributions}
    assert dists["packaging"].version == "23.2" and dists["packaging"].hashes
    assert "wheel" in dists and dists["wheel"].hashes  # needed, though in the version the environment came with
    assert "pip" not in dists  # seeded and needed by nothing
    assert program(seeded, "tap-seeded", "tap-seeded").stdout.strip() == "23.2"

    fresh = tmp_path / "fresh"  # a checkout with the lock: the same versions, not the newest seeds
    shutil.copytree(seeded, fresh, ignore=shutil.ignore_patterns(".sluice"))
    done = sluice(["install", "--frozen"], fresh, env=env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert program(fresh, "tap-seeded", "tap-seeded").stdout.strip() == "23.2"
    have = installed_distributions(fresh / ".sluice" / "venvs" / "tap-seeded")
    assert have == lock["tap-seeded"].versions()
    assert sluice(["validate"], fresh, env=env()).returncode == 0


@pytest.mark.parametrize(("version", "hashes", "refusals"), [
    ("24.0", False, ["'packaging==24.0' has no hashes", "'packaging==24.0' contradicts the pip_url's packaging==23.2"]),
    ("23.2", False, ["'packaging==23.2' has no hashes"]),
    ("24.0", True, ["'packaging==24.0' contradicts the pip_url's packaging==23.2"]),
])
def test_a_forged_lock_entry_is_refused_before_installing(seeded: Path, tmp_path: Path, version: str, hashes: bool,
                                                          refusals: list[str]) -> None:
    fresh = tmp_path / "fresh"
    shutil.copytree(seeded, fresh, ignore=shutil.ignore_patterns(".sluice"))
    lock = read_lock(fresh / "sluice.lock")
    assert lock is not None
    entry = lock["tap-seeded"]
    forged = tuple(Distribution(d.name, version, f"packaging=={version}", d.hashes if hashes else ())
                   if d.name == "packaging" else d for d in entry.distributions)
    write_lock(fresh / "sluice.lock", {"tap-seeded": LockEntry(entry.pip_url, entry.python, forged)})  # checksum too
    for args in (["install", "--frozen"], ["install"]):
        done = sluice(args, fresh, env=env(), timeout=900)
        assert done.returncode == 1, done.stderr
        line = next(ln for ln in done.stderr.splitlines() if "install failed" in ln)
        assert line == ("sluice: tap-seeded: install failed: sluice.lock's entry is refused: " + "; ".join(refusals)
                        + " (re-lock it: `sluice install --upgrade tap-seeded`)")
        assert not (fresh / ".sluice" / "venvs" / "tap-seeded").exists()
    checked = sluice(["validate"], fresh, env=env())
    assert checked.returncode == 2 and f"tap-seeded: sluice.lock: {refusals[0]}" in checked.stderr


def test_an_editable_path_stays_editable_in_the_lock_with_pip(tmp_path: Path) -> None:
    root = tmp_path / "project"
    source = package(root, "tap-ed", says='"before"')
    project(root, [{"name": "tap-ed", "executable": "tap-ed", "pip_url": "-e ./tap-ed"}])
    pip = env(SLUICE_INSTALLER="pip")
    done = sluice(["install"], root, env=pip, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lock = read_lock(root / "sluice.lock")
    assert lock is not None
    assert [d.requirement for d in lock["tap-ed"].distributions] == ["-e ./tap-ed"]

    shutil.rmtree(root / ".sluice")  # a fresh checkout: the lock installs it editable again
    done = sluice(["install", "--frozen"], root, env=pip, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (source / "tap_ed.py").write_text((source / "tap_ed.py").read_text().replace('"before"', '"after"'))
    assert program(root, "tap-ed", "tap-ed").stdout.strip() == "after"


def test_an_install_whose_program_cannot_start_fails(tmp_path: Path) -> None:
    root = tmp_path / "project"
    package(root, "tap-old", imports="import pkg_resources", says="pkg_resources.__name__")
    package(root, "tap-crash", imports="import sluice_no_such_module_4711")
    project(root, [{"name": "tap-old", "executable": "tap-old", "pip_url": "./tap-old"},
                   {"name": "tap-crash", "executable": "tap-crash", "pip_url": "./tap-crash"},
                   {"name": "tap-typo", "executable": "tap-tpyo", "pip_url": "./tap-old"}])
    done = sluice(["install", "-j", "3"], root, env=env(), timeout=900)
    assert done.returncode == 1
    assert "3 connectors: 1 installed, 2 failed" in done.stderr
    # an old connector importing pkg_resources works in a uv environment (its setuptools still has it)
    assert program(root, "tap-old", "tap-old").stdout.strip() == "pkg_resources"
    assert ("sluice: tap-crash: install failed: 'tap-crash' was installed but cannot start: ModuleNotFoundError: "
            "No module named 'sluice_no_such_module_4711'") in done.stderr
    assert ("sluice: tap-typo: install failed: the executable 'tap-tpyo' is not in what pip_url './tap-old' "
            f"installed (no {root.resolve()}/.sluice/venvs/tap-typo/bin/tap-tpyo); it provides: tap-old") \
        in done.stderr.replace(str(root), str(root.resolve()))
    for name in ("tap-crash", "tap-typo"):
        assert not (root / ".sluice" / "venvs" / name).exists()
    lock = read_lock(root / "sluice.lock")
    assert lock is not None and sorted(lock) == ["tap-old"]


def test_a_failed_forced_rebuild_keeps_the_environment_that_worked(tmp_path: Path) -> None:
    root = tmp_path / "project"
    source = package(root, "tap-keep", says='"working"')
    project(root, [{"name": "tap-keep", "executable": "tap-keep", "pip_url": "./tap-keep"}])
    done = sluice(["install"], root, env=env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (source / "pyproject.toml").write_text("[project\nbroken")
    done = sluice(["install", "--force"], root, env=env(), timeout=900)
    assert done.returncode == 1 and "tap-keep: install failed" in done.stderr
    assert program(root, "tap-keep", "tap-keep").stdout.strip() == "working"
    assert sluice(["validate"], root, env=env()).returncode == 0  # still installed
    assert sorted(p.name for p in (root / ".sluice" / "venvs").iterdir()) == ["tap-keep", "tap-keep.log"]

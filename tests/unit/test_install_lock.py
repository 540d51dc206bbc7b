"""sluice.lock and the pieces of `sluice install` that need no installer: the lock's checksum, the
reading of uv's resolution, the progress lines, and the commands' refusals (no download here;
tests/integration/test_install.py installs real connectors)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from protocol._errors import ConfigError
from runner.install.builder import parse_compiled
from runner.install.envs import direct_requirements, installed_distributions, normalize
from runner.install.lockfile import Distribution, LockEntry, read_lock, write_lock
from runner.install.progress import Progress
from tests.integration.runner.helpers import sluice

COMPILED = """\
attrs==26.1.0 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
    # via jsonschema
./tap-local
-e ./editable
importlib-metadata==8.7.0 ; python_full_version < '3.12' \\
    --hash=sha256:ccc
Singer_SDK[faker]==0.53.7 \\
    --hash=sha256:ddd
tap-git @ git+https://example.invalid/tap-git@0123abcd
"""


def test_uv_resolution_is_read_line_by_line_with_its_hashes() -> None:
    got = parse_compiled(COMPILED)
    assert [(d.name, d.version, d.hashes) for d in got] == [
        ("attrs", "26.1.0", ("sha256:aaa", "sha256:bbb")),
        ("", "", ()),
        ("", "", ()),
        ("importlib-metadata", "8.7.0", ("sha256:ccc",)),
        ("singer-sdk", "0.53.7", ("sha256:ddd",)),
        ("tap-git", "", ()),
    ]
    assert got[1].requirement == "./tap-local" and got[2].requirement == "-e ./editable"
    assert got[3].requirement == "importlib-metadata==8.7.0 ; python_full_version < '3.12'"


def _entry(version: str = "0.1.4") -> LockEntry:
    return LockEntry(("target-jsonl==0.1.4",), "3.11", (
        Distribution("target-jsonl", version, f"target-jsonl=={version}", ("sha256:1",)),
        Distribution("jsonschema", "2.6.0", "jsonschema==2.6.0", ("sha256:2", "sha256:3"))))


def test_lock_round_trips_in_name_order(tmp_path: Path) -> None:
    path = tmp_path / "sluice.lock"
    write_lock(path, {"zeta": _entry(), "alpha": _entry("0.1.3")})
    data = json.loads(path.read_text())
    assert list(data["connectors"]) == ["alpha", "zeta"] and data["version"] == 1
    assert data["checksum"].startswith("sha256:")
    assert read_lock(path) == {"alpha": _entry("0.1.3"), "zeta": _entry()}
    assert read_lock(tmp_path / "absent.lock") is None


@pytest.mark.parametrize("edit", [
    lambda d: d["connectors"]["zeta"]["distributions"][0].update(version="0.1.5"),
    lambda d: d["connectors"]["zeta"]["distributions"][1]["hashes"].append("sha256:4"),
    lambda d: d["connectors"]["zeta"].update(pip_url=["target-jsonl"]),
    lambda d: d["connectors"].pop("alpha"),
], ids=["version", "hash", "pip_url", "entry removed"])
def test_a_lock_that_does_not_match_its_checksum_is_refused(tmp_path: Path, edit: object) -> None:
    path = tmp_path / "sluice.lock"
    write_lock(path, {"zeta": _entry(), "alpha": _entry("0.1.3")})
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="does not match its checksum"):
        read_lock(path)


@pytest.mark.parametrize(("text", "message"), [
    ("{", "is not valid JSON"),
    ('{"version": 1}', "not a sluice lock file"),
    ('{"version": 2, "connectors": {}}', "lock file version 2 is not 1"),
])
def test_a_lock_that_is_no_lock_is_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "sluice.lock").write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_lock(tmp_path / "sluice.lock")


def test_installed_distributions_are_read_from_dist_info(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    for name, version in (("Singer_SDK", "0.53.7"), ("pip", "24.0"), ("jsonschema", "2.6.0")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")
    (tmp_path / "sluice-seeded.txt").write_text("pip\n")
    assert installed_distributions(tmp_path) == {"singer-sdk": "0.53.7", "jsonschema": "2.6.0"}
    assert installed_distributions(tmp_path, frozenset({"pip"}))["pip"] == "24.0"
    assert normalize("Zope.Interface__x") == "zope-interface-x"


def test_distributions_from_a_path_or_url_are_locked_as_that_path_or_url(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    project = tmp_path / "my project"
    cases = {
        "tap-mine": {"url": f"file://{project}/conn/tap%20mine".replace(" ", "%20"), "dir_info": {"editable": True}},
        "tap-away": {"url": "file:///opt/taps/tap-away", "dir_info": {}},
        "tap-git": {"url": "https://example.invalid/org/tap-git.git",
                    "vcs_info": {"vcs": "git", "commit_id": "0123abcd", "requested_revision": "v1"}},
        "tap-zip": {"url": "https://example.invalid/tap-zip-1.0.tar.gz", "archive_info": {"hashes": {}}},
    }
    for name, direct in cases.items():
        info = site / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Name: {name}\nVersion: 1.0\n")
        (info / "direct_url.json").write_text(json.dumps(direct))
    plain = site / "six-1.17.0.dist-info"
    plain.mkdir()
    (plain / "METADATA").write_text("Name: six\nVersion: 1.17.0\n")
    assert direct_requirements(tmp_path / "venv", project) == {
        "tap-mine": "-e ./conn/tap mine",
        "tap-away": "/opt/taps/tap-away",
        "tap-git": "tap-git @ git+https://example.invalid/org/tap-git.git@0123abcd",
        "tap-zip": "tap-zip @ https://example.invalid/tap-zip-1.0.tar.gz",
    }


def test_progress_is_plain_lines_off_a_terminal_and_redrawn_on_one() -> None:
    plain = io.StringIO()
    progress = Progress(["tap-a", "target-bb"], plain, live=False)
    for name, text in (("tap-a", "creating the environment"), ("tap-a", "resolving"), ("target-bb", "up to date"),
                       ("tap-a", "installed (3 distributions, 1.0 s)")):
        progress(name, text)
    progress.close()
    assert plain.getvalue().splitlines() == [
        "sluice: tap-a: creating the environment", "sluice: target-bb: up to date",
        "sluice: tap-a: installed (3 distributions, 1.0 s)"]

    live = io.StringIO()
    progress = Progress(["tap-a", "target-bb"], live, live=True)
    progress("tap-a", "resolving")
    progress("target-bb", "failed")
    progress.close()
    screen = live.getvalue()
    assert "\x1b[2K  tap-a      resolving" in screen and "\x1b[2K  target-bb  failed\n" in screen


def _project(root: Path, connectors: list[dict[str, object]]) -> Path:
    (root / "sluice.yml").write_text(yaml.safe_dump({"connectors": connectors}))
    return root


def test_install_refuses_unknown_connectors_and_those_without_pip_url(tmp_path: Path) -> None:
    root = _project(tmp_path, [{"name": "plain", "executable": "tap-csv"},
                               {"name": "tap-x", "executable": "tap-x", "pip_url": "tap-x==1.0"}])
    done = sluice(["install", "plain", "tap-y"], root)
    assert done.returncode == 2
    assert "connector 'plain' has no pip_url" in done.stderr and "no connector named 'tap-y'" in done.stderr
    frozen = sluice(["install", "--frozen"], root)
    assert frozen.returncode == 2 and "--frozen: no sluice.lock in" in frozen.stderr


def test_a_project_without_pip_url_has_nothing_to_install(tmp_path: Path) -> None:
    done = sluice(["install"], _project(tmp_path, [{"name": "plain", "executable": "tap-csv"}]))
    assert done.returncode == 0 and "nothing to install" in done.stderr
    assert not (tmp_path / "sluice.lock").exists()


@pytest.mark.parametrize("command", [["spec", "tap-x"], ["check", "tap-x"], ["discover", "tap-x"],
                                     ["run", "tap-x", "target-jsonl"]])
def test_a_connector_not_installed_is_one_line_naming_the_command(tmp_path: Path, command: list[str]) -> None:
    root = _project(tmp_path, [{"name": "tap-x", "executable": "tap-x", "pip_url": "tap-x==1.0"}])
    done = sluice(command, root)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sluice: error: tap-x is not installed: run `sluice install tap-x` (or pass --install)"]
    assert not (tmp_path / ".sluice" / "venvs").exists()


def test_an_interpreter_that_does_not_exist_is_named_without_an_empty_log(tmp_path: Path) -> None:
    root = _project(tmp_path, [{"name": "tap-x", "executable": "tap-x", "pip_url": "tap-x==1.0",
                                "python": "python3.99"}])
    done = sluice(["install"], root)
    assert done.returncode == 1
    assert "sluice: tap-x: install failed: the interpreter 'python3.99' was not found (python: in sluice.yml " \
           "names a program on PATH or a path to one)" in done.stderr
    assert "the installer's whole output" not in done.stderr


def test_a_lock_entry_without_hashes_or_against_a_pin_is_refused() -> None:
    from runner.install.lockfile import entry_problems

    def entry(*dists: Distribution) -> LockEntry:
        return LockEntry(("Target_JSONL[extra]==0.1.4", "-e", "./tap-mine==2", "six>=1"), "3.11", dists)

    good = entry(Distribution("target-jsonl", "0.1.4.0", "target-jsonl==0.1.4.0", ("sha256:1",)),
                 Distribution("tap-mine", "1.0", "-e ./tap-mine==2"),
                 Distribution("git-thing", "0.3", "git-thing @ git+https://example.invalid/x@0123"),
                 Distribution("six", "1.17.0", "six==1.17.0", ("sha256:2",)))
    assert entry_problems(good) == []
    assert entry_problems(entry(Distribution("target-jsonl", "0.1.3", "target-jsonl==0.1.3"))) == [
        "'target-jsonl==0.1.3' has no hashes", "'target-jsonl==0.1.3' contradicts the pip_url's target-jsonl==0.1.4"]
    assert entry_problems(entry(Distribution("six", "1.17.0", "six==1.17.0", ("sha256:2",)))) == [
        "the pip_url pins target-jsonl==0.1.4, which is not in it"]

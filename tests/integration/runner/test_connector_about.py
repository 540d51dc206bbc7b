"""`--about` as the runner reads it (what is cached, what is shown when it fails), and timeouts of
`sluice check` / `discover` that stop the connector with everything it started."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import yaml

from tests.integration.runner.helpers import pid_alive, sluice, wait_for

SECRET = "sk-literal-4242"  # a literal in sluice.yml: only the settings schema says it is secret

# a connector that behaves as the files next to it say: about-crash (its --about dies at import, as a
# connector missing pkg_resources does), about-log (it logs a line on stdout before the JSON),
# no-about (argparse does not know --about), hang (its --test starts a child and waits forever)
TAP = '''
import argparse, json, os, subprocess, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
def flag(name):
    return os.path.exists(os.path.join(HERE, name))
ABOUT = {"name": "tap-about", "capabilities": ["discover", "catalog"],
         "settings": {"type": "object", "properties": {"api_key": {"type": "string", "secret": True}}}}
parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--test", action="store_true")
parser.add_argument("--discover", action="store_true")
if not flag("no-about"):
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format")
args = parser.parse_args()
if getattr(args, "about", False):
    if flag("about-crash"):
        print("Traceback (most recent call last):", file=sys.stderr)
        print("ModuleNotFoundError: No module named 'pkg_resources'", file=sys.stderr)
        sys.exit(1)
    if flag("about-log"):
        print("INFO starting up")
    print(json.dumps(ABOUT))
    sys.exit(0)
config = json.load(open(args.config))
if flag("hang"):
    child = subprocess.Popen(["sleep", "3600"])
    open(os.path.join(HERE, "child.pid"), "w").write(str(child.pid))
    time.sleep(3600)
print(f"ERROR auth failed for key {config['api_key']}", file=sys.stderr)
sys.exit(1)
'''


def _project(root: Path) -> Path:
    (root / "tap.py").write_text(TAP)
    conn = {"name": "tap-about", "executable": sys.executable, "args": [str(root / "tap.py")],
            "config": {"api_key": SECRET}}
    (root / "sluice.yml").write_text(yaml.safe_dump({"connectors": [conn]}))
    return root


def _cached(root: Path) -> list[object]:
    return [json.loads(p.read_text())["about"] for p in sorted((root / ".sluice" / "cache").glob("about-*.json"))]


def test_a_failed_about_is_not_cached_so_secrets_are_redacted_once_it_answers(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "about-crash").touch()
    first = sluice(["check", "tap-about"], root)
    assert first.returncode == 1
    assert _cached(root) == []  # a crash says nothing about the program: asked again next time
    (root / "about-crash").unlink()
    second = sluice(["check", "tap-about"], root)
    assert second.returncode == 1
    assert second.stderr.strip() == "sluice: tap-about: check failed: auth failed for key ********"
    assert [a["name"] for a in _cached(root)] == ["tap-about"]  # type: ignore[index]


def test_a_log_line_before_the_about_json_is_forgiven(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "about-log").touch()
    done = sluice(["check", "tap-about"], root)
    assert done.returncode == 1 and SECRET not in done.stderr + done.stdout
    assert "key ********" in done.stderr


def test_a_program_without_about_is_cached_as_such(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "no-about").touch()
    done = sluice(["check", "tap-about"], root)
    assert done.returncode == 1
    assert _cached(root) == [None]
    spec = sluice(["spec", "tap-about"], root)
    assert spec.returncode == 1 and "it has no --about option" in spec.stderr


def test_spec_shows_the_connectors_own_error_when_about_fails(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "about-crash").touch()
    done = sluice(["spec", "tap-about"], root)
    assert done.returncode == 1 and done.stdout == ""
    assert "tap-about has no --about --format json with a settings schema: --about failed (exit code 1)" \
        in done.stderr
    assert "ModuleNotFoundError: No module named 'pkg_resources'" in done.stderr


def test_a_check_timeout_stops_what_the_connector_started(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "hang").touch()
    done = sluice(["check", "tap-about", "--timeout", "2"], root)
    assert done.returncode == 1
    assert "tap-about: no answer after 2 s" in done.stderr
    child = int((root / "child.pid").read_text())
    try:
        wait_for(lambda: not pid_alive(child), timeout=5, what="the connector's child to be stopped")
    finally:
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)

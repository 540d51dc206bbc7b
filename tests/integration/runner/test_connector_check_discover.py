"""`sluice check` and `sluice discover` on programs that bend the Singer contract: no --test (argparse),
unknown flags ignored, log lines or nothing but logs on stdout, a child in a session of its own."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.runner.helpers import pid_alive, sluice, wait_for

SECRET = "sk-literal-7331"  # a literal in sluice.yml: only the settings schema says it is secret

# one program, its behaviour chosen by its first argument (so each has an --about of its own)
PROGRAM = '''
import argparse, json, os, subprocess, sys, time
MODE, ARGS = sys.argv[1], sys.argv[2:]
SETTINGS = {"type": "object", "properties": {"api_key": {"type": "string", "secret": True}}}
ABOUT = {"name": "tap-" + MODE, "capabilities": ["discover", "catalog"], "settings": SETTINGS}
if MODE == "tested":
    ABOUT["capabilities"].append("test")
if MODE == "sdk-tap":
    ABOUT["sdk_version"] = "0.54.9"  # singer-sdk: its taps have --test without listing it
if MODE == "lenient" and "--about" in ARGS:
    sys.exit(2)
if "--about" in ARGS:
    print(json.dumps(ABOUT))
    sys.exit(0)
parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--discover", action="store_true")
if MODE != "argparse":
    parser.add_argument("--test", action="store_true")
args, _ = parser.parse_known_args(ARGS) if MODE.startswith("lenient") else (parser.parse_args(ARGS), [])
key = json.load(open(args.config))["api_key"]
CATALOG = {"streams": [{"tap_stream_id": "a", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                        "key_properties": ["id"], "metadata": []}]}
if args.discover:
    if MODE == "discover-log":
        print(f"Loading plugins for key {key}, " + "and more words " * 10)
        print('{"level": "info", "msg": "a JSON log line, not the catalog"}')
    if MODE == "discover-junk":
        print(f"Using key {key} " + "x" * 200)
        sys.exit(0)
    if MODE == "hang-setsid":
        child = subprocess.Popen(["sleep", "3600"], start_new_session=True)
        open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.pid"), "w").write(str(child.pid))
        time.sleep(3600)
    print(json.dumps(CATALOG, indent=2))
elif MODE in ("tested", "sdk-tap"):
    print(f"INFO connected with {key[:3]}: 1 stream", file=sys.stderr)
'''

MODES = ("argparse", "lenient", "lenient-about", "tested", "sdk-tap", "discover-log", "discover-junk", "hang-setsid")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "tap.py").write_text(PROGRAM)
    conns = [{"name": mode, "executable": sys.executable, "args": [str(tmp_path / "tap.py"), mode],
              "config": {"api_key": SECRET}} for mode in MODES]
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({"connectors": conns}))
    return tmp_path


def test_check_of_an_argparse_program_without_test_says_it_does_not_support_it(root: Path) -> None:
    done = sluice(["check", "argparse"], root)
    assert done.returncode == 1
    assert done.stderr.strip() == "sluice: argparse: check failed: argparse does not support --test"


@pytest.mark.parametrize(("mode", "why"), [("lenient", "it has no --about to say it has one"),
                                           ("lenient-about", "its --about lists no 'test' capability")])
def test_check_of_a_program_ignoring_test_says_it_only_started(root: Path, mode: str, why: str) -> None:
    done = sluice(["check", mode], root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"{mode}: ok: {mode} exited 0 on --test, but {why}: that shows only that the "
                                   "program starts, not that the connection works")
    assert "connection check passed" not in done.stdout


@pytest.mark.parametrize("mode", ["tested", "sdk-tap"])
def test_check_of_a_program_with_a_test_passes_with_its_message(root: Path, mode: str) -> None:
    done = sluice(["check", mode], root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{mode}: ok: INFO connected with sk-: 1 stream"


def test_discover_skips_log_lines_before_the_catalog_naming_the_first_redacted_and_cut(root: Path) -> None:
    done = sluice(["discover", "discover-log"], root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["streams"][0]["tap_stream_id"] == "a"
    first = ("Loading plugins for key ********, " + "and more words " * 10)[:80] + "..."
    assert done.stderr.strip() == (f"sluice: warning: discover-log --discover printed 2 lines on stdout before its "
                                   f"catalog; skipped, the first: '{first}'")
    assert SECRET not in done.stderr


def test_discover_without_a_json_catalog_quotes_the_start_of_its_stdout(root: Path) -> None:
    done = sluice(["discover", "discover-junk"], root)
    assert done.returncode == 1 and done.stdout == ""
    start = "Using key ******** " + "x" * 61 + "..."
    assert done.stderr.strip() == ("sluice: error: discover-junk --discover did not print a JSON catalog: its stdout "
                                   f"must hold only the catalog, and it begins '{start}'")


def test_a_discover_timeout_says_a_child_in_a_session_of_its_own_may_still_run(root: Path) -> None:
    try:
        done = sluice(["discover", "hang-setsid", "--timeout", "3"], root)
        assert done.returncode == 1
        assert done.stderr.strip() == ("sluice: error: hang-setsid: no answer after 3 s (its process group was "
                                       "stopped; a program it started in a session of its own may still run)")
    finally:
        wait_for(lambda: (root / "child.pid").exists(), timeout=10, what="the child's pid file")
        child = int((root / "child.pid").read_text())
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)

"""`sluice spec | check | discover | validate` on fixture connectors (programs behind pipes)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.runner.helpers import fixture_connector, sluice, sluice_env, write_project


def _project(tmp_path: Path, tap_config: dict[str, object]) -> None:
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", tap_config),
        fixture_connector("target-fix", "fixture_target.py", {"path": str(tmp_path / "out.jsonl")}),
    ])


def test_spec_prints_the_settings_schema(tmp_path: Path) -> None:
    _project(tmp_path, {"records": 1, "api_key": "${NOT_NEEDED_FOR_SPEC}"})
    done = sluice(["spec", "tap-fix"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["properties"]["api_key"]["secret"] is True
    assert json.loads(sluice(["spec", "tap-fix", "--full"], tmp_path).stdout)["name"] == "fixture-tap"


def test_check_passes_or_fails_with_the_connectors_message_and_no_secret(tmp_path: Path) -> None:
    _project(tmp_path, {"api_key": "k-9d8e7f6a", "log_secret": "k-9d8e7f6a"})
    done = sluice(["check", "tap-fix"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tap-fix: ok: connection check passed: 1 stream(s) available"
    _project(tmp_path, {"api_key": "k-9d8e7f6a", "log_secret": "k-9d8e7f6a", "test_fail": True})
    done = sluice(["check", "tap-fix"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "sluice: tap-fix: check failed: cannot connect: bad credentials"
    assert "k-9d8e7f6a" not in done.stdout + done.stderr


def test_discover_validates_the_catalog(tmp_path: Path) -> None:
    _project(tmp_path, {"records": 1})
    done = sluice(["discover", "tap-fix"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["streams"][0]["tap_stream_id"] == "items"
    _project(tmp_path, {"records": 1, "bad_catalog": True})
    done = sluice(["discover", "tap-fix", "-o", "catalogs/tap.json"], tmp_path)
    assert done.returncode == 1
    assert "stream 'items': key property 'no_such_field' is not in its schema" in done.stderr
    assert "stream 'broken'" in done.stderr and "has no 'properties'" in done.stderr
    assert not (tmp_path / "catalogs" / "tap.json").exists()


def test_validate_reads_each_catalog_file_as_discover_checks_a_catalog(tmp_path: Path) -> None:
    """A catalog file that is no JSON, or no Singer catalog, passed validate and failed (or misled) the run."""
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"records": 1}, catalog="catalogs/fix.json"),
        fixture_connector("tap-two", "fixture_tap.py", {"records": 1}, catalog="catalogs/two.json"),
        fixture_connector("target-fix", "fixture_target.py", {"path": "out.jsonl"}),
    ])
    (tmp_path / "catalogs").mkdir()
    (tmp_path / "catalogs" / "fix.json").write_text('{"streams": [')
    (tmp_path / "catalogs" / "two.json").write_text(json.dumps({"streams": [
        {"tap_stream_id": "items", "stream": "items", "key_properties": ["no_such_field"],
         "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}, "metadata": []}]}))
    done = sluice(["validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2, done.stderr
    assert f"connectors[0].catalog: catalog file {tmp_path / 'catalogs' / 'fix.json'} is not valid JSON" in done.stderr
    assert (f"connectors[1].catalog: {tmp_path / 'catalogs' / 'two.json'}: stream 'items': key property "
            "'no_such_field' is not in its schema") in done.stderr
    assert sluice(["discover", "tap-fix", "-o", "catalogs/fix.json"], tmp_path, env=sluice_env()).returncode == 0
    (tmp_path / "catalogs" / "two.json").write_bytes((tmp_path / "catalogs" / "fix.json").read_bytes())
    done = sluice(["validate"], tmp_path, env=sluice_env())
    assert done.returncode == 0, done.stderr


def test_validate_lists_every_problem_of_every_connector(tmp_path: Path) -> None:
    write_project(tmp_path, connectors=[
        fixture_connector("tap-fix", "fixture_tap.py", {"k": "${UNSET_ONE}"}, catalog="nope.json"),
        {"name": "target-fix", "executable": "no-such-target-xyz", "config": {"p": "${UNSET_TWO}"}},
    ])
    done = sluice(["validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2
    for fragment in ("connectors[0].config.k: environment variable UNSET_ONE is not set",
                     "connectors[0].catalog: catalog file not found",
                     "connectors[1].executable: program 'no-such-target-xyz' not found on PATH",
                     "connectors[1].config.p: environment variable UNSET_TWO is not set"):
        assert fragment in done.stderr

"""`sluice validate` reports the unknown settings of every connector of a project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import exe
from tests.integration.runner.helpers import fixture_connector, sluice, sluice_env, write_project


def _project(tmp_path: Path, tap_extra: dict[str, Any] | None = None,
             target_config: dict[str, Any] | str | None = None) -> None:
    (tmp_path / "users.csv").write_text("id\n1\n")
    tap_config = {"files": [{"entity": "users", "path": "users.csv", "delimeter": ";"}], **(tap_extra or {})}
    write_project(tmp_path, connectors=[
        {"name": "src", "executable": exe("tap-csv"), "config": tap_config},
        {"name": "dst", "executable": exe("target-jsonl"),
         "config": target_config if target_config is not None else {"destination_pth": "out"}},
        fixture_connector("third", "fixture_tap.py", {"records": 1, "recrods": 2, "options": {"page_sise": 5}}),
    ], pipelines=[{"name": "demo", "tap": "src", "target": "dst"}])


TAP_LINE = "connectors[0] (src): unknown setting 'files[0].delimeter' (did you mean 'delimiter'?)"
TARGET_LINE = "connectors[1] (dst): unknown setting 'destination_pth' (did you mean 'destination_path'?)"
THIRD_LINE = "connectors[2] (third): unknown setting 'recrods' (did you mean 'records'?)"


def test_validate_warns_per_connector_and_passes(tmp_path: Path) -> None:
    """Connectors not built on the Sluice kit are checked at the top level only (options.page_sise
    passes: a third-party schema may leave nested objects open without saying so)."""
    _project(tmp_path)
    done = sluice(["validate"], tmp_path, env=sluice_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"sluice: warning: {line}" for line in (TAP_LINE, TARGET_LINE, THIRD_LINE)]
    assert done.stdout.strip().endswith("ok (3 connectors, 1 pipeline; 3 unknown settings, see the warnings)")


def test_validate_strict_lists_them_all_and_exits_2(tmp_path: Path) -> None:
    _project(tmp_path)
    done = sluice(["validate", "--strict"], tmp_path, env=sluice_env())
    assert done.returncode == 2 and done.stdout == ""
    for line in (TAP_LINE, TARGET_LINE, THIRD_LINE):
        assert f"  {line}" in done.stderr.splitlines()


def test_a_connector_with_strict_settings_fails_validate_alone(tmp_path: Path) -> None:
    _project(tmp_path, tap_extra={"strict_settings": "${STRICT}"})
    done = sluice(["validate"], tmp_path, env=sluice_env(STRICT="true"))
    assert done.returncode == 2
    assert f"  {TAP_LINE}" in done.stderr.splitlines()
    assert f"sluice: warning: {TARGET_LINE}" in done.stderr.splitlines()


def test_config_with_a_missing_variable_is_still_checked(tmp_path: Path) -> None:
    (tmp_path / "dst.json").write_text('{"destination_path": "${OUT_DIR}", "do_timestmp_file": true}')
    _project(tmp_path, target_config="dst.json")
    done = sluice(["validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2  # the missing variable is a problem of its own
    assert "connectors[1].config(dst.json).destination_path: environment variable OUT_DIR is not set" in done.stderr
    assert ("sluice: warning: connectors[1] (dst): unknown setting 'do_timestmp_file' "
            "(did you mean 'do_timestamp_file'?)") in done.stderr.splitlines()


def test_a_clean_project_has_no_warning(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("id\n1\n")
    write_project(tmp_path, connectors=[
        {"name": "src", "executable": exe("tap-csv"),
         "config": {"files": [{"entity": "users", "path": "users.csv"}], "stream_maps": {}}},
        {"name": "dst", "executable": exe("target-jsonl"),
         "config": {"destination_path": "out", "default_target_schema": "x", "strict_settings": True}},
    ], pipelines=[{"name": "demo", "tap": "src", "target": "dst"}])
    done = sluice(["validate", "--strict"], tmp_path, env=sluice_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

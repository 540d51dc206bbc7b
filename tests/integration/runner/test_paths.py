"""Relative paths in a project resolve from its sluice.yml's directory, wherever `sluice` runs."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.integration.runner.helpers import sluice, sluice_env

HEADER = "id,name,updated_at\n"


def _rows(first: int, last: int) -> str:
    return "".join(f"{i},name {i},2024-01-{i:02d}T00:00:00Z\n" for i in range(first, last + 1))


def _project(proj: Path, token: str) -> Path:
    """tap-csv reading `data.csv`, into target-sqlite `<token>.db` and target-jsonl `<token>-out/`."""
    proj.mkdir()
    (proj / "data.csv").write_text(HEADER + _rows(1, 5))
    tap = {"name": "tap-csv", "executable": "tap-csv",
           "config": {"files": [{"entity": "items", "path": "data.csv", "keys": ["id"],
                                 "replication_key": "updated_at"}]}}
    (proj / "sluice.yml").write_text(yaml.safe_dump({
        "connectors": [tap,
                       {"name": "target-sqlite", "executable": "target-sqlite", "config": {"database": f"{token}.db"}},
                       {"name": "target-jsonl", "executable": "target-jsonl",
                        "config": {"destination_path": f"{token}-out"}}],
        "pipelines": [{"name": "x", "tap": "tap-csv", "target": "target-sqlite"},
                      {"name": "j", "tap": "tap-csv", "target": "target-jsonl"}],
    }, sort_keys=False))
    return proj / "sluice.yml"


@pytest.fixture
def token() -> Iterator[str]:
    """A unique name for the outputs, and the removal of any stray copy of them in `/`."""
    name = f"sluice-paths-{uuid.uuid4().hex[:8]}"
    yield name
    Path(f"/{name}.db").unlink(missing_ok=True)
    shutil.rmtree(f"/{name}-out", ignore_errors=True)


@pytest.mark.parametrize("where", ["subdir", "root"])
def test_a_pipeline_run_from_another_directory_reads_and_writes_in_the_project(tmp_path: Path, token: str,
                                                                                where: str) -> None:
    project = _project(tmp_path / "proj", token)
    cwd = tmp_path / "elsewhere" if where == "subdir" else Path("/")
    cwd.mkdir(exist_ok=True)
    arg = os.path.relpath(project, cwd) if where == "subdir" else str(project)
    first = sluice(["-p", arg, "run", "x"], cwd)
    assert first.returncode == 0, first.stderr
    with (project.parent / "data.csv").open("a") as fh:
        fh.write(_rows(6, 8))
    second = sluice(["-p", arg, "run", "x"], cwd)
    assert second.returncode == 0, second.stderr
    database = project.parent / f"{token}.db"
    with closing(sqlite3.connect(database)) as conn:  # the increment landed in the same database
        assert [r[0] for r in conn.execute("select id from items order by id")] == list(range(1, 9))
    assert not (cwd / f"{token}.db").exists()
    jsonl = sluice(["-p", arg, "run", "j"], cwd)
    assert jsonl.returncode == 0, jsonl.stderr
    assert len((project.parent / f"{token}-out" / "items.jsonl").read_text().splitlines()) == 8
    assert not (cwd / f"{token}-out").exists()
    if where == "subdir":
        assert os.listdir(cwd) == []
    assert (project.parent / ".sluice" / "state.db").exists()


def test_check_discover_and_dry_run_use_the_project_directory(tmp_path: Path, token: str) -> None:
    project = _project(tmp_path / "proj", token)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    done = sluice(["-p", "../proj", "check", "tap-csv"], cwd)
    assert done.returncode == 0, done.stderr
    done = sluice(["-p", "../proj/sluice.yml", "discover", "tap-csv", "-o", "catalog.json"], cwd)
    assert done.returncode == 0, done.stderr
    assert (cwd / "catalog.json").exists()  # a path typed on the command line: from the current directory
    assert not (project.parent / "catalog.json").exists()
    dry = sluice(["-p", "../proj", "run", "x", "--dry-run"], cwd)
    assert f"dir:    {project.parent.resolve()} " in dry.stdout


def test_an_ad_hoc_program_path_is_relative_to_the_current_directory(tmp_path: Path, token: str) -> None:
    project = _project(tmp_path / "proj", token)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    script = cwd / "my-target"
    script.write_text("#!/bin/sh\ncat > received.jsonl\n")
    script.chmod(0o755)
    done = sluice(["-p", str(project), "run", "tap-csv", "./my-target"], cwd)
    assert done.returncode == 0, done.stderr
    assert '"type":"RECORD"' in (project.parent / "received.jsonl").read_text().replace(" ", "")
    assert not (cwd / "received.jsonl").exists()


def test_crontab_lines_are_the_same_from_any_directory(tmp_path: Path, token: str) -> None:
    project = _project(tmp_path / "proj", token)
    data = yaml.safe_load(project.read_text())
    data["pipelines"][0]["schedule"] = "*/5 * * * *"
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    a, b = tmp_path / "a", tmp_path / "a" / "b"
    b.mkdir(parents=True)
    env = sluice_env(PATH=f"bin:.::{os.environ['PATH']}")  # relative PATH entries mean nothing to cron
    one = sluice(["-p", "../proj/sluice.yml", "crontab", "--metrics-file", "m.prom"], a, env=env)
    two = sluice(["-p", "../../proj/sluice.yml", "crontab", "--metrics-file", "../m.prom"], b, env=env)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout
    (line,) = [x for x in one.stdout.splitlines() if not x.startswith("#")]
    assert "cd " not in line and str(tmp_path / "a") + " " not in line
    assert f"--project {project.resolve()} run x --metrics-file {(a / 'm.prom').resolve()}" in line
    path = line.split("PATH=", 1)[1].split(" ", 1)[0]
    assert all(os.path.isabs(entry) for entry in path.split(":"))
    executable = line.split("PATH=", 1)[1].split(" ")[1]
    assert os.path.isabs(executable) and os.access(executable, os.X_OK)


def test_crontab_refuses_what_a_crontab_line_cannot_carry(tmp_path: Path, token: str) -> None:
    """A newline in the project's path would start another crontab entry (an injected command); with
    SLUICE_STATE_URL set here the lines would run against another store; the lines run this runner,
    not the first ``sluice`` on PATH."""
    odd = tmp_path / "nl\n* * * * * touch pwned #"
    odd.mkdir()
    project = _project(odd / "proj", token)
    data = yaml.safe_load(project.read_text())
    data["pipelines"][0]["schedule"] = "*/5 * * * *"
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    refused = sluice(["-p", str(project), "crontab"], tmp_path, env=sluice_env())
    assert refused.returncode == 2 and "control character" in refused.stderr and refused.stdout == ""

    plain = _project(tmp_path / "plain", token)
    data = yaml.safe_load(plain.read_text())
    data["pipelines"][0]["schedule"] = "*/5 * * * *"
    plain.write_text(yaml.safe_dump(data, sort_keys=False))
    store = sluice(["-p", str(plain), "crontab"], tmp_path,
                   env=sluice_env(SLUICE_STATE_URL="postgresql://u:pw@127.0.0.1:1/db"))
    assert store.returncode == 2 and "SLUICE_STATE_URL is set here, but cron runs without it" in store.stderr
    assert "pw@" not in store.stderr

    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "sluice").write_text("#!/bin/sh\nexit 0\n")
    (fake / "sluice").chmod(0o755)
    lines = subprocess.run([sys.executable, "-m", "runner", "-p", str(plain), "crontab"], cwd=tmp_path,
                           env=sluice_env(PATH=f"{fake}:{os.environ['PATH']}"), capture_output=True, text=True,
                           timeout=120, check=False)
    assert lines.returncode == 0, lines.stderr
    assert str(fake / "sluice") not in lines.stdout and str(Path(sys.executable).parent / "sluice") in lines.stdout


@pytest.mark.parametrize("schedule", ["@reboot touch /tmp/x ; #", "99 99 99 99 99", "a b c d e", "* * * * %",
                                      "*\n*\n*\n*\n*", "*/5 * * * *\n"])
def test_a_schedule_cron_would_not_take_as_written_is_a_problem(tmp_path: Path, token: str, schedule: str) -> None:
    project = _project(tmp_path / "proj", token)
    data = yaml.safe_load(project.read_text())
    data["pipelines"][0]["schedule"] = schedule
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    done = sluice(["-p", str(project), "validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2 and "pipelines[0].schedule" in done.stderr, done.stderr


def test_a_name_or_tenant_id_ending_in_a_newline_is_a_problem(tmp_path: Path, token: str) -> None:
    """"$" matches before a final newline: ``p\n`` passed, and split crontab lines, file names, state ids."""
    project = _project(tmp_path / "proj", token)
    data = yaml.safe_load(project.read_text())
    data["pipelines"][1]["name"] = "j\n"
    data["pipelines"][0]["for_each"] = [{"id": "acme"}, {"id": "acme\n"}]
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    done = sluice(["-p", str(project), "validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2 and "pipelines[1].name" in done.stderr, done.stderr
    data["pipelines"][1]["name"] = "j"
    project.write_text(yaml.safe_dump(data, sort_keys=False))
    done = sluice(["-p", str(project), "validate"], tmp_path, env=sluice_env())
    assert done.returncode == 2 and "'acme\\n' is not a valid tenant id" in done.stderr, done.stderr

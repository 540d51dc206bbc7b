"""for_each: many tenants from one pipeline, run for real: tap-csv into target-postgres, a schema each."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from protocol import ExitCode
from runner.outcome import combine_exit_codes
from tests.conftest import pg_address
from tests.integration.runner.helpers import fixture_connector, sluice, sluice_env

TENANTS = 50
BAD_LOGIN = 13  # its user does not exist: the target cannot log in
NO_SECRET = 27  # its password variable is not set: a configuration error before anything starts


def _tenant(i: int) -> str:
    return f"t{i:02d}"


def _rows(i: int) -> list[tuple[int, str]]:
    """Tenant i's rows: 1 to 3 of them, the last updated on a day of its own (its bookmark)."""
    return [(n, f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}T00:0{n}:00+00:00") for n in range(1, 2 + i % 3)]


def _write_tenants_project(root: Path, dsn: str) -> dict[str, str]:
    """50 tenants of one pipeline; the environment holding their secrets."""
    host, port = pg_address(dsn)
    (root / "data").mkdir()
    env = sluice_env()
    for i in range(TENANTS):
        tid = _tenant(i)
        lines = ["id,name,updated"] + [f"{n},{tid}-row{n},{ts}" for n, ts in _rows(i)]
        (root / "data" / f"{tid}.csv").write_text("\n".join(lines) + "\n")
        env[f"{tid.upper()}_DB_USER"] = f"nobody_{tid}" if i == BAD_LOGIN else "postgres"
        if i != NO_SECRET:
            env[f"{tid.upper()}_DB_PASSWORD"] = f"pw-{tid}-secret"
    (root / "tenants.json").write_text(json.dumps([{"id": _tenant(i), "rows": len(_rows(i))}
                                                   for i in range(TENANTS)]))
    project = {
        "connectors": [
            {"name": "shop", "executable": "tap-csv",
             "config": {"files": [{"entity": "orders", "path": "data/${tenant.id}.csv", "keys": ["id"],
                                   "replication_key": "updated"}]}},
            {"name": "warehouse", "executable": "target-postgres",
             "config": {"host": host, "port": port, "database": dsn.rsplit("/", 1)[1],
                        "user": "${tenant.env.DB_USER}", "password": "${tenant.env.DB_PASSWORD}",
                        "default_target_schema": "tenant_${tenant.id}"}},
        ],
        "pipelines": [{"name": "orders", "tap": "shop", "target": "warehouse", "schedule": "@hourly",
                       "for_each": "tenants.json"}],
    }
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return env


@pytest.mark.postgres
def test_fifty_tenants_each_into_its_own_schema_with_its_own_state(tmp_path: Path, pg_dsn: str) -> None:
    env = _write_tenants_project(tmp_path, pg_dsn)
    done = sluice(["run", "--all", "-j", "4"], tmp_path, env=env, timeout=600)
    bad, missing = f"orders@{_tenant(BAD_LOGIN)}", f"orders@{_tenant(NO_SECRET)}"
    assert done.returncode == combine_exit_codes([ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE]), done.stderr
    last = done.stderr.splitlines()[-1]
    assert last == (f"sluice: {TENANTS - 2} of {TENANTS} pipelines succeeded; "
                    f"failed: {bad} (exit {int(ExitCode.FAILED)}), {missing} (exit {int(ExitCode.USAGE)})")
    # the failing tenants' own error lines name them
    (login,) = [line for line in done.stderr.splitlines() if line.startswith(f"[{bad}] sluice: error: ")]
    assert "target 'warehouse'" in login and f'role "nobody_{_tenant(BAD_LOGIN)}" does not exist' in login
    assert f"[{missing}]   connectors[1]@{_tenant(NO_SECRET)}.config.password: environment variable " \
           f"{_tenant(NO_SECRET).upper()}_DB_PASSWORD is not set" in done.stderr
    assert "-secret" not in done.stderr  # the tenants' passwords are secrets
    with psycopg.connect(pg_dsn) as conn:
        schemas = {row[0] for row in conn.execute("select schema_name from information_schema.schemata "
                                                  "where schema_name like 'tenant_%'")}
        assert schemas == {f"tenant_{_tenant(i)}" for i in range(TENANTS) if i not in (BAD_LOGIN, NO_SECRET)}
        for i in range(TENANTS):
            if i in (BAD_LOGIN, NO_SECRET):
                continue
            rows = conn.execute(f"select id, name from tenant_{_tenant(i)}.orders order by id").fetchall()
            assert rows == [(n, f"{_tenant(i)}-row{n}") for n, _ in _rows(i)]
    states = sluice(["state", "list"], tmp_path, env=env).stdout
    assert sorted(line.split("\t")[0] for line in states.splitlines()) == \
        sorted(f"orders@{_tenant(i)}" for i in range(TENANTS) if i not in (BAD_LOGIN, NO_SECRET))
    for i in (0, 1, 29, 49):
        state = json.loads(sluice(["state", "get", f"orders@{_tenant(i)}"], tmp_path, env=env).stdout)
        assert state["bookmarks"]["orders"]["replication_key_value"] == _rows(i)[-1][1]
    history = sluice(["runs", "orders", "-n", "100"], tmp_path, env=env).stdout.splitlines()[1:]
    by_pipeline = {line.split("\t")[1]: line.split("\t")[4] for line in history}
    assert by_pipeline[bad] == "failed" and by_pipeline["orders@t00"] == "succeeded"
    assert len(by_pipeline) == TENANTS - 1  # the tenant whose config could not be resolved never started a run
    cron = sluice(["crontab"], tmp_path, env=env).stdout
    assert sum(f" run orders@{_tenant(i)} " in cron for i in range(TENANTS)) == TENANTS


def _dump(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def test_a_tenant_sees_none_of_another_tenants_secrets_or_files(tmp_path: Path) -> None:
    secrets = {"acme": "acme-token-1111", "globex": "globex-token-2222", "initech": "initech-token-3333"}
    project = {
        "connectors": [
            fixture_connector("tap-fix", "fixture_tap.py",
                              {"records": 3, "dump_env": "dumps/${tenant.id}.json",
                               "api_key": "${tenant.env.API_KEY}"},
                              env={"TOKEN": "${tenant.env.API_TOKEN}"}),
            {"name": "out", "executable": "target-jsonl", "config": {"destination_path": "out/${tenant.id}"}},
        ],
        "pipelines": [{"name": "sync", "tap": "tap-fix", "target": "out",
                       "for_each": [{"id": tid} for tid in secrets]}],
    }
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (tmp_path / "dumps").mkdir()
    env = sluice_env(**{f"{tid.upper()}_API_TOKEN": token for tid, token in secrets.items()},
                     **{f"{tid.upper()}_API_KEY": token[::-1] for tid, token in secrets.items()})
    done = sluice(["run", "sync", "-j", "2"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "sluice: 3 of 3 pipelines succeeded"
    for tid, token in secrets.items():
        dump = _dump(tmp_path / "dumps" / f"{tid}.json")
        assert dump["env"]["TOKEN"] == token
        others = [t for other, t in secrets.items() if other != tid]
        seen = json.dumps(dump["env"]) + json.dumps(dump["runner_env"])
        for other in others:
            assert other not in seen and other[::-1] not in seen, (tid, other)
        assert f"{tid.upper()}_API_TOKEN={token}" in dump["runner_env"]  # its own runner has its own
        config = Path(dump["config_path"])
        assert config.parent.parent == tmp_path / ".sluice" / "tmp" / f"tenant-{tid}"
        assert dump["config_mode"] == 0o600
        assert stat.S_IMODE(config.parent.parent.stat().st_mode) == 0o700
        assert [json.loads(line)["id"] for line in (tmp_path / "out" / tid / "items.jsonl").read_text().splitlines()] \
            == [1, 2, 3]


@pytest.mark.parametrize("run_as", [["run", "sync"], ["run", "sync@acme"]], ids=["all-tenants", "one-tenant"])
def test_a_tenant_reads_no_other_tenants_secret_from_dot_env(tmp_path: Path, run_as: list[str]) -> None:
    """The other tenants' variables were taken out of the environment only, and only by a parent `run sync`:
    from `.env` (which docs/secrets.md recommends for secrets), or in `sluice run sync@acme` (the form
    `sluice crontab` writes), acme's run read globex's token."""
    project = {
        "connectors": [
            fixture_connector("tap-fix", "fixture_tap.py", {"records": 1, "dump_env": "dumps/${tenant.id}.json"},
                              env={"TOKEN": "${tenant.env.API_TOKEN}", "OTHER": "${GLOBEX_API_TOKEN:-none}"}),
            {"name": "out", "executable": "target-jsonl", "config": {"destination_path": "out/${tenant.id}"}},
        ],
        "pipelines": [{"name": "sync", "tap": "tap-fix", "target": "out",
                       "for_each": [{"id": "acme"}, {"id": "globex"}]}],
    }
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (tmp_path / ".env").write_text("ACME_API_TOKEN=acme-token-1111\nGLOBEX_API_TOKEN=globex-token-2222\n")
    (tmp_path / "dumps").mkdir()
    done = sluice(run_as, tmp_path, env=sluice_env())
    assert done.returncode == 0, done.stderr
    dump = _dump(tmp_path / "dumps" / "acme.json")
    assert dump["env"]["TOKEN"] == "acme-token-1111" and dump["env"]["OTHER"] == "none"
    assert "globex-token-2222" not in json.dumps(dump)

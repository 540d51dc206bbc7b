"""environments: through real ``sluice`` runs: tap-csv into target-jsonl, a dev and a prod overlay.

A dev run and a prod run of one pipeline keep their own bookmarks (tap-csv's replication key), whichever
way the environment is chosen (``--environment`` before or after ``run``, ``SLUICE_ENVIRONMENT``,
``default_environment``) and whichever path reads the command line (the click-free ``sluice run PIPELINE``
or click); ``--all``, ``crontab``, ``config show`` and ``validate`` read the environment's project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.integration.runner.helpers import sluice, sluice_env

SECRET = "pw-Zq81!xT"  # a state store / connector secret that must never be shown


def _rows(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def _csv(root: Path, ids: list[int]) -> None:
    (root / "a.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in ids))


def _project(root: Path, **extra: Any) -> Path:
    files = [{"entity": "a", "path": "a.csv", "keys": ["id"], "replication_key": "id", "types": {"id": "integer"}}]
    project = {
        "connectors": [
            {"name": "csv", "executable": "tap-csv", "config": {"files": files}},
            {"name": "jsonl", "executable": "target-jsonl", "config": {"destination_path": "out-base"}},
        ],
        "pipelines": [
            {"name": "sync", "tap": "csv", "target": "jsonl", "schedule": "0 * * * *"},
            {"name": "copy", "tap": "csv", "target": "jsonl", "enabled": False},
        ],
        "environments": {
            "dev": {"connectors": {"jsonl": {"config": {"destination_path": "out-dev"}}},
                    "pipelines": {"sync": {"schedule": "*/5 * * * *"}}},
            "prod": {
                "connectors": {"jsonl": {"config": {"destination_path": "out-prod", "api_password": "${PROD_PW}"},
                                         "secrets": ["api_password"], "env": {"VENDOR_TOKEN": "${PROD_PW}"}}},
                "pipelines": {"copy": {"enabled": True, "state_id": "copy-v2"}},
            },
        },
        **extra,
    }
    path = root / "sluice.yml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def _state(root: Path, *args: str) -> dict[str, Any]:
    done = sluice(["state", "get", *args], root)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _bookmark(root: Path, *args: str) -> int:
    return int(_state(root, *args)["bookmarks"]["a"]["replication_key_value"])


def test_dev_and_prod_runs_keep_separate_state(tmp_path: Path) -> None:
    _project(tmp_path)
    env = sluice_env(PROD_PW=SECRET)
    _csv(tmp_path, [1, 2, 3])
    dev = sluice(["run", "sync", "--environment", "dev"], tmp_path, env=env)  # the click-free path
    assert dev.returncode == 0, dev.stderr
    assert "stored under 'dev:sync'" in dev.stderr
    assert _rows(tmp_path / "out-dev" / "a.jsonl") == [1, 2, 3]

    _csv(tmp_path, [1, 2, 3, 4, 5])
    prod = sluice(["run", "sync"], tmp_path, env={**env, "SLUICE_ENVIRONMENT": "prod"})
    assert prod.returncode == 0, prod.stderr
    assert _rows(tmp_path / "out-prod" / "a.jsonl") == [1, 2, 3, 4, 5]  # dev's bookmark did not move prod's

    _csv(tmp_path, [1, 2, 3, 4, 5, 6, 7])
    again = sluice(["-e", "dev", "run", "sync", "--timeout", "120"], tmp_path, env=env)  # through click
    assert again.returncode == 0, again.stderr
    assert _rows(tmp_path / "out-dev" / "a.jsonl") == [1, 2, 3, 3, 4, 5, 6, 7]  # from dev's own bookmark, 3

    assert _bookmark(tmp_path, "sync", "-e", "dev") == 7
    assert _bookmark(tmp_path, "sync", "-e", "prod") == 5
    assert _bookmark(tmp_path, "dev:sync") == 7  # the stored id, as `state list` shows it
    listed = sluice(["state", "list"], tmp_path)
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["dev:sync", "prod:sync"]
    assert not (tmp_path / "out-base").exists()
    missing = sluice(["state", "get", "sync"], tmp_path)  # the base project's id: never written
    assert missing.returncode == 1


def test_the_base_project_and_a_shared_scope_keep_the_plain_ids(tmp_path: Path) -> None:
    path = _project(tmp_path)
    _csv(tmp_path, [4, 9])
    base = sluice(["run", "sync"], tmp_path)
    assert base.returncode == 0, base.stderr
    assert "stored under 'sync'" in base.stderr
    data = yaml.safe_load(path.read_text())
    data["environments"]["dev"]["state_id_scope"] = "shared"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _csv(tmp_path, [4, 9, 12])
    dev = sluice(["run", "sync", "-e", "dev"], tmp_path)
    assert dev.returncode == 0, dev.stderr
    assert _rows(tmp_path / "out-dev" / "a.jsonl") == [9, 12]  # resumed from the base run's bookmark
    assert _bookmark(tmp_path, "sync") == 12


def test_the_default_environment_and_an_unknown_one(tmp_path: Path) -> None:
    _project(tmp_path, default_environment="dev")
    _csv(tmp_path, [1])
    done = sluice(["run", "sync"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "stored under 'dev:sync'" in done.stderr
    for args in (["run", "sync", "-e", "stage"], ["run", "sync", "-e", "stage", "--timeout", "9"],
                 ["-e", "stage", "state", "list"], ["validate", "--environment", "stage"]):
        bad = sluice(args, tmp_path)
        assert bad.returncode == 2, args
        assert bad.stderr.splitlines() == [
            f"sluice: error: {tmp_path / 'sluice.yml'}: no environment named 'stage' (--environment); "
            "environments: dev, prod"], args


def test_run_all_and_crontab_take_the_environments_pipelines(tmp_path: Path) -> None:
    _project(tmp_path)
    _csv(tmp_path, [1, 2])
    env = sluice_env(PROD_PW=SECRET)
    done = sluice(["run", "--all", "-e", "prod"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    listed = sluice(["state", "list"], tmp_path).stdout
    assert sorted(line.split("\t")[0] for line in listed.splitlines()) == ["prod:copy-v2", "prod:sync"]
    dev_all = sluice(["--environment", "dev", "run", "--all"], tmp_path)
    assert dev_all.returncode == 0, dev_all.stderr
    listed = sluice(["state", "list"], tmp_path).stdout
    assert sorted(line.split("\t")[0] for line in listed.splitlines()) == ["dev:sync", "prod:copy-v2", "prod:sync"]
    refused = sluice(["run", "copy", "-e", "dev"], tmp_path)
    assert refused.returncode == 2
    assert "pipeline 'copy' is disabled in environment 'dev'" in refused.stderr

    cron = sluice(["crontab", "-e", "dev"], tmp_path).stdout.splitlines()[1:]
    assert len(cron) == 1 and cron[0].startswith("*/5 * * * * ")
    assert "--environment dev run sync" in cron[0]
    base = sluice(["crontab"], tmp_path).stdout.splitlines()[1:]
    assert len(base) == 1 and base[0].startswith("0 * * * * ") and "--environment" not in base[0]


def test_config_show_prints_the_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    _project(tmp_path, state_store="postgresql://loader:${PROD_PW}@db.invalid/state")  # config show opens no store
    env = sluice_env(PROD_PW=SECRET)
    done = sluice(["config", "show", "sync", "--environment", "prod"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    shown = json.loads(done.stdout)
    assert (shown["environment"], shown["pipeline"], shown["state_id"]) == ("prod", "sync", "prod:sync")
    assert shown["state_store"] == "postgresql://loader:********@db.invalid/state"
    assert shown["target"]["config"] == {"destination_path": "out-prod", "api_password": "********"}
    assert shown["target"]["env"] == {"VENDOR_TOKEN": "********"}
    assert shown["tap"]["config"]["files"][0]["path"] == "a.csv"
    dev = json.loads(sluice(["config", "show", "sync", "-e", "dev"], tmp_path, env=env).stdout)
    assert dev["target"]["config"] == {"destination_path": "out-dev"}
    assert (dev["state_id"], dev["schedule"]) == ("dev:sync", "*/5 * * * *")


def test_validate_checks_every_environment(tmp_path: Path) -> None:
    path = _project(tmp_path)
    ok = sluice(["validate"], tmp_path, env=sluice_env(PROD_PW=SECRET))
    assert ok.returncode == 0, ok.stderr
    data = yaml.safe_load(path.read_text())
    data["environments"]["dev"]["pipelines"]["sync"]["target"] = "nowhere"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    bad = sluice(["validate", "-e", "prod"], tmp_path, env=sluice_env(PROD_PW=SECRET))
    assert bad.returncode == 2
    assert "environments.dev: pipelines[0].target: no connector named 'nowhere'" in bad.stderr


MERGE_KEYS = """\
connectors:
  - name: csv
    executable: tap-csv
    config: &csv
      files: [{entity: a, path: a.csv, keys: [id], replication_key: id, types: {id: integer}}]
  - name: csv-copy
    executable: tap-csv
    config:
      <<: *csv
  - name: jsonl
    executable: target-jsonl
    config: &jsonl
      destination_path: out-base
pipelines:
  - {name: sync, tap: csv-copy, target: jsonl}
environments:
  dev: {}
  prod:
    connectors:
      jsonl:
        config:
          <<: *jsonl
          destination_path: out-prod
"""


def test_yaml_merge_keys_reach_the_connectors(tmp_path: Path) -> None:
    """``<<: *anchor`` merges as YAML 1.1 says, in a connector and in an overlay (the keys written beside
    it win): csv-copy has only the merged files; prod's target writes where its own key says."""
    (tmp_path / "sluice.yml").write_text(MERGE_KEYS)
    _csv(tmp_path, [1, 2])
    checked = sluice(["validate"], tmp_path)
    assert checked.returncode == 0 and "sluice.yml: ok" in checked.stdout + checked.stderr, checked.stderr
    for env in ("dev", "prod"):
        done = sluice(["run", "sync", "-e", env], tmp_path)
        assert done.returncode == 0, done.stderr
    assert _rows(tmp_path / "out-base" / "a.jsonl") == [1, 2]  # dev: the base's target
    assert _rows(tmp_path / "out-prod" / "a.jsonl") == [1, 2]
    assert _bookmark(tmp_path, "sync", "-e", "prod") == 2


def test_state_get_of_nothing_stored_names_the_environments_state_id(tmp_path: Path) -> None:
    _project(tmp_path)
    missing = sluice(["state", "get", "sync", "-e", "dev"], tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "sluice: no state stored for 'sync' (state id 'dev:sync')"
    plain = sluice(["state", "get", "sync"], tmp_path)
    assert plain.stderr.strip() == "sluice: no state stored for 'sync'"

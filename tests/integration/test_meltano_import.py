"""`sluice import meltano.yml`: a realistic Meltano project becomes a sluice.yml that validates and runs.

The project in meltano_project/ has Hub plugins of several variants, an inherited plugin, a plugin
known by its lock file, `$VAR` references, literal secrets (in config, in a URL, nested, declared
sensitive, in env:), a .env file, select with negation, metadata, jobs with a command and a mapper,
schedules (of jobs, of an extractor and a loader, @once), a mapper, a utility and two environments.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.integration.runner.helpers import sluice, sluice_env

FIXTURE = Path(__file__).parent / "meltano_project"

# every secret value written in the fixture's meltano.yml and .env
SECRETS = ["pg-literal-s3cret", "env-secret-7d41c0", "tok-live-93be1f", "url-p4ss-0x9", "ssh-key-body-55aa",
           "LOADER_ROLE_X9", "ghp-dotenv-a1b2c3", "snow-dotenv-77", "deploy-token-8812"]

_ALL = {"selected": True, "*": {"selected": True}}
_NONE = {"*": {"selected": False, "*": {"selected": False}}}

EXPECTED: dict[str, Any] = {
    "version": 1,
    "connectors": [
        {"name": "tap-postgres", "executable": "tap-postgres", "pip_url": "meltanolabs-tap-postgres==0.0.14",
         "config": {"host": "${PG_HOST:-prod-db.internal}", "port": 5432, "user": "loader",
                    "password": "${TAP_POSTGRES_PASSWORD}", "database": "shop", "filter_schemas": ["public"]},
         "metadata": {**_NONE,
                      "public-orders": {**_ALL, "replication-method": "INCREMENTAL", "replication-key": "updated_at"},
                      "public-customers": {**_ALL, "ssn": {"selected": False}, "card_*": {"selected": False}}},
         "secrets": ["password"]},
        # inherited: the parent's pip_url, executable, config (its password, under the parent's variable),
        # metadata; its own select
        {"name": "tap-postgres--archive", "executable": "tap-postgres", "pip_url": "meltanolabs-tap-postgres==0.0.14",
         "config": {"host": "${PG_ARCHIVE_HOST}", "port": 5432, "user": "loader",
                    "password": "${TAP_POSTGRES_PASSWORD}", "database": "shop_archive", "filter_schemas": ["public"]},
         "metadata": {**_NONE, "public-archive_*": _ALL,
                      "public-orders": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}},
         "secrets": ["password"]},
        # pip_url and executable from the lock file; the prod environment's start_date and select; the token
        # Meltano read from .env, by name only
        {"name": "tap-github", "executable": "tap-github", "pip_url": "meltanolabs-tap-github==1.10.0",
         "config": {"repositories": ["acme/widgets"], "start_date": "2023-06-01",
                    "auth_token": "${TAP_GITHUB_AUTH_TOKEN}"},
         "metadata": {**_NONE, "issues": _ALL, "pull_requests": _ALL},
         "secrets": ["auth_token"]},
        {"name": "tap-csv", "executable": "tap-csv", "pip_url": "-e ../../..",
         "config": {"files": [{"entity": "customers", "path": "data/customers.csv", "keys": ["id"]}]},
         "metadata": {"*": _ALL}},
        {"name": "tap-rest-api-msdk", "executable": "tap-rest-api-msdk", "pip_url": "tap-rest-api-msdk==1.4.1",
         "config": {"api_url": "https://api.example.com/v2", "bearer_token": "${TAP_REST_API_MSDK_BEARER_TOKEN}",
                    "streams": [{"name": "invoices", "path": "/invoices", "primary_keys": ["id"]}]},
         "metadata": {"*": _ALL},
         "secrets": ["bearer_token"]},
        # its pip_url holds a token: left out; capabilities without catalog: no metadata, as in Meltano
        {"name": "tap-internal", "executable": "tap-internal"},
        {"name": "target-postgres", "executable": "target-postgres", "pip_url": "meltanolabs-target-postgres==0.0.9",
         "config": {"sqlalchemy_url": "${TARGET_POSTGRES_SQLALCHEMY_URL}",
                    "default_target_schema": "${MELTANO_EXTRACT__LOAD_SCHEMA}",
                    "ssh_tunnel": {"enable": False, "private_key": "${TARGET_POSTGRES_SSH_TUNNEL_PRIVATE_KEY}"}},
         "secrets": ["sqlalchemy_url", "ssh_tunnel"]},
        {"name": "target-jsonl", "executable": "target-jsonl", "pip_url": "-e ../../..",
         "config": {"destination_path": "./output"}},
        {"name": "target-snowflake", "executable": "target-snowflake",
         "pip_url": "pipelinewise-target-snowflake==2.2.0",
         "config": {"account": "acme-eu", "role": "${TARGET_SNOWFLAKE_ROLE}", "dbname": "RAW",
                    "escaped": "$NOT_A_VAR and $${NOT_EITHER}", "password": "${TARGET_SNOWFLAKE_PASSWORD}"},
         "secrets": ["password", "role"]},
    ],
    "pipelines": [
        {"name": "daily-warehouse-1", "tap": "tap-postgres", "target": "target-postgres",
         "state_id": "tap-postgres-to-target-postgres", "schedule": "@daily"},
        {"name": "daily-warehouse-2", "tap": "tap-github", "target": "target-postgres",
         "state_id": "tap-github-to-target-postgres", "schedule": "@daily"},
        {"name": "csv-to-jsonl", "tap": "tap-csv", "target": "target-jsonl", "state_id": "tap-csv-to-target-jsonl",
         "schedule": "*/15 * * * *"},
        {"name": "archive-nightly", "tap": "tap-postgres--archive", "target": "target-snowflake",
         "schedule": "0 2 * * *"},
        {"name": "backfill-once", "tap": "tap-rest-api-msdk", "target": "target-jsonl"},
    ],
}

ENV_VARS = {"MELTANO_EXTRACT__LOAD_SCHEMA", "PG_ARCHIVE_HOST", "SHARED_API_SECRET", "TAP_GITHUB_AUTH_TOKEN",
            "TAP_POSTGRES_PASSWORD", "TAP_REST_API_MSDK_BEARER_TOKEN", "TARGET_POSTGRES_SQLALCHEMY_URL",
            "TARGET_POSTGRES_SSH_TUNNEL_PRIVATE_KEY", "TARGET_SNOWFLAKE_PASSWORD", "TARGET_SNOWFLAKE_ROLE"}


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "meltano"
    shutil.copytree(FIXTURE, root)
    return root


def _report_vars(stderr: str) -> set[str]:
    section = stderr.split("environment variables to set", 1)[1].split("notes:", 1)[0]
    return set(re.findall(r"^sluice import:\s+([A-Z][A-Z0-9_]+)\s", section, re.M))


def test_import_writes_the_project_as_sluice_yml(tmp_path: Path) -> None:
    root = _project(tmp_path)
    done = sluice(["import"], root)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert yaml.safe_load((root / "sluice.yml").read_text()) == EXPECTED
    report = done.stderr
    for line in ("job daily-warehouse task 2: dbt-postgres:run: a command",
                 "job masked task 1: tap-postgres hide-emails target-snowflake: mapper hide-emails is not converted",
                 "schedule backfill-once.interval @once: not a cron schedule",
                 "mapper meltano-map-transformer: not converted by sluice import: declare it as a connector and "
                 "list it under a pipeline's maps:",
                 "utility dbt-postgres: sluice runs taps, mappers and targets only (utilities are Meltano's)",
                 "tap-rest-api-msdk.schema: catalog schema overrides",
                 "state_backend: a Meltano setting with no sluice.yml equivalent",
                 "environment dev: only one environment is converted",
                 "$MELTANO_EXTRACT__LOAD_SCHEMA (target-postgres.config.default_target_schema): Meltano sets it",
                 "tap-internal.pip_url: it carries a credential",
                 "tap-internal.select/metadata: its capabilities name neither catalog nor properties",
                 "schedule masked-hourly: its job 'masked' gave no pipeline"):
        assert line in report, line
    assert _report_vars(report) == ENV_VARS


def test_the_imported_file_validates_once_its_variables_are_set(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert sluice(["import"], root).returncode == 0
    bin_dir = tmp_path / "bin"  # the two third-party programs, as installed ones would answer
    bin_dir.mkdir()
    for name in ("tap-rest-api-msdk", "target-snowflake", "tap-internal"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    env = sluice_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    unset = sluice(["validate"], root, env=env)
    assert unset.returncode == 2
    missing = set(re.findall(r"environment variable (\w+) is not set", unset.stderr))
    # every variable validate wants is in the report; the report's one extra is the secret of the
    # project's env:, which no setting references; the two in the project's .env (Meltano's file,
    # beside sluice.yml) are filled from it, as Meltano fills them (docs/secrets.md)
    assert missing == ENV_VARS - {"SHARED_API_SECRET", "TAP_GITHUB_AUTH_TOKEN", "TARGET_SNOWFLAKE_PASSWORD"}
    done = sluice(["validate"], root, env={**env, **dict.fromkeys(ENV_VARS, "x")})
    # with the variables set, what is left is only that the connectors with a pip_url are not
    # installed yet (sluice install would build their environments; not done here: 8 real installs)
    problems = [line.strip() for line in done.stderr.splitlines()[1:] if line.strip()]
    assert done.returncode == 2 and problems, done.stderr
    assert all(re.fullmatch(r"connectors\[\d\]\.executable: connector '[\w-]+' is not installed: "
                            r"run `sluice install [\w-]+`", line) for line in problems), done.stderr
    with_pip_url = {c["name"] for c in yaml.safe_load((root / "sluice.yml").read_text())["connectors"]
                    if c.get("pip_url")}
    assert {re.search(r"connector '([\w-]+)'", line)[1] for line in problems} == with_pip_url  # type: ignore[index]


def test_no_secret_of_meltano_yml_or_env_reaches_the_file_or_the_report(tmp_path: Path) -> None:
    root = _project(tmp_path)
    texts = (root / "meltano.yml").read_text() + (root / ".env").read_text()
    assert all(secret in texts for secret in SECRETS)  # the list is the fixture's
    done = sluice(["import"], root)
    assert done.returncode == 0, done.stderr
    written = (root / "sluice.yml").read_text()
    for secret in SECRETS:
        assert secret not in written and secret not in done.stderr, secret
    dry = sluice(["import", "--dry-run"], root)
    assert yaml.safe_load(dry.stdout) == EXPECTED and not any(s in dry.stdout for s in SECRETS)


def test_another_environment_and_another_directory(tmp_path: Path) -> None:
    root = _project(tmp_path)
    out = tmp_path / "elsewhere" / "deep" / "sluice.yml"
    done = sluice(["import", str(root / "meltano.yml"), "--environment", "dev", "-o", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(out.read_text())
    conns = {c["name"]: c for c in data["connectors"]}
    assert conns["tap-postgres"]["config"]["database"] == "shop_dev"
    assert conns["tap-postgres"]["config"]["host"] == "${PG_HOST}"  # prod's env: is not applied
    assert conns["tap-github"]["config"]["start_date"] == "2024-01-01"
    # a local pip_url still names the same directory from the new file's place
    rebased = conns["tap-csv"]["pip_url"].split()[1]
    assert (out.parent / rebased).resolve() == (root / "../../..").resolve()
    assert "environment prod: only one environment is converted" in done.stderr


def test_refuses_to_overwrite_and_names_an_unreadable_project(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "sluice.yml").write_text("# mine\n")
    refused = sluice(["import"], root)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "sluice: error: sluice.yml exists; pass --force to replace it (or -o PATH to write elsewhere)"]
    assert (root / "sluice.yml").read_text() == "# mine\n"
    assert sluice(["import", "--force"], root).returncode == 0
    assert yaml.safe_load((root / "sluice.yml").read_text()) == EXPECTED

    missing = sluice(["import", "nope.yml"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "sluice: error: cannot read nope.yml: No such file or directory"
    (tmp_path / "bad.yml").write_text("plugins:\n  extractors: [\n")
    bad = sluice(["import", "bad.yml"], tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("sluice: error: bad.yml: line ")
    (tmp_path / "list.yml").write_text("- a\n- b\n")
    listed = sluice(["import", "list.yml"], tmp_path)
    assert listed.returncode == 2 and "not a Meltano project file" in listed.stderr
    assert not (tmp_path / "sluice.yml").exists()


_TWO_ENVIRONMENTS = """\
version: 1
default_environment: dev
environments:
  - name: dev
  - name: prod
    config:
      plugins:
        extractors:
          - name: tap-csv
            config: {files: [{entity: prod, path: prod.csv}]}
plugins:
  extractors:
    - name: tap-csv
      config: {files: [{entity: dev, path: dev.csv}]}
"""


def test_the_global_environment_option_chooses_the_meltano_environment(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text(_TWO_ENVIRONMENTS)
    env = sluice_env(SLUICE_ENVIRONMENT="dev")  # names an environment of sluice.yml: not read by import
    before = sluice(["-e", "prod", "import", "--dry-run"], tmp_path, env=env)
    after = sluice(["import", "-e", "prod", "--dry-run"], tmp_path, env=env)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    [conn] = yaml.safe_load(before.stdout)["connectors"]
    assert conn["config"]["files"] == [{"entity": "prod", "path": "prod.csv"}]
    both = sluice(["-e", "prod", "import", "-e", "dev", "--dry-run"], tmp_path, env=env)
    assert both.returncode == 2 and both.stdout == ""
    assert "two environments given: 'prod' (sluice -e) and 'dev' (import -e)" in both.stderr


def test_paths_in_meltanos_own_form_are_rebased_too(tmp_path: Path) -> None:
    """Only ./ and ../ paths were rebased: Meltano's usual `catalog: catalogs/tap.json`, `executable:
    bin/tap-x` and `pip_url: -e taps/tap-x` then named files beside the new sluice.yml (validate: not found)."""
    root = tmp_path / "proj"
    (root / "catalogs").mkdir(parents=True)
    (root / "catalogs" / "tap.json").write_text('{"streams": []}')
    (root / "meltano.yml").write_text(yaml.safe_dump({"version": 1, "plugins": {
        "extractors": [{"name": "tap-x", "namespace": "tap_x", "executable": "bin/tap-x",
                        "pip_url": "-e taps/tap-x git+https://example.invalid/a/b.git tap-y==1.0",
                        "catalog": "catalogs/tap.json"}],
        "loaders": [{"name": "target-jsonl", "namespace": "target_jsonl", "executable": "target-jsonl"}]}}))
    out = tmp_path / "elsewhere" / "sluice.yml"
    done = sluice(["import", str(root / "meltano.yml"), "-o", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    tap = next(c for c in yaml.safe_load(out.read_text())["connectors"] if c["name"] == "tap-x")
    assert (out.parent / tap["catalog"]).resolve() == (root / "catalogs" / "tap.json").resolve()
    assert (out.parent / tap["executable"]).resolve() == (root / "bin" / "tap-x").resolve()
    editable, remote, pinned = tap["pip_url"].split()[1:]
    assert (out.parent / editable).resolve() == (root / "taps" / "tap-x").resolve()
    assert (remote, pinned) == ("git+https://example.invalid/a/b.git", "tap-y==1.0")

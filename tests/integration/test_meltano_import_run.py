"""End to end: a Meltano project on this package's connectors, imported with `sluice import`, runs under
`sluice run`: the rows land, the select (with negation) holds, the inherited plugins run, the schedules
reach `sluice crontab`, and a job's pipeline shares its bookmarks with `sluice run TAP TARGET` as
`meltano run` shares them between a job and the same pair.

The plugins carry no pip_url: their executables are this package's, installed beside sluice.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.integration.runner.helpers import sluice, sluice_env

MELTANO_YML = """\
version: 1
default_environment: dev
env:
  DATA_DIR: data
plugins:
  extractors:
    - name: tap-csv
      namespace: tap_csv
      executable: tap-csv
      capabilities: [catalog, discover, state, about]
      config:
        files:
          - {entity: customers, path: $DATA_DIR/customers.csv, keys: [id], replication_key: updated_at}
          - {entity: orders, path: $DATA_DIR/orders.csv.gz, keys: [order_id]}
      select:
        - customers.*
        - "!customers.email"
        - orders.*
      env:
        CSV_API_TOKEN: e2e-literal-token-31
    - name: tap-csv--orders
      inherit_from: tap-csv
      select:
        - orders.*
        - "!orders.note"
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      executable: target-jsonl
      config:
        destination_path: $MELTANO_PROJECT_ROOT/output
    - name: target-jsonl--archive
      inherit_from: target-jsonl
      config:
        destination_path: archive
jobs:
  - name: nightly
    tasks:
      - tap-csv target-jsonl
schedules:
  - name: nightly-at-3
    interval: "0 3 * * *"
    job: nightly
  - name: orders-hourly
    interval: "@hourly"
    extractor: tap-csv--orders
    loader: target-jsonl--archive
environments:
  - name: dev
"""


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    for name in ("customers.csv", "orders.csv.gz"):
        shutil.copy(ROOT / "examples" / "data" / name, root / "data" / name)
    (root / "meltano.yml").write_text(MELTANO_YML)
    return root


def test_imported_meltano_project_runs(tmp_path: Path) -> None:
    root = _project(tmp_path)
    done = sluice(["import"], root)
    assert done.returncode == 0, done.stderr
    written = (root / "sluice.yml").read_text()
    assert "e2e-literal-token-31" not in written and "CSV_API_TOKEN" in done.stderr
    pipelines = {p["name"]: p for p in yaml.safe_load(written)["pipelines"]}
    assert set(pipelines) == {"nightly", "orders-hourly"}

    unset = sluice(["run", "nightly"], root)  # the secret is a reference now: it must come from the environment
    assert unset.returncode == 2 and "CSV_API_TOKEN is not set" in unset.stderr
    env = sluice_env(CSV_API_TOKEN="from-the-shell")
    run = sluice(["run", "nightly"], root, env=env)
    assert run.returncode == 0, run.stderr
    customers = _rows(root / "output" / "customers.jsonl")
    source = (ROOT / "examples" / "data" / "customers.csv").read_text().splitlines()
    assert sorted(r["id"] for r in customers) == sorted(int(line.split(",")[0]) for line in source[1:])
    assert all("email" not in r and "name" in r for r in customers)  # !customers.email
    assert len(_rows(root / "output" / "orders.jsonl")) == 200

    archived = sluice(["run", "orders-hourly"], root, env=env)
    assert archived.returncode == 0, archived.stderr
    orders = _rows(root / "archive" / "orders.jsonl")
    assert len(orders) == 200 and all("note" not in r and "total" in r for r in orders)
    assert not (root / "archive" / "customers.jsonl").exists()  # the inherited plugin's own select

    cron = sluice(["crontab"], root)
    assert cron.returncode == 0, cron.stderr
    lines = cron.stdout.splitlines()
    assert any(line.startswith("0 3 * * * ") and line.split(" >> ")[0].endswith(" run nightly") for line in lines)
    assert any(line.startswith("@hourly ") and "run orders-hourly" in line for line in lines)

    # the job's bookmarks are under tap-csv-to-target-jsonl, as `meltano run tap-csv target-jsonl` keeps them:
    # the ad hoc run of the same pair resumes from them and sends no customer again
    state = json.loads(sluice(["state", "get", "nightly"], root).stdout)
    assert state["bookmarks"]["customers"]["replication_key_value"]
    again = sluice(["run", "tap-csv", "target-jsonl"], root, env=env)
    assert again.returncode == 0, again.stderr
    assert "(resuming from the stored state)" in again.stderr
    last = json.loads(sluice(["runs", "--json", "-n", "1"], root).stdout)
    assert last["state_id"] == "tap-csv-to-target-jsonl" and last["records_committed"] == 0

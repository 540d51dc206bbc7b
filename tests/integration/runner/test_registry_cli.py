"""`sluice add` and `sluice search`, run as a user runs them, on real project files."""

from __future__ import annotations

from pathlib import Path

import yaml

from runner.project import load_project
from runner.registry import BUILTIN, load_registry
from tests.integration.runner.helpers import sluice, sluice_env

COMMENTED = """\
# the shop's pipelines
version: 1

connectors:            # every program
- name: orders         # the orders export
  executable: tap-csv
  config: {files: []}

# nightly
pipelines: []
"""


def test_add_ours_writes_a_skeleton_that_validates(tmp_path: Path) -> None:
    added = sluice(["add", "tap-github"], tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout == ""
    assert "set before a run: TAP_GITHUB_REPOSITORIES TAP_GITHUB_AUTH_TOKEN" in added.stderr
    assert "sluice install" not in added.stderr  # ours is beside sluice: nothing to install
    assert sluice(["add", "target-jsonl"], tmp_path).returncode == 0
    data = yaml.safe_load((tmp_path / "sluice.yml").read_text())
    assert data == {"version": 1, "connectors": [
        {"name": "tap-github", "executable": "tap-github",
         "config": {"repositories": "${TAP_GITHUB_REPOSITORIES}", "auth_token": "${TAP_GITHUB_AUTH_TOKEN}"}},
        {"name": "target-jsonl", "executable": "target-jsonl", "config": {"destination_path": "output"}}]}
    missing = sluice(["validate"], tmp_path)
    assert missing.returncode == 2 and "TAP_GITHUB_AUTH_TOKEN is not set" in missing.stderr
    env = sluice_env(TAP_GITHUB_REPOSITORIES='["octo/hello"]', TAP_GITHUB_AUTH_TOKEN="t0ken")
    valid = sluice(["validate"], tmp_path, env=env)
    assert valid.returncode == 0, valid.stderr
    assert "ok (2 connectors" in valid.stdout and "unknown setting" not in valid.stderr


def test_add_public_writes_pip_url_and_only_env_references_for_secrets(tmp_path: Path) -> None:
    added = sluice(["add", "target-postgres", "--variant", "meltanolabs", "--as", "warehouse"], tmp_path)
    assert added.returncode == 0, added.stderr
    assert "install it with: sluice install warehouse" in added.stderr
    project = load_project(tmp_path / "sluice.yml")  # the schema of sluice.yml accepts it
    conn = project.connectors["warehouse"]
    assert (conn.executable, conn.pip_url) == ("target-postgres", ("meltanolabs-target-postgres",))
    assert conn.config == {"host": "${WAREHOUSE_HOST}", "port": 5432, "user": "${WAREHOUSE_USER}",
                           "password": "${WAREHOUSE_PASSWORD}", "database": "${WAREHOUSE_DATABASE}"}
    assert "# target-postgres (meltanolabs): " in (tmp_path / "sluice.yml").read_text()


def test_every_registry_entry_adds_to_a_valid_project(tmp_path: Path) -> None:
    """In-process (one `sluice add` per entry would take a minute): what the command writes, entry by entry."""
    from runner.cli_registry import _entry_dict
    from runner.project_add import add_connector

    registry = load_registry([BUILTIN])
    for i, entry in enumerate(registry.entries()):
        add_connector(tmp_path / "sluice.yml", _entry_dict(f"c{i}", entry, None, None), entry.description)
    project = load_project(tmp_path / "sluice.yml")
    assert len(project.connectors) == len(registry.entries()) > 40
    secrets = {f"c{i}": {s.name for s in e.settings if s.secret} for i, e in enumerate(registry.entries())}
    for name, conn in project.connectors.items():
        assert isinstance(conn.config, dict) or conn.config is None
        for key in secrets[name]:
            assert conn.config is not None and str(conn.config[key]).startswith("${"), (name, key)


def test_add_keeps_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text(COMMENTED)
    done = sluice(["add", "target-sqlite"], tmp_path)
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    head, tail = COMMENTED.split("\n# nightly\n")
    assert text == head + ("# target-sqlite (sluice): An SQLite database file, one table per stream, upserted by key\n"
                           "- name: target-sqlite\n  executable: target-sqlite\n  config:\n"
                           "    database: warehouse.db\n\n# nightly\n" + tail)
    assert sluice(["validate"], tmp_path).returncode == 0


def test_add_fills_an_empty_list_and_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text("connectors: []  # none yet\npipelines: []\n")
    assert sluice(["add", "tap-csv"], tmp_path).returncode == 0
    assert yaml.safe_load(path.read_text())["connectors"][0]["name"] == "tap-csv"
    assert path.read_text().endswith("pipelines: []\n")
    other = tmp_path / "sub" / "other.yml"
    other.parent.mkdir()
    assert sluice(["-p", str(other), "add", "tap-csv"], tmp_path).returncode == 0
    assert yaml.safe_load(other.read_text())["version"] == 1
    nowhere = sluice(["-p", str(tmp_path / "no" / "sluice.yml"), "add", "tap-csv"], tmp_path)
    assert nowhere.returncode == 2
    assert nowhere.stderr == (f"sluice: error: cannot create {tmp_path}/no/sluice.yml: "
                              f"directory {tmp_path}/no does not exist\n")


def test_a_duplicate_name_is_refused_and_as_adds_it_twice(tmp_path: Path) -> None:
    assert sluice(["add", "tap-postgres"], tmp_path).returncode == 0
    before = (tmp_path / "sluice.yml").read_text()
    again = sluice(["add", "tap-postgres", "--variant", "meltanolabs"], tmp_path)
    assert again.returncode == 2
    assert "a connector named 'tap-postgres' is already there (connectors[0]); add another one with --as" \
        in again.stderr
    assert (tmp_path / "sluice.yml").read_text() == before
    assert sluice(["add", "tap-postgres", "--as", "replica"], tmp_path).returncode == 0
    assert list(load_project(tmp_path / "sluice.yml").connectors) == ["tap-postgres", "replica"]


def test_pip_url_adds_a_connector_the_registry_does_not_know(tmp_path: Path) -> None:
    unknown = sluice(["add", "tap-carbon-intensity"], tmp_path)
    assert unknown.returncode == 2
    assert "no connector named 'tap-carbon-intensity' in the registry" in unknown.stderr
    assert "sluice add tap-carbon-intensity --pip-url SPEC" in unknown.stderr
    assert not (tmp_path / "sluice.yml").exists()
    spec = "git+https://gitlab.com/meltano/tap-carbon-intensity.git"
    done = sluice(["add", "tap-carbon-intensity", "--pip-url", spec], tmp_path)
    assert done.returncode == 0, done.stderr
    conn = load_project(tmp_path / "sluice.yml").connectors["tap-carbon-intensity"]
    assert (conn.executable, conn.pip_url, conn.config) == ("tap-carbon-intensity", (spec,), None)
    bad = sluice(["add", "tap-github", "--variant", "nobody"], tmp_path)
    assert bad.returncode == 2 and "no variant 'nobody' of 'tap-github' (variants: sluice, meltanolabs)" in bad.stderr


def test_a_flow_style_list_is_refused_with_what_to_add(tmp_path: Path) -> None:
    path = tmp_path / "sluice.yml"
    path.write_text("connectors: [{name: a, executable: tap-csv}]\n")
    done = sluice(["add", "target-csv"], tmp_path)
    assert done.returncode == 2
    assert "cannot edit" in done.stderr and "- name: target-csv" in done.stderr
    assert path.read_text() == "connectors: [{name: a, executable: tap-csv}]\n"


def test_search_lists_matches_default_variant_first(tmp_path: Path) -> None:
    found = sluice(["search", "postgres"], tmp_path)
    assert found.returncode == 0, found.stderr
    rows = [line.split("\t") for line in found.stdout.splitlines()]
    assert [row[:3] for row in rows] == [["tap-postgres", "tap", "sluice"], ["tap-postgres", "tap", "meltanolabs"],
                                         ["target-postgres", "target", "sluice"],
                                         ["target-postgres", "target", "meltanolabs"]]
    assert all(len(row) == 4 and row[3] for row in rows)
    by_keyword = sluice(["search", "CRM"], tmp_path).stdout  # keywords and descriptions, any case
    assert {line.split("\t")[0] for line in by_keyword.splitlines()} == {"tap-pipedrive", "tap-closeio",
                                                                         "tap-intercom", "tap-hubspot"}
    everything = sluice(["search"], tmp_path).stdout.splitlines()
    assert len(everything) == len(load_registry([BUILTIN]).entries())
    none = sluice(["search", "mainframe"], tmp_path)
    assert none.returncode == 1 and none.stdout == ""
    assert "no connector in the registry matches 'mainframe'" in none.stderr and "--pip-url SPEC" in none.stderr


def test_sluice_registry_replaces_or_extends_the_shipped_file(tmp_path: Path) -> None:
    team = tmp_path / "team.yml"
    team.write_text("""\
version: 1
connectors:
  - name: tap-ledger
    kind: tap
    variant: acme
    pip_url: acme-tap-ledger==2.1
    description: The ledger API of ACME
    keywords: [finance]
    settings:
      - {name: api_key, required: true, secret: true}
""")
    only = sluice_env(SLUICE_REGISTRY=str(team))
    assert sluice(["search", "github"], tmp_path, env=only).returncode == 1
    assert sluice(["search", "finance"], tmp_path, env=only).stdout == "tap-ledger\ttap\tacme\tThe ledger API of ACME\n"
    added = sluice(["add", "tap-ledger"], tmp_path, env=only)
    assert added.returncode == 0, added.stderr
    conn = load_project(tmp_path / "sluice.yml").connectors["tap-ledger"]
    assert (conn.pip_url, conn.config) == (("acme-tap-ledger==2.1",), {"api_key": "${TAP_LEDGER_API_KEY}"})
    both = sluice_env(SLUICE_REGISTRY=f"builtin:{team}")
    names = {line.split("\t")[0] for line in sluice(["search", "finance"], tmp_path, env=both).stdout.splitlines()}
    assert {"tap-ledger", "tap-xero", "tap-zuora"} <= names


def test_a_bad_registry_file_is_named_with_its_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("connectors:\n  - {name: tap-z, kind: tap, variant: v}\n")
    done = sluice(["search", "z"], tmp_path, env=sluice_env(SLUICE_REGISTRY=str(bad)))
    assert done.returncode == 2
    assert done.stderr == ("sluice: error: invalid connector registry:\n"
                           f"  {bad}:2: connectors[0] (tap-z): 'description' is a required property\n")
    add = sluice(["add", "tap-z"], tmp_path, env=sluice_env(SLUICE_REGISTRY=str(bad)))
    assert add.returncode == 2 and f"{bad}:2: connectors[0] (tap-z)" in add.stderr

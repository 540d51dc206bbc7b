"""The pieces of `sluice import`: select and metadata as one metadata: block, references, secret names.

The block is checked against an oracle: Meltano's rules (``!*.*``, the select patterns' includes, then
their excludes, then the metadata extra) applied one by one to a catalog, each to every stream and
breadcrumb it matches (``fnmatch`` on the joined breadcrumb), the last one winning, written here in
plain Python. The block sluice import writes, laid over the same catalog by the runner's own
``apply_metadata``, must select exactly the same streams and properties.
"""

from __future__ import annotations

import copy
import textwrap
from datetime import date
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.catalog_metadata import apply_metadata, metadata_rules
from runner.meltano_import import ImportResult, import_meltano
from runner.meltano_select import metadata_block, select_rules
from runner.meltano_select import metadata_rules as meltano_metadata_rules
from runner.meltano_values import Refs, convert_refs, env_var_name, holds_credential, holds_password, is_secret_name
from runner.meltano_yaml import load_yaml12
from runner.project_validate import validate_project
from runner.yamlscalars import surprising_scalars

STREAMS = {"users": ["id", "email", "name"], "orders": ["id", "total", "email"], "order_items": ["id", "sku"]}
CATALOG = {"streams": [{"tap_stream_id": s, "stream": s, "metadata": [],
                        "schema": {"type": "object", "properties": {p: {"type": "string"} for p in props}}}
                       for s, props in STREAMS.items()]}


def _oracle(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Meltano's selection, rule by rule: (stream, "" or "properties.PROP") -> the last `selected` set."""
    rules: list[tuple[str, str, Any]] = []  # (stream glob, breadcrumb glob, selected)
    for group in (["!*.*"], patterns):
        includes, excludes = [], []
        for text in group:
            negated = text.startswith("!")
            stream, _, prop = text.lstrip("!").partition(".")
            out = excludes if negated else includes
            if not prop:
                out += [(stream, "", not negated), (stream, "properties.*", not negated)]
            else:
                if not negated or prop == "*":
                    out.append((stream, "", not negated))
                out.append((stream, f"properties.{prop}", not negated))
        rules += includes + excludes
    for stream, entry in metadata.items():
        for key, value in entry.items():
            if isinstance(value, dict):
                rules += [(stream, f"properties.{key}", v) for k, v in value.items() if k == "selected"]
            elif key == "selected":
                rules.append((stream, "", value))
    result: dict[tuple[str, str], Any] = {}
    for name, props in STREAMS.items():
        for crumb in ["", *(f"properties.{p}" for p in props)]:
            for glob, crumb_glob, value in rules:
                if fnmatch(name, glob) and fnmatch(crumb, crumb_glob):
                    result[(name, crumb)] = value
    return result


def _sluice(block: dict[str, Any]) -> dict[tuple[str, str], Any]:
    catalog, _ = apply_metadata(copy.deepcopy(CATALOG), metadata_rules(block), "connector 'tap-x'")
    out: dict[tuple[str, str], Any] = {}
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if "selected" in entry["metadata"]:
                out[(stream["tap_stream_id"], ".".join(entry["breadcrumb"]))] = entry["metadata"]["selected"]
    return out


def _convert(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> dict[str, Any]:
    block, _ = metadata_block(select_rules(patterns) + meltano_metadata_rules(metadata))
    return block


@pytest.mark.parametrize("patterns, metadata", [
    (["*.*"], {}),
    (["users.*", "orders", "!users.email", "!orders.e*"], {}),
    (["users.id", "users.name"], {}),
    (["*.*", "!order_items", "!*.email"], {}),
    # an include of a glob after a stream's entry, then an exclude of that stream: order must hold
    (["users.*", "u*.email", "!users.email"], {}),
    (["users.*", "orders.*"], {"users": {"email": {"selected": False}}, "u*": {"selected": False},
                                "users_": {"selected": True}}),
])
def test_the_block_selects_what_meltano_selects(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> None:
    assert _sluice(_convert(patterns, metadata)) == _oracle(patterns, metadata)


def test_a_rule_that_must_come_after_a_later_entry_gets_an_equivalent_glob() -> None:
    patterns = ["users.*", "*.email"]
    metadata = {"users": {"email": {"selected": False}}, "*": {"email": {"selected": True}}}
    rules = select_rules(patterns) + meltano_metadata_rules(metadata)
    block, respelt = metadata_block(rules)
    # "*" first deselects all, "users" selects, "*.email" selects, then the metadata's users.email (false)
    # and *.email (true) must come after the include of *.email: new entries, spelt differently
    assert respelt and all(" as " in r for r in respelt)
    assert _sluice(block) == _oracle(patterns, metadata)


_PATTERN = st.builds(
    lambda neg, stream, prop: ("!" if neg else "") + stream + (f".{prop}" if prop else ""),
    st.booleans(), st.sampled_from(["users", "orders", "order*", "*", "u*", "order_items"]),
    st.sampled_from(["", "*", "id", "email", "e*", "name", "sku"]))
_META = st.dictionaries(
    st.sampled_from(["users", "orders", "*", "o*"]),
    st.dictionaries(st.sampled_from(["selected", "id", "email", "*"]), st.booleans(), max_size=3).map(
        lambda d: {k: (v if k == "selected" else {"selected": v}) for k, v in d.items()}),
    max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PATTERN, max_size=6), _META)
def test_any_select_and_metadata_convert_exactly(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> None:
    assert _sluice(_convert(patterns, metadata)) == _oracle(patterns, metadata)


@pytest.mark.parametrize("text, expected", [
    ("$PG_HOST", "${PG_HOST}"),
    ("${pg_host}/x", "${pg_host}/x"),
    ("postgresql://u@$HOST:${PORT}/db", "postgresql://u@${HOST}:${PORT}/db"),
    ("$lower stays", "$lower stays"),  # Meltano expands $UPPER only
    (r"\$ESCAPED and \${ALSO}", "$ESCAPED and $${ALSO}"),
    ("$MELTANO_PROJECT_ROOT/output", "./output"),
    ("$WITH_DEFAULT", "${WITH_DEFAULT:-d.internal}"),
    ("cost: $5", "cost: $5"),
])
def test_references(text: str, expected: str) -> None:
    refs = Refs({"WITH_DEFAULT": "d.internal"})
    assert convert_refs(text, refs, "x") == expected


@pytest.mark.parametrize("name", ["password", "db_password", "auth_token", "client_secret", "api_key", "apiKey",
                                  "private_key", "aws_secret_access_key", "credentials_json", "ssh.private_key",
                                  "refresh_token", "passphrase", "key"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["host", "user", "replication_key", "primary_key", "key_properties", "keys",
                                  "partition_key", "start_date", "role", "filter_schemas", "tokenizer_mode"])
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_passwords_inside_values() -> None:
    assert holds_password("postgresql://loader:s3cret@db:5432/x")
    assert holds_password("Server=db;Password=s3cret;")
    assert not holds_password("postgresql://loader:${PW}@db/x")
    assert not holds_password("postgresql://loader:$PW@db/x")
    assert not holds_password("postgresql://loader@db:5432/x")
    assert not holds_password("https://api.example.com:8443/v2")


def test_meltano_variable_names() -> None:
    name = env_var_name("tap-postgres--archive", "ssh_tunnel.private_key")
    assert name == "TAP_POSTGRES__ARCHIVE_SSH_TUNNEL_PRIVATE_KEY"


# --- whole projects: a meltano.yml (and .env) in tmp_path, converted by import_meltano ---------------------------


def _import(tmp_path: Path, meltano_yml: str, dotenv: str | None = None,
            environment: str | None = None) -> tuple[dict[str, dict[str, Any]], ImportResult]:
    (tmp_path / "meltano.yml").write_text(textwrap.dedent(meltano_yml))
    if dotenv is not None:
        (tmp_path / ".env").write_text(textwrap.dedent(dotenv))
    result = import_meltano(tmp_path / "meltano.yml", tmp_path, environment)
    assert yaml.safe_load(result.text) == result.data  # the file says what the data says
    return {c["name"]: c for c in result.data["connectors"]}, result


def _report(result: ImportResult) -> str:
    return "\n".join(result.report.lines())


_SECRET_PROJECT = """\
    version: 1
    project_id: x
    env:
      PGPASSWORD: hunter2-project
      PG_P: pw-behind-a-plain-name
      PG_HOST: db.internal
    plugins:
      extractors:
        - name: tap-rest
          namespace: tap_rest
          executable: tap-rest
          capabilities: [catalog]
          config:
            password: $PGPASSWORD
            db_password: $PG_P
            note: "user $PG_P at $PG_HOST"
            headers: {Authorization: "Bearer sk_live_abcdef", Accept: application/json}
            auth: {bearer: tok123}
            api: {header_value: "Bearer zz-9f8e7d6c"}
          env:
            PGPASSWORD: plainpw
            PG_HOST: $PG_HOST
    """


def test_no_secret_value_reaches_the_file_or_the_report(tmp_path: Path) -> None:
    conns, result = _import(tmp_path, _SECRET_PROJECT)
    for secret in ("hunter2-project", "pw-behind-a-plain-name", "sk_live_abcdef", "tok123", "plainpw", "zz-9f8e7d6c"):
        assert secret not in result.text and secret not in _report(result), secret
    tap = conns["tap-rest"]
    # PGPASSWORD is one word, and PG_P is a plain name: neither value becomes a ${VAR:-default}, anywhere
    assert tap["config"] == {
        "password": "${PGPASSWORD}", "db_password": "${PG_P}", "note": "user ${PG_P} at ${PG_HOST:-db.internal}",
        "headers": {"Authorization": "${TAP_REST_HEADERS_AUTHORIZATION}", "Accept": "application/json"},
        "auth": {"bearer": "${TAP_REST_AUTH_BEARER}"}, "api": {"header_value": "${TAP_REST_API_HEADER_VALUE}"}}
    assert tap["env"] == {"PGPASSWORD": "${PGPASSWORD}", "PG_HOST": "${PG_HOST:-db.internal}"}
    assert tap["secrets"] == ["api", "auth", "db_password", "headers", "password"]
    needed = result.report.env_vars
    assert set(needed) == {"PGPASSWORD", "PG_P", "TAP_REST_HEADERS_AUTHORIZATION", "TAP_REST_AUTH_BEARER",
                           "TAP_REST_API_HEADER_VALUE"}
    assert "config.headers.Authorization" in needed["TAP_REST_HEADERS_AUTHORIZATION"]
    assert "tap-rest.env.PGPASSWORD" in needed["PGPASSWORD"] and "meltano.yml's env:" in needed["PGPASSWORD"]
    assert "tap-rest.config.db_password" in needed["PG_P"]


@pytest.mark.parametrize("name", ["PGPASSWORD", "MYSQL_PWD", "DB_PW", "Authorization", "auth", "basic_auth",
                                  "bearer", "APIKEY", "SSHKEY", "X-Api-Key", "GHTOKEN", "client_secrets"])
def test_secret_names_in_one_word_and_auth(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["author", "auth_method", "auth_type", "sortkey", "distkey", "monkey",
                                  "authenticator", "PG_HOST", "passthrough"])
def test_names_near_secret_ones_that_are_not(name: str) -> None:
    assert not is_secret_name(name)


def test_values_that_are_credentials_whatever_their_name() -> None:
    for text in ("Bearer sk_live_abcdef", "basic dXNlcjpwYXNz", "ghp_abcdefghijklmnopqrstuvwxyz0123",
                 "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", "postgresql://u:pw@h/db"):
        assert holds_credential(text), text
    for text in ("Bearer ${TOKEN}", "Bearer $TOKEN", "token is fine", "application/json", "https://x.test/a?b=c"):
        assert not holds_credential(text), text


def test_a_child_gets_its_parent_with_the_parent_environment_overlay(tmp_path: Path) -> None:
    # Meltano 4.4.1 (`meltano --environment=prod config print tap-b`): host prod-db.internal (the parent's
    # overlay), user child (its own, over the parent's overlay), database child-prod (its own overlay);
    # select orders.* (the parent's overlay, "inherited from 'tap-a'")
    conns, _ = _import(tmp_path, """\
        version: 1
        default_environment: prod
        project_id: x
        environments:
          - name: prod
            config:
              plugins:
                extractors:
                  - name: tap-a
                    config: {host: prod-db.internal, user: parent-prod, database: parent-prod}
                    select: [orders.*]
                  - name: tap-b
                    config: {database: child-prod}
        plugins:
          extractors:
            - name: tap-a
              namespace: tap_a
              executable: tap-csv
              capabilities: [catalog, discover]
              config: {host: localhost, user: parent, database: parent}
              select: [customers.*]
            - name: tap-b
              inherit_from: tap-a
              config: {user: child}
        """)
    assert conns["tap-b"]["config"] == {"host": "prod-db.internal", "user": "child", "database": "child-prod"}
    assert conns["tap-b"]["metadata"] == conns["tap-a"]["metadata"] == _convert(["orders.*"], {})
    assert conns["tap-a"]["config"] == {"host": "prod-db.internal", "user": "parent-prod", "database": "parent-prod"}


# plain scalars as ruamel.yaml reads them in YAML 1.2 mode (what Meltano 4.4.1 passes; checked one by one)
@pytest.mark.parametrize("text, expected", [
    ("NO", "NO"), ("yes", "yes"), ("on", "on"), ("Off", "Off"), ("y", "y"), ("True", True), ("FALSE", False),
    ("0755", 755), ("09", 9), ("0o755", 493), ("0x1F", 31), ("0b101", 5), ("-0x1F", -31), ("1_000", 1000),
    ("1e3", 1000.0), ("1.", 1.0), (".5", 0.5), ("12:30", "12:30"), ("190:20:30", "190:20:30"), ("0O17", "0O17"),
    ("~", None), ("", None), ("2020-01-01", date(2020, 1, 1)), ("1,000", "1,000"), ("0.1.2", "0.1.2"),
])
def test_meltano_yml_scalars_are_read_as_yaml_1_2(text: str, expected: Any) -> None:
    value = load_yaml12(f"k: {text}\n")["k"]
    assert value == expected and type(value) is type(expected)


def test_the_import_writes_what_meltano_passes_for_yaml_1_1_lookalikes(tmp_path: Path) -> None:
    # `meltano config print tap-a`: {"country": "NO", "flag": "yes", "mode": "on", "octal": 755, "sci": 1000.0,
    # "run_at": "12:30"}
    conns, result = _import(tmp_path, """\
        version: 1
        project_id: x
        plugins:
          extractors:
            - name: tap-a
              namespace: tap_a
              executable: tap-csv
              capabilities: [catalog]
              config: {country: NO, flag: yes, mode: on, octal: 0755, sci: 1e3, run_at: 12:30, on: off}
        """)
    expected = {"country": "NO", "flag": "yes", "mode": "on", "octal": 755, "sci": 1000.0, "run_at": "12:30",
                "on": "off"}
    assert conns["tap-a"]["config"] == expected
    assert surprising_scalars(yaml.compose(result.text)) == []  # sluice validate reads the same values back
    assert validate_project(yaml.safe_load(result.text), yaml.compose(result.text)) == []


_DOTENV_PROJECT = """\
    version: 1
    project_id: x
    plugins:
      extractors:
        - name: tap-a
          namespace: tap_alpha
          executable: tap-csv
          capabilities: [catalog]
          settings: [{name: start_date, kind: date_iso8601}, {name: other}]
          config: {start_date: 2020-01-01, batch: 10, auth: {user: u, pass_hint: h}, keep: 1}
        - name: tap-b
          inherit_from: tap-a
          config: {batch: 11}
    """


def test_settings_of_dotenv_take_over_meltano_yml_as_in_meltano(tmp_path: Path) -> None:
    # `meltano config print` with this .env (Meltano 4.4.1): tap-a {"start_date": "2023-01-01", "other": "o",
    # "batch": 99, "auth": {"user": "zz-dotenv-user", "pass_hint": "h"}, "keep": 1}; tap-b the same but "batch": 11,
    # its own (TAP_ALPHA_ is tap-a's namespace, not tap-b's); TAP_A_AUTH is no setting (auth is a mapping).
    # auth.pass_hint is under a secret key: a reference, not a .env setting
    conns, result = _import(tmp_path, _DOTENV_PROJECT, """\
        TAP_A_START_DATE=2023-01-01
        TAP_ALPHA_BATCH=99
        export TAP_A_AUTH_USER="zz-dotenv-user"
        TAP_A_OTHER=o
        TAP_A_AUTH=not-a-setting
        TAP_A__SELECT='["x.*"]'
        """)
    assert conns["tap-a"]["config"] == {
        "start_date": "${TAP_A_START_DATE}", "batch": "${TAP_ALPHA_BATCH}",
        "auth": {"user": "${TAP_A_AUTH_USER}", "pass_hint": "${TAP_A_AUTH_PASS_HINT}"}, "keep": 1,
        "other": "${TAP_A_OTHER}"}
    assert conns["tap-b"]["config"] == {**conns["tap-a"]["config"], "batch": 11}
    assert "zz-dotenv-user" not in result.text and "2023-01-01" not in result.text
    needed = result.report.env_vars
    assert "tap-a setting start_date, which Meltano reads from .env over the value in meltano.yml" in needed[
        "TAP_A_START_DATE"]
    assert "tap-a setting batch" in needed["TAP_ALPHA_BATCH"] and "TAP_A_AUTH" not in needed
    assert "tap-a: .env sets TAP_A__SELECT: a Meltano extra" in _report(result)
    # sluice reads that .env beside sluice.yml: the file validates without the variables set
    (tmp_path / "sluice.yml").write_text(result.text)
    assert validate_project(yaml.safe_load(result.text), yaml.compose(result.text)) == []


def test_a_metadata_value_sluice_yml_cannot_hold_is_reported_and_the_rest_written(tmp_path: Path) -> None:
    conns, result = _import(tmp_path, """\
        version: 1
        project_id: x
        plugins:
          extractors:
            - name: tap-x
              namespace: tap_x
              executable: tap-csv
              capabilities: [catalog]
              select: [orders.*, customers.*]
              metadata:
                orders: {replication-method: incremental, replication-key: updated_at}
                customers: {selected: "true", email: {selected: "no"}, inclusion: sometimes}
              env: {GOOD: ok, LIST: [a, b], bad-name: x, WHEN: 2024-01-01}
        """)
    block = conns["tap-x"]["metadata"]
    assert block["orders"] == {"selected": True, "replication-key": "updated_at", "*": {"selected": True}}
    assert block["customers"] == {"selected": True, "*": {"selected": True}}
    assert conns["tap-x"]["env"] == {"GOOD": "ok", "WHEN": "2024-01-01"}
    report = _report(result)
    for line in ("tap-x.metadata.orders.replication-method: replication-method 'incremental' is not one of "
                 "FULL_TABLE, INCREMENTAL, LOG_BASED",
                 "tap-x.metadata.customers.selected: selected 'true' is not one of true, false",
                 "tap-x.metadata.customers.email.selected: selected 'no' is not one of true, false",
                 "tap-x.metadata.customers.inclusion: inclusion 'sometimes' is not one of available, automatic",
                 "tap-x.env.LIST: not text, a number or a boolean",
                 "tap-x.env.bad-name: not a variable name"):
        assert line in report, line

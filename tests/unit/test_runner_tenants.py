"""for_each: one pipeline per tenant: expansion, ${tenant.x} filling, record checks, runner environments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from protocol._errors import ConfigError
from runner.connectors import connector_secrets
from runner.project import Project, load_project
from runner.tenant_env import runner_environments
from runner.tenants import connector_variants

PY = sys.executable


def _project(tmp_path: Path, pipelines: str, connectors: str = "", files: dict[str, str] | None = None) -> Project:
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "sluice.yml"
    path.write_text(
        "connectors:\n"
        f"  - {{name: tap, executable: {PY}}}\n"
        f"  - {{name: out, executable: {PY}}}\n"
        + connectors
        + "pipelines:\n" + pipelines
    )
    return load_project(path)


def _problems(tmp_path: Path, pipelines: str, files: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _project(tmp_path, pipelines, files=files)
    assert info.value.summary.endswith("sluice.yml: invalid project file")
    return info.value.problems


def test_a_pipeline_with_for_each_becomes_one_pipeline_per_tenant(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        "  - {name: solo, tap: tap, target: out}\n"
        "  - name: orders\n"
        "    tap: tap\n"
        "    target: out\n"
        "    schedule: '@hourly'\n"
        "    state_id: orders-v2\n"
        "    timeout: 60\n"
        "    for_each: [{id: acme, region: eu}, {id: globex}]\n"
    ))
    assert list(project.pipelines) == ["solo", "orders@acme", "orders@globex"]  # the template is not one
    assert project.templates == {"orders": ["orders@acme", "orders@globex"]}
    acme = project.pipelines["orders@acme"]
    assert (acme.tenant, acme.template, acme.state_id) == ("acme", "orders", "orders-v2@acme")
    assert (acme.schedule, acme.timeout, acme.tap, acme.target) == ("@hourly", 60, "tap", "out")
    assert project.pipelines["orders@globex"].state_id == "orders-v2@globex"
    solo = project.pipelines["solo"]
    assert (solo.tenant, solo.template, solo.state_id) == (None, None, "solo")
    with pytest.raises(ConfigError, match=r"'orders' runs once per tenant .*2 pipelines, as orders@ID"):
        project.pipeline("orders")


def test_tenants_from_a_yaml_or_json_file(tmp_path: Path) -> None:
    files = {"t.yml": "- id: acme\n  region: eu\n- id: globex\n",
             "t.json": json.dumps([{"id": "initech", "seats": 5}])}
    project = _project(tmp_path, (
        "  - {name: a, tap: tap, target: out, for_each: t.yml}\n"
        "  - {name: b, tap: tap, target: out, for_each: t.json}\n"
    ), files=files)
    assert list(project.pipelines) == ["a@acme", "a@globex", "b@initech"]
    record = project.pipelines["b@initech"].tenant_record
    assert record is not None and dict(record.fields) == {"id": "initech", "seats": 5}


def test_tenant_values_fill_config_inline_and_files_args_env_and_catalog(tmp_path: Path) -> None:
    (tmp_path / "acme.json").write_text(json.dumps({"schema": "tenant_${tenant.id}", "deep": ["${tenant.id}"]}))
    project = _project(tmp_path, (
        "  - name: p\n    tap: tap\n    target: out\n"
        "    for_each: [{id: acme, region: eu, seats: 5, vip: true}]\n"
        "  - {name: q, tap: filed, target: out, for_each: [{id: acme}]}\n"
    ), connectors=(
        f"  - name: t2\n    executable: {PY}\n"
        "    args: ['--region', '${tenant.region}']\n"
        "    env: {REGION: '${tenant.region}', VIP: '${tenant.vip}'}\n"
        "    catalog: 'cat-${tenant.id}.json'\n"
        "    config: {path: 'data/${tenant.id}.csv', literal: '$${tenant.id}', n: '${tenant.nothing:-none}'}\n"
        f"  - {{name: filed, executable: {PY}, config: '${{tenant.id}}.json'}}\n"
    ))
    pipe = project.pipelines["p@acme"]
    resolved = project.resolve(project.connector_for(pipe, "t2"), {})
    assert resolved.argv[1:] == ["--region", "eu"]
    assert resolved.env == {"REGION": "eu", "VIP": "true"}
    assert resolved.catalog == tmp_path / "cat-acme.json"
    assert resolved.config == {"path": "data/acme.csv", "literal": "${tenant.id}", "n": "none"}
    assert resolved.env_values == {}  # a tenant's fields are not from the environment: not secret
    filed = project.resolve(project.connector_for(project.pipelines["q@acme"], "filed"), {})
    assert filed.config == {"schema": "tenant_acme", "deep": ["acme"]}


def test_tenant_env_reads_the_tenants_own_variable_as_a_secret(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        "  - name: p\n    tap: tap\n    target: t2\n"
        "    for_each: [{id: acme}, {id: globex, env: {API_TOKEN: GLOBEX_PROD_TOKEN}}]\n"
    ), connectors=f"  - {{name: t2, executable: {PY}, config: {{token: '${{tenant.env.API_TOKEN}}'}}}}\n")
    environ = {"ACME_API_TOKEN": "acme-secret", "GLOBEX_API_TOKEN": "wrong", "GLOBEX_PROD_TOKEN": "globex-secret"}
    acme = project.resolve(project.connector_for(project.pipelines["p@acme"], "t2"), environ)
    globex = project.resolve(project.connector_for(project.pipelines["p@globex"], "t2"), environ)
    assert acme.config == {"token": "acme-secret"} and globex.config == {"token": "globex-secret"}
    assert connector_secrets(acme, None) >= {"acme-secret"}  # no settings schema: an ${ENV} value is secret
    with pytest.raises(ConfigError) as info:
        project.resolve(project.connector_for(project.pipelines["p@acme"], "t2"), {})
    assert info.value.summary.endswith("connector 't2' (tenant 'acme') cannot be used")
    assert info.value.problems == ["connectors[2]@acme.config.token: environment variable ACME_API_TOKEN is not set"]


def test_a_fields_text_is_literal_not_interpolated(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        "  - {name: p, tap: tap, target: t2, for_each: [{id: acme, name: 'a ${HOME} b $${x}'}]}\n"
    ), connectors=f"  - {{name: t2, executable: {PY}, config: {{n: '${{tenant.name}}'}}}}\n")
    resolved = project.resolve(project.connector_for(project.pipelines["p@acme"], "t2"), {"HOME": "/root"})
    assert resolved.config == {"n": "a ${HOME} b $${x}"}


def test_a_field_ending_in_a_dollar_does_not_join_the_text_after_it(tmp_path: Path) -> None:
    """Found by a probe: fields were filled in a pass of their own before ${ENV}, so a field "US$" before
    ``${REGION}`` made ``$${REGION}`` (a literal), and a field "$" before "{OTHER}" read the variable OTHER."""
    project = _project(tmp_path, (
        "  - {name: p, tap: tap, target: t2, for_each: [{id: acme, prefix: 'US$', sigil: '$', q: '$$'}]}\n"
    ), connectors=(
        f"  - name: t2\n    executable: {PY}\n"
        "    config: {path: 'out/${tenant.prefix}${REGION}', name: '${tenant.sigil}{OTHER_SECRET}',"
        " two: '${tenant.q}${tenant.sigil}{x}', nested: '${file:${tenant.id}.pw}'}\n"
        "    args: ['${tenant.sigil}${REGION}']\n"
        "    env: {V: '${tenant.sigil}$${REGION}'}\n"
    ), files={"acme.pw": "acme-Pw\n"})
    resolved = project.resolve(project.connector_for(project.pipelines["p@acme"], "t2"),
                               {"REGION": "eu", "OTHER_SECRET": "not-acmes"})
    assert resolved.config == {"path": "out/US$eu", "name": "${OTHER_SECRET}", "two": "$$${x}", "nested": "acme-Pw"}
    assert resolved.argv[1:] == ["$eu"]
    assert resolved.env == {"V": "$${REGION}"}


def test_bad_references_are_listed_with_their_place(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        "  - {name: p, tap: tap, target: t2, for_each: [{id: acme}]}\n"
    ), connectors=(
        f"  - name: t2\n    executable: {PY}\n"
        "    config: {a: '${tenant.regoin}', b: '${tenant.id.x}', c: '${tenant.env}'}\n"
    ))
    with pytest.raises(ConfigError) as info:
        project.resolve(project.connector_for(project.pipelines["p@acme"], "t2"), {})
    assert info.value.problems == [
        "connectors[2]@acme.config.a: tenant 'acme' has no field 'regoin' (its fields: id)",
        "connectors[2]@acme.config.b: ${tenant.id.x}: a tenant field has no parts (only ${tenant.env.NAME} has)",
        "connectors[2]@acme.config.c: tenant 'acme' has no field 'env' (its fields: id)",
    ]
    with pytest.raises(ConfigError) as info:  # outside a tenant's pipeline: an error, not the text as it is
        project.resolve(project.connectors["t2"], {})
    assert info.value.problems[0] == \
        "connectors[2].config.a: ${tenant.regoin} is only filled in a pipeline with for_each: (one per tenant)"


def test_every_record_problem_inline_is_listed_with_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, (
        "  - name: p\n"
        "    tap: tap\n"
        "    target: out\n"
        "    for_each:\n"
        "      - id: acme\n"
        "      - id: Acme Corp\n"
        "      - {region: eu}\n"
        "      - id: acme\n"
        "      - {id: b, nested: {x: 1}, env: {TOKEN: 'not a name'}}\n"
        "      - 7\n"
    ))
    assert problems == [
        "sluice.yml:10: pipelines[0].for_each[1].id: 'Acme Corp' is not a valid tenant id (lowercase letters, "
        "digits and '_', starting with a letter, at most 63 characters)",
        "sluice.yml:11: pipelines[0].for_each[2]: a tenant record needs an id",
        "sluice.yml:12: pipelines[0].for_each[3].id: duplicate tenant id 'acme' (also pipelines[0].for_each[0])",
        "sluice.yml:13: pipelines[0].for_each[4].nested: a tenant field is a string, number or boolean, not a mapping",
        "sluice.yml:13: pipelines[0].for_each[4].env: 'TOKEN': 'not a name' is not an environment variable name",
        "sluice.yml:14: pipelines[0].for_each[5]: a tenant record is a mapping with an id, not a number",
    ]


def test_a_tenants_files_problems_name_the_file_and_the_line(tmp_path: Path) -> None:
    files = {"t.yml": "- id: acme\n- id: acme\n- id: 9lives\n", "map.yml": "id: acme\n", "bad.yml": "[{id: a}\n"}
    problems = _problems(tmp_path, (
        "  - {name: a, tap: tap, target: out, for_each: t.yml}\n"
        "  - {name: b, tap: tap, target: out, for_each: map.yml}\n"
        "  - {name: c, tap: tap, target: out, for_each: bad.yml}\n"
        "  - {name: d, tap: tap, target: nope, for_each: none.yml}\n"
    ), files=files)
    assert problems[0] == "sluice.yml:8: pipelines[3].target: no connector named 'nope'"
    assert problems[1:3] == [
        "t.yml:2: [1].id: duplicate tenant id 'acme' (also [0])",
        "t.yml:3: [2].id: '9lives' is not a valid tenant id (lowercase letters, digits and '_', starting with a "
        "letter, at most 63 characters)",
    ]
    assert problems[3] == ("map.yml:1: (top level): a tenants file holds a list of tenant records (each a mapping "
                           "with an id), not a mapping (for_each: of pipelines[1])")
    assert problems[4].startswith("bad.yml: line 2, column 1: ")
    assert problems[5] == f"sluice.yml:8: pipelines[3].for_each: tenants file not found: {tmp_path / 'none.yml'}"
    assert len(problems) == 6


def test_for_each_is_a_list_or_a_file(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "  - {name: a, tap: tap, target: out, for_each: {id: acme}}\n")
    assert problems == ["sluice.yml:5: pipelines[0].for_each: {'id': 'acme'} is not of type 'string', 'array'"]


def test_a_runner_gets_none_of_the_other_tenants_variables(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"key": "${tenant.env.API_KEY}"}')
    project = _project(tmp_path, (
        "  - {name: p, tap: t2, target: out, for_each: [{id: acme}, {id: globex, env: {SHARED: COMMON}}]}\n"
        "  - {name: q, tap: t3, target: out, for_each: [{id: acme}, {id: initech}]}\n"
        "  - {name: plain, tap: tap, target: out}\n"
    ), connectors=(
        f"  - {{name: t2, executable: {PY}, env: {{T: '${{tenant.env.TOKEN}}'}}, config: c.json}}\n"
        f"  - {{name: t3, executable: {PY}, args: ['${{tenant.env.PASS}}']}}\n"
    ))
    environ = {"PATH": "/bin", "ACME_TOKEN": "1", "ACME_API_KEY": "2", "ACME_PASS": "3", "GLOBEX_TOKEN": "4",
               "GLOBEX_API_KEY": "5", "COMMON": "6", "INITECH_PASS": "7", "INITECH_OTHER": "8"}
    envs = runner_environments(project, list(project.pipelines), environ)
    assert set(envs) == {"p@acme", "p@globex", "q@acme", "q@initech"}  # "plain" keeps this environment
    assert envs["p@acme"] == envs["q@acme"] == {"PATH": "/bin", "ACME_TOKEN": "1", "ACME_API_KEY": "2",
                                                "ACME_PASS": "3", "INITECH_OTHER": "8"}
    assert envs["p@globex"] == {"PATH": "/bin", "GLOBEX_TOKEN": "4", "GLOBEX_API_KEY": "5", "COMMON": "6",
                                "INITECH_OTHER": "8"}
    assert envs["q@initech"] == {"PATH": "/bin", "INITECH_PASS": "7", "INITECH_OTHER": "8"}


def test_validate_resolves_a_connector_once_per_tenant_that_runs_it(tmp_path: Path) -> None:
    project = _project(tmp_path, (
        "  - {name: p, tap: tap, target: out, for_each: [{id: acme}, {id: globex}]}\n"
        "  - {name: q, tap: tap, target: spare, for_each: []}\n"
        "  - {name: plain, tap: lone, target: out}\n"
    ), connectors=f"  - {{name: spare, executable: {PY}}}\n  - {{name: lone, executable: {PY}}}\n")

    def tenants(name: str) -> list[str | None]:
        return [c.tenant.id if c.tenant else None for c in connector_variants(project, project.connectors[name])]

    assert tenants("tap") == ["acme", "globex"]
    assert tenants("out") == [None, "acme", "globex"]  # "plain" runs it as it is
    assert tenants("lone") == [None]
    assert tenants("spare") == []  # only a pipeline whose for_each: has no tenants yet runs it


def test_a_tenants_files_plain_scalars_that_yaml_changes_are_problems(tmp_path: Path) -> None:
    files = {"t.yml": "- {id: acme, account: 0123}\n- {id: beta, account: '0456', active: yes}\n"}
    problems = _problems(tmp_path, "  - {name: a, tap: tap, target: out, for_each: t.yml}\n", files=files)
    assert problems == [
        "t.yml:1: [0].account: 0123 is read by YAML (1.1) as the number 83; quote it ('0123') to keep the text, "
        "or write 83",
        "t.yml:2: [1].active: yes is read by YAML as the boolean true; quote it ('yes') to keep the text, "
        "or write true",
    ]


def test_tenants_reading_one_variable_by_the_default_rule_are_a_problem(tmp_path: Path) -> None:
    """``acme``'s DB_PASSWORD and ``acme_db``'s PASSWORD are both ACME_DB_PASSWORD: one tenant would
    run with the other's secret. A variable a record's env: names is chosen, not a clash."""
    connectors = (f"  - {{name: db, executable: {PY}, config: {{user: '${{tenant.env.USER}}', "
                  "password: '${tenant.env.DB_PASSWORD}', other: '${tenant.env.PASSWORD}'}}\n")
    pipelines = "  - name: p\n    tap: db\n    target: out\n    for_each: [{id: acme}, {id: acme_db}]\n"
    with pytest.raises(ConfigError) as info:
        _project(tmp_path, pipelines, connectors=connectors)
    assert info.value.problems == [
        "for_each: tenants read the same variable ACME_DB_PASSWORD ('acme' for ${tenant.env.DB_PASSWORD}, "
        "'acme_db' for ${tenant.env.PASSWORD}): name another variable in one record's env: (NAME: VARIABLE), "
        "or rename a tenant",
    ]
    chosen = ("  - name: p\n    tap: db\n    target: out\n"
              "    for_each: [{id: acme}, {id: acme_db, env: {PASSWORD: X}}]\n")
    project = _project(tmp_path, chosen, connectors=connectors)
    assert sorted(project.pipelines) == ["p@acme", "p@acme_db"]

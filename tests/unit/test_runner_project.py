"""sluice.yml: schema validation with locations, ${ENV} interpolation, connector resolution."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from protocol._errors import ConfigError
from runner.connectors import connector_secrets
from runner.project import find_project, interpolate, load_project


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluice.yml"
    path.write_text(text)
    return path


def test_every_problem_is_reported_at_once_with_line_and_location(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "connectors:\n"
        "  - name: a\n"
        "    executable: 5\n"
        "  - name: a\n"
        "    executable: x\n"
        "    limits: {memory_mb: 1}\n"
        "pipelines:\n"
        "  - name: bad name\n"
        "    tap: a\n"
    ))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    problems = info.value.problems
    assert "sluice.yml:3: connectors[0].executable: 5 is not of type 'string'" in problems
    assert "sluice.yml:6: connectors[1].limits.memory_mb: 1 is less than the minimum of 16" in problems
    assert any(p.startswith("sluice.yml:8: pipelines[0].name: 'bad name' is not a valid name") for p in problems)
    assert "sluice.yml:8: pipelines[0]: 'target' is a required property" in problems
    assert "sluice.yml:4: connectors[1].name: duplicate name 'a'" in problems  # in the same report
    assert len(problems) == 5


def test_references_and_duplicates_are_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "connectors:\n"
        "  - {name: a, executable: x}\n"
        "  - {name: a, executable: y}\n"
        "pipelines:\n"
        "  - {name: p, tap: a, target: nope}\n"
    ))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    assert info.value.problems == [
        "sluice.yml:3: connectors[1].name: duplicate name 'a'",
        "sluice.yml:5: pipelines[0].target: no connector named 'nope'",
    ]


def test_schema_problems_and_reference_problems_come_in_one_report(tmp_path: Path) -> None:
    """The references were checked only once the schema had no problem: a file with both took two
    rounds of edits to see them all (the contract: every problem at once)."""
    path = _write(tmp_path, (
        "connectors:\n"
        "  - {name: a, executable: x, confg: {}}\n"
        "  - {executable: y}\n"
        "pipelines:\n"
        "  - {name: p, tap: a, target: outt, schedule: '61 * * * *', timeout: -1}\n"
        "  - {name: p, tap: 5, target: a, schedule: 'every day'}\n"
    ))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    problems = info.value.problems
    assert any(p.startswith("sluice.yml:2: connectors[0].confg: unknown setting") for p in problems)
    assert "sluice.yml:3: connectors[1]: 'name' is a required property" in problems
    assert any(p.startswith("sluice.yml:5: pipelines[0].schedule: '61 * * * *' is not a cron schedule")
               for p in problems)
    assert "sluice.yml:5: pipelines[0].target: no connector named 'outt'" in problems
    assert "sluice.yml:6: pipelines[1].name: duplicate name 'p'" in problems
    assert [p for p in problems if "pipelines[1].schedule" in p] == [
        "sluice.yml:6: pipelines[1].schedule: 'every day' is not a cron schedule (5 fields, or @hourly, @daily, ...)"]
    assert len([p for p in problems if "pipelines[1].tap" in p]) == 1  # the schema's: 5 is no name


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_project(_write(tmp_path, "connectors: [\n"))
    assert str(info.value) == (f"{tmp_path / 'sluice.yml'}: line 2, column 1: did not find expected node content "
                               "(while parsing a flow node at line 2)")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_project(_write(tmp_path, "- a\n- b\n"))


def test_interpolation_tracks_secrets_and_lists_missing_variables() -> None:
    problems: list[str] = []
    secrets: set[str] = set()
    value = interpolate(
        {"dsn": "postgresql://u:${PW}@h/db", "n": 3, "d": "${MISSING:-fallback}", "lit": "$${NOT}", "l": ["${GONE}"]},
        {"PW": "s3cret"}, "connectors[0].config", problems, secrets,
    )
    assert value == {"dsn": "postgresql://u:s3cret@h/db", "n": 3, "d": "fallback", "lit": "${NOT}", "l": [""]}
    assert secrets == {"s3cret"}
    assert problems == ["connectors[0].config.l[0]: environment variable GONE is not set"]


def test_resolve_reads_config_file_finds_program_and_defaults_state_id(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"token": "${TOKEN}", "n": 1}')
    path = _write(tmp_path, (
        "state_store: postgresql://u:${PGPW}@h/db\n"
        "connectors:\n"
        f"  - {{name: t, executable: {sys.executable}, config: c.json, env: {{FLAG: true, N: 2}}}}\n"
        "  - {name: u, executable: python3, catalog: cat.json}\n"
        "pipelines:\n"
        "  - {name: p, tap: t, target: u, schedule: '@hourly'}\n"
    ))
    project = load_project(path)
    resolved = project.resolve(project.connectors["t"], {"TOKEN": "abc123"})
    assert resolved.config == {"token": "abc123", "n": 1}
    assert resolved.env == {"FLAG": "true", "N": "2"}
    assert resolved.env_values == {("config", "token"): {"abc123"}}
    assert resolved.argv == [sys.executable]
    assert project.pipelines["p"].state_id == "p"
    url, secrets = project.state_store_url({"PGPW": "pw-1"})
    assert url == "postgresql://u:pw-1@h/db" and secrets == {"pw-1"}
    assert project.state_store_url({"SLUICE_STATE_URL": "sqlite:x.db"})[0] == "sqlite:x.db"
    with pytest.raises(ConfigError) as info:
        project.resolve(project.connectors["t"], {})
    assert info.value.problems == ["connectors[0].config(c.json).token: environment variable TOKEN is not set"]
    with pytest.raises(ConfigError, match="catalog file not found"):
        project.resolve(project.connectors["u"], {}, check_catalog=True)


def test_unknown_program_and_unknown_connector(tmp_path: Path) -> None:
    project = load_project(_write(tmp_path, "connectors:\n  - {name: t, executable: no-such-program-xyz}\n"))
    with pytest.raises(ConfigError) as info:
        project.resolve(project.connectors["t"], {})
    assert info.value.problems == ["connectors[0].executable: program 'no-such-program-xyz' not found on PATH"]
    with pytest.raises(ConfigError, match="no connector named 'zzz-nothing'"):
        project.connector("zzz-nothing")
    adhoc = project.connector(sys.executable)
    assert not adhoc.declared and adhoc.executable == sys.executable


def test_find_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_project(None) is None
    _write(tmp_path, "connectors: []\n")
    assert find_project(None) == Path("sluice.yml")
    assert find_project(str(tmp_path)) == tmp_path / "sluice.yml"
    with pytest.raises(ConfigError, match="project file not found"):
        find_project(str(tmp_path / "other.yml"))


_SCHEMA = {"type": "object", "properties": {
    "host": {"type": "string"},
    "password": {"type": "string", "secret": True},
    "dsn": {"type": "string", "writeOnly": True},
    "streams": {"type": "array", "items": {"type": "object", "properties": {"token": {"type": "string",
                                                                                     "secret": True}}}},
}}


def _secrets_of(tmp_path: Path, connector: str, environ: dict[str, str], schema: dict[str, Any] | None) -> set[str]:
    project = load_project(_write(tmp_path, f"connectors:\n  - {connector}\n"))
    resolved = project.resolve(next(iter(project.connectors.values())), environ)
    return connector_secrets(resolved, None if schema is None else {"settings": schema})


def test_only_secret_settings_and_declared_secrets_are_masked_not_every_env_value(tmp_path: Path) -> None:
    environ = {"HOST": "db.internal.example", "PW": "pw-7f3a", "USER": "loader", "TOK": "tok-1234",
               "PORT": "5432", "REGION": "eu-west-1", "AWSKEY": "aws-9d8c", "ARG": "arg-5e6f"}
    connector = ("{name: c, executable: " + sys.executable + ", args: ['--x=${ARG}'], "
                 "config: {host: '${HOST}', password: '${PW}', port: '${PORT}', "
                 "dsn: 'postgresql://${USER}:${PW}@${HOST}/db', streams: [{token: 'tok-${TOK}', name: s}], "
                 "region: '${REGION}', extra: lit-secret-1}, "
                 "env: {AWS_SECRET_ACCESS_KEY: '${AWSKEY}', AWS_REGION: '${REGION}'}, secrets: [extra]}")
    found = _secrets_of(tmp_path, connector, environ, _SCHEMA)
    assert found == {
        "pw-7f3a", "postgresql://loader:pw-7f3a@db.internal.example/db", "loader", "db.internal.example",
        "tok-tok-1234", "tok-1234", "lit-secret-1", "aws-9d8c", "arg-5e6f",
    }  # host is masked only because it is part of the secret DSN; port and region never


def test_a_host_from_env_is_not_a_secret_when_nothing_secret_holds_it(tmp_path: Path) -> None:
    connector = "{name: c, executable: " + sys.executable + ", config: {host: '${HOST}', password: '${PW}'}}"
    found = _secrets_of(tmp_path, connector, {"HOST": "db.internal.example", "PW": "pw-7f3a"}, _SCHEMA)
    assert found == {"pw-7f3a"}


def test_without_a_settings_schema_every_env_value_in_the_config_stays_masked(tmp_path: Path) -> None:
    connector = "{name: c, executable: " + sys.executable + ", config: {host: '${HOST}', n: 1, lit: plain}}"
    assert _secrets_of(tmp_path, connector, {"HOST": "db.internal.example"}, None) == {"db.internal.example"}


def test_relative_paths_resolve_from_the_project_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "c.json").write_text('{"path": "data.csv"}')
    (proj / "bin").mkdir()
    (proj / "bin" / "tap-x").write_text("#!/bin/sh\n")
    (proj / "bin" / "tap-x").chmod(0o755)
    (proj / "sluice.yml").write_text(
        "connectors:\n  - {name: t, executable: bin/tap-x, config: c.json, catalog: cat.json}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    project = load_project(find_project("../proj"))
    resolved = project.resolve(project.connectors["t"], {})
    assert resolved.cwd == proj.resolve()  # connectors run there: "data.csv" is proj/data.csv to them
    assert resolved.argv == [str(proj.resolve() / "bin" / "tap-x")]
    assert resolved.catalog == proj.resolve() / "cat.json"
    with pytest.raises(ConfigError) as info:  # the hint's -o path is typed in the current directory
        project.resolve(project.connectors["t"], {}, check_catalog=True)
    assert "sluice discover t -o ../proj/cat.json)" in info.value.problems[0]


def test_plain_scalars_yaml_reads_as_other_values_are_problems(tmp_path: Path) -> None:
    """YAML 1.1 reads ``0123`` as 83, ``1:30`` as 90, ``on`` as true: a connector would get a value
    nobody wrote. ``env:`` values are text: ``1.10`` must not become ``1.1``."""
    path = _write(tmp_path, (
        "connectors:\n"
        "  - name: a\n"
        "    executable: x\n"
        "    config: {account: 0123, window: 1:30, flag: on, port: 5432, ratio: 0.5, ok: true, big: 1_000}\n"
        "    env:\n"
        "      PIN: 0123\n"
        "      VERSION: 1.10\n"
        "      PORT: 5432\n"
        "      DEBUG: false\n"
        "      QUOTED: '0123'\n"
        "pipelines:\n"
        "  - {name: p, tap: a, target: a}\n"
    ))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    assert info.value.problems == [
        "sluice.yml:4: connectors[0].config.account: 0123 is read by YAML (1.1) as the number 83; "
        "quote it ('0123') to keep the text, or write 83",
        "sluice.yml:4: connectors[0].config.window: 1:30 is read by YAML (1.1) as the number 90; "
        "quote it ('1:30') to keep the text, or write 90",
        "sluice.yml:4: connectors[0].config.flag: on is read by YAML as the boolean true; "
        "quote it ('on') to keep the text, or write true",
        "sluice.yml:6: connectors[0].env.PIN: 0123 is read by YAML (1.1) as the number 83; "
        "quote it ('0123') to keep the text, or write 83",
        "sluice.yml:7: connectors[0].env.VERSION: env values are text: 1.10 would be passed as '1.1'; "
        "quote it ('1.10') to keep the text",
    ]


def test_merge_keys_and_aliases_are_checked_where_written(tmp_path: Path) -> None:
    """``<<: *anchor`` is no scalar of the file (it made every command fail): the anchor's scalars are
    checked once, at the anchor; what a merge brings into ``env:`` is checked as env text there."""
    path = _write(tmp_path, (
        "connectors:\n"
        "  - name: a\n"
        "    executable: x\n"
        "    config: &base {account: 0123, port: 5432, versions: &v {VERSION: 1.10}}\n"
        "  - name: b\n"
        "    executable: x\n"
        "    config: {<<: *base, port: 5433, copy: *base}\n"
        "    env:\n"
        "      <<: [*v, {FLAG: on, LEVEL: debug}]\n"
        "pipelines:\n"
        "  - {name: p, tap: a, target: b}\n"
    ))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    assert info.value.problems == [
        "sluice.yml:4: connectors[0].config.account: 0123 is read by YAML (1.1) as the number 83; "
        "quote it ('0123') to keep the text, or write 83",
        "sluice.yml:4: connectors[1].env.VERSION: env values are text: 1.10 would be passed as '1.1'; "
        "quote it ('1.10') to keep the text",
        "sluice.yml:9: connectors[1].env.FLAG: on is read by YAML as the boolean true; "
        "quote it ('on') to keep the text, or write true",
    ]
    fixed = path.read_text().replace("0123", "'0123'").replace("1.10", "'1.10'").replace("on,", "'on',")
    project = load_project(_write(tmp_path, fixed))
    assert project.connectors["b"].config == {"account": "0123", "port": 5433, "versions": {"VERSION": "1.10"},
                                              "copy": {"account": "0123", "port": 5432,
                                                       "versions": {"VERSION": "1.10"}}}
    assert project.connectors["b"].env == {"VERSION": "1.10", "FLAG": "on", "LEVEL": "debug"}


def test_a_file_that_passed_older_checks_is_checked_again(tmp_path: Path) -> None:
    """The cache of checked files is keyed by the checks' code too: a file remembered as valid before a
    check was added is checked by it."""
    from runner import project_cache

    path = _write(tmp_path, "connectors:\n  - {name: a, executable: x, env: {PIN: 0123}}\n")
    project_cache.remember_valid(path, project_cache.digest(path.read_text()))
    assert project_cache.known_valid(path, project_cache.digest(path.read_text()))
    project_cache._salt.cache_clear()
    original = project_cache._CHECKS
    try:
        project_cache._CHECKS = ("project_schema.py",)  # the checks as an older sluice had them
        old = project_cache.digest(path.read_text())
    finally:
        project_cache._CHECKS = original
        project_cache._salt.cache_clear()
    assert old != project_cache.digest(path.read_text())

"""environments: of sluice.yml (runner/environments.py): a base and two overlays merged by the documented
rules, compared with effective projects written out by hand; how one is chosen; state ids per environment;
what validation says of a bad overlay."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError
from runner.environments import merge
from runner.project import Project, load_project

BASE = """\
state_store: sqlite:.sluice/base.db
connectors:
  - name: src
    executable: tap-csv
    args: [--verbose, --fast]
    config:
      files: [{entity: a, path: a.csv}]
      options: {delimiter: ",", quote: '"', encoding: utf-8}
      tags: [one, two]
    env: {LOG: info, KEEP: k}
  - name: dst
    executable: target-jsonl
    config: {destination_path: out, batch: {rows: 100, bytes: 5000}}
pipelines:
  - name: load
    tap: src
    target: dst
    schedule: "0 * * * *"
  - name: backfill
    tap: src
    target: dst
    state_id: back-v2
    enabled: false
  - name: nightly
    tap: src
    target: dst
    schedule: "@daily"
environments:
  dev:
    env: {LOG: debug, DEV: "1"}
    connectors:
      src:
        args: {"+": [--dev]}
        config:
          options: {delimiter: ";", encoding: null}
          tags: [dev]
      dst:
        config: {destination_path: out-dev, batch: {rows: 5}}
        env: {DEV: "2"}
    pipelines:
      nightly: null
      load: {schedule: "*/5 * * * *"}
  prod:
    state_store: sqlite:.sluice/prod.db
    state_id_scope: shared
    connectors:
      src:
        config: {tags: {"+": [prod, eu]}, files: [{entity: b, path: b.csv}]}
      extra:
        executable: target-csv
        config: {destination_path: csv-out}
    pipelines:
      backfill: {enabled: true}
      load: {target: extra, schedule: null}
"""

# the effective projects, worked out by hand from the rules in docs/environments.md
EXPECTED: dict[str | None, dict[str, Any]] = {
    None: {
        "state_store": "sqlite:.sluice/base.db",
        "connectors": {
            "src": {"args": ["--verbose", "--fast"], "env": {"LOG": "info", "KEEP": "k"},
                    "config": {"files": [{"entity": "a", "path": "a.csv"}],
                               "options": {"delimiter": ",", "quote": '"', "encoding": "utf-8"},
                               "tags": ["one", "two"]}},
            "dst": {"args": [], "env": {},
                    "config": {"destination_path": "out", "batch": {"rows": 100, "bytes": 5000}}},
        },
        "pipelines": {"load": ("load", "src", "dst", "0 * * * *"), "nightly": ("nightly", "src", "dst", "@daily")},
        "disabled": ["backfill"],
    },
    "dev": {
        "state_store": "sqlite:.sluice/base.db",
        "connectors": {
            "src": {"args": ["--verbose", "--fast", "--dev"], "env": {"LOG": "debug", "KEEP": "k", "DEV": "1"},
                    "config": {"files": [{"entity": "a", "path": "a.csv"}],
                               "options": {"delimiter": ";", "quote": '"'},
                               "tags": ["dev"]}},
            "dst": {"args": [], "env": {"LOG": "debug", "DEV": "2"},
                    "config": {"destination_path": "out-dev", "batch": {"rows": 5, "bytes": 5000}}},
        },
        "pipelines": {"load": ("dev:load", "src", "dst", "*/5 * * * *")},
        "disabled": ["backfill"],
    },
    "prod": {
        "state_store": "sqlite:.sluice/prod.db",
        "connectors": {
            "src": {"args": ["--verbose", "--fast"], "env": {"LOG": "info", "KEEP": "k"},
                    "config": {"files": [{"entity": "b", "path": "b.csv"}],
                               "options": {"delimiter": ",", "quote": '"', "encoding": "utf-8"},
                               "tags": ["one", "two", "prod", "eu"]}},
            "dst": {"args": [], "env": {},
                    "config": {"destination_path": "out", "batch": {"rows": 100, "bytes": 5000}}},
            "extra": {"args": [], "env": {}, "config": {"destination_path": "csv-out"}},
        },
        "pipelines": {"load": ("load", "src", "extra", None), "backfill": ("back-v2", "src", "dst", None),
                      "nightly": ("nightly", "src", "dst", "@daily")},
        "disabled": [],
    },
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sluice.yml"
    path.write_text(textwrap.dedent(text))
    return path


def _effective(project: Project) -> dict[str, Any]:
    return {
        "state_store": project.state_store,
        "connectors": {name: {"args": c.args, "env": c.env, "config": c.config}
                       for name, c in project.connectors.items()},
        "pipelines": {name: (p.state_id, p.tap, p.target, p.schedule) for name, p in project.pipelines.items()},
        "disabled": sorted(project.disabled),
    }


@pytest.mark.parametrize("name", [None, "dev", "prod"])
def test_each_environment_is_the_base_with_its_overlay_merged_by_the_rules(tmp_path: Path, name: str | None) -> None:
    project = load_project(_write(tmp_path, BASE), name, environ={})
    assert _effective(project) == EXPECTED[name]
    assert (project.environment.name if project.environment else None) == name
    assert list(project.pipelines) == list(EXPECTED[name]["pipelines"])  # the base's order, additions after


def test_a_project_without_environments_keeps_its_state_ids_exactly(tmp_path: Path) -> None:
    text = BASE.split("environments:")[0]
    project = load_project(_write(tmp_path, text), environ={"SLUICE_ENVIRONMENT": ""})
    assert project.environment is None
    assert {n: p.state_id for n, p in project.pipelines.items()} == {"load": "load", "nightly": "nightly"}
    assert project.disabled["backfill"].state_id == "back-v2"


def test_the_choice_is_the_flag_then_the_variable_then_the_default(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "default_environment: prod\n")

    def chosen(flag: str | None, environ: dict[str, str]) -> str | None:
        env = load_project(path, flag, environ=environ).environment
        return env.name if env else None

    assert chosen(None, {}) == "prod"
    assert chosen(None, {"SLUICE_ENVIRONMENT": "dev"}) == "dev"
    assert chosen("prod", {"SLUICE_ENVIRONMENT": "dev"}) == "prod"
    assert chosen("dev", {}) == "dev"
    assert chosen(None, {"SLUICE_ENVIRONMENT": ""}) == "prod"


@pytest.mark.parametrize(("flag", "environ", "source"), [
    ("staging", {}, "--environment"),
    (None, {"SLUICE_ENVIRONMENT": "stage"}, "SLUICE_ENVIRONMENT"),
])
def test_an_unknown_environment_is_one_error_naming_the_known_ones(tmp_path: Path, flag: str | None,
                                                                   environ: dict[str, str], source: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, BASE), flag, environ=environ)
    text = err.value.block()
    assert "\n" not in text
    assert f"no environment named '{flag or environ['SLUICE_ENVIRONMENT']}' ({source})" in text
    assert text.endswith("environments: dev, prod")


def test_an_environment_asked_of_a_project_without_any_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.split("environments:")[0])
    for flag, environ in (("dev", {}), (None, {"SLUICE_ENVIRONMENT": "dev"})):
        with pytest.raises(ConfigError, match=r"no environment named 'dev'.*it declares none"):
            load_project(path, flag, environ=environ)


def test_a_disabled_pipeline_is_refused_by_name(tmp_path: Path) -> None:
    project = load_project(_write(tmp_path, BASE), "dev", environ={})
    with pytest.raises(ConfigError, match="pipeline 'backfill' is disabled in environment 'dev'"):
        project.pipeline("backfill")
    with pytest.raises(ConfigError, match="no pipeline named 'nightly'"):
        project.pipeline("nightly")  # removed by null in dev


def test_tenant_pipelines_get_the_environment_prefix(tmp_path: Path) -> None:
    text = """\
    connectors:
      - {name: src, executable: tap-csv}
      - {name: dst, executable: target-jsonl}
    pipelines:
      - {name: per, tap: src, target: dst, for_each: [{id: acme}, {id: zeta}]}
    environments:
      qa: {}
    """
    project = load_project(_write(tmp_path, text), "qa", environ={})
    assert {n: p.state_id for n, p in project.pipelines.items()} == {"per@acme": "qa:per@acme",
                                                                     "per@zeta": "qa:per@zeta"}


@pytest.mark.parametrize(("base", "overlay", "expected"), [
    ({"a": 1, "b": {"c": 2, "d": [1, 2]}}, {"b": {"d": [3]}}, {"a": 1, "b": {"c": 2, "d": [3]}}),
    ({"a": [1]}, {"a": {"+": [2, 3]}}, {"a": [1, 2, 3]}),
    ({}, {"a": {"+": [2]}}, {"a": [2]}),
    ({"a": {"x": 1}}, {"a": None, "b": None}, {}),
    ({"a": "file.json"}, {"a": {"k": 1}}, {"a": {"k": 1}}),
    ({"a": {"k": 1}}, {"a": "file.json"}, {"a": "file.json"}),
    ({"a": [{"k": 1, "j": 2}]}, {"a": [{"k": 5}]}, {"a": [{"k": 5}]}),  # list items are not merged
    ({"a": {"+": 1}}, {"a": {"+": 2}}, {"a": {"+": 2}}),  # "+" with no list: an ordinary key
])
def test_merge_rules(base: dict[str, Any], overlay: dict[str, Any], expected: dict[str, Any]) -> None:
    problems: list[str] = []
    before = repr(base), repr(overlay)
    assert merge(base, overlay, "x", problems) == expected
    assert problems == []
    assert (repr(base), repr(overlay)) == before  # neither input changes


def test_appending_to_what_is_not_a_list_is_a_problem() -> None:
    problems: list[str] = []
    merge({"a": {"k": 1}}, {"a": {"+": [1]}}, "environments.dev", problems)
    assert problems == ["environments.dev.a: {'+': [...]} appends to a list, and the base value is dict, not a list"]


def test_validation_checks_every_environment_with_its_line(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent("""\
      broken:
        state_id_scope: shared
        connectors:
          dst: null
        pipelines:
          load: {schedule: "every hour"}
      typo:
        state_stor: sqlite
    default_environment: produ
    """)
    path = _write(tmp_path, text)
    lines = text.splitlines()
    at = {word: lines.index(line) + 1 for word in ("broken:", "typo:", "default_environment")
          for line in lines if line.strip().startswith(word)}
    with pytest.raises(ConfigError) as err:
        load_project(path, environ={})
    problems = err.value.problems
    first = at["broken:"] + 1  # the environment's first line
    schedule = (f"sluice.yml:{first}: environments.broken: pipelines[0].schedule: 'every hour' is "
                "not a cron schedule (5 fields, or @hourly, @daily, ...)")
    dst = [f"sluice.yml:{first}: environments.broken: pipelines[{i}].target: no connector named 'dst'"
           for i in range(3)]
    assert problems[:4] == [schedule, *dst]  # with the schedule, in one report (they came a round later)
    # typo's misspelt key hides no other environment's problem
    assert f"sluice.yml:{at['typo:'] + 1}: environments.typo.state_stor: unknown setting" in problems[4]
    assert f"sluice.yml:{at['default_environment']}: default_environment: no environment named 'produ'" in problems[5]
    assert "did you mean 'prod'" in problems[5]
    assert len(problems) == 6
    fixed = text.replace("    state_stor: sqlite\n", "").replace("produ\n", "prod\n")
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, fixed), environ={})
    assert err.value.problems == [schedule, *dst]
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, fixed.replace("every hour", "@hourly")), environ={})
    assert err.value.problems == dst


def test_an_overlay_entry_naming_nothing_in_the_base_is_said_at_its_line(tmp_path: Path) -> None:
    """A connector or pipeline of an overlay that is not the base's and not whole (or removes what the base
    has not) is a misspelt name: said at its own line with the name meant, every environment at once;
    the merged projects are checked without it, and not at all while the base has problems of its own."""
    text = BASE + (
        "  stage:\n"
        "    connectors:\n"
        "      dts:\n"
        "        config: {destination_path: out-dev}\n"
        "      whole: {executable: target-csv}\n"
        "    pipelines:\n"
        "      laod: {schedule: \"*/5 * * * *\"}\n"
        "      nightly: {schedule: every day}\n"
        "  qa:\n"
        "    connectors: {scr: null}\n"
    )
    lines = text.splitlines()
    at = {word: lines.index(line) + 1 for word in ("dts:", "laod:", "qa:") for line in lines
          if line.strip().startswith(word)}
    expected = [
        f"sluice.yml:{at['dts:'] + 1}: environments.stage.connectors.dts: no connector 'dts' in the base and not "
        "a whole connector ('executable' missing); did you mean 'dst'?",
        f"sluice.yml:{at['laod:']}: environments.stage.pipelines.laod: no pipeline 'laod' in the base and not "
        "a whole pipeline ('tap', 'target' missing); did you mean 'load'?",
        f"sluice.yml:{at['qa:'] + 1}: environments.qa.connectors.scr: null removes a connector, and the base has "
        "no connector 'scr'; did you mean 'src'?",
    ]
    merged = [f"sluice.yml:{lines.index('  stage:') + 2}: environments.stage: pipelines[2].schedule: 'every day' "
              "is not a cron schedule (5 fields, or @hourly, @daily, ...)"]
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, text), environ={})
    assert err.value.problems == sorted(merged + expected, key=lambda p: int(p.split(":")[1]))
    broken_base = text.replace("executable: target-jsonl", "executable: 5")
    with pytest.raises(ConfigError) as err:
        load_project(_write(tmp_path, broken_base), environ={})
    executable = lines.index("    executable: target-jsonl") + 1
    assert err.value.problems == [f"sluice.yml:{executable}: connectors[1].executable: 5 is not of type 'string'",
                                  *expected]

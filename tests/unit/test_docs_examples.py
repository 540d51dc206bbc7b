"""The examples of the documentation work as written.

- every ```yaml and ```json block of README.md, docs/*.md and the connectors' READMEs parses;
- every setting an example gives one of the suite's connectors (``config:`` of a connector, of an
  environment's overlay, of a pipeline's ``maps:`` entry) is declared in that connector's settings
  schema (what ``--about`` publishes), in those blocks and in the example projects of examples/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_docs import CONNECTORS, ROOT

_FENCE = re.compile(r"^(\s*)```(yaml|yml|json)\s*$")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted(ROOT.glob("t*/*/README.md")), *sorted(ROOT.glob("protocol/*/README.md"))]
SETTINGS = {doc.name: set(doc.settings_schema.get("properties") or {}) for doc in CONNECTORS}


def blocks(text: str) -> Iterator[tuple[str, int, str]]:
    """(language, first line, text) of each fenced yaml/json block, its fence's indentation removed."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```"))
            indent = len(fence.group(1))
            yield fence.group(2), i + 2, "\n".join(line[indent:] for line in lines[i + 1:end])
            i = end
        i += 1


def _parse(language: str, text: str) -> Any:
    return json.loads(text) if language == "json" else yaml.safe_load(text)


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_yaml_and_json_block_parses(path: Path) -> None:
    problems = []
    for language, line, text in blocks(path.read_text()):
        try:
            _parse(language, text)
        except (ValueError, yaml.YAMLError) as exc:
            problems.append(f"{path.relative_to(ROOT)}:{line} ({language}): {str(exc).splitlines()[0]}")
    assert not problems, "\n".join(problems)


def _configs(project: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(where, executable, config: a mapping, a file name or nothing) of every connector config an example gives."""
    connectors = [c for c in project.get("connectors") or [] if isinstance(c, Mapping)]
    executables = {c.get("name"): c.get("executable") for c in connectors if not c.get("pip_url")}
    for c in connectors:
        if not c.get("pip_url"):
            yield f"connectors.{c.get('name')}", str(c.get("executable")), c.get("config")
    for pipeline in project.get("pipelines") or []:
        for step in (pipeline.get("maps") or []) if isinstance(pipeline, Mapping) else []:
            if isinstance(step, Mapping):
                where = f"pipelines.{pipeline.get('name')}.maps.{step.get('mapper')}"
                yield where, str(executables.get(step.get("mapper"))), step.get("config")
    environments = project.get("environments")
    for env, overlay in (environments.items() if isinstance(environments, Mapping) else []):
        for name, connector in ((overlay or {}).get("connectors") or {}).items():
            if isinstance(connector, Mapping):
                executable = connector.get("executable") or executables.get(name)
                yield f"environments.{env}.connectors.{name}", str(executable), connector.get("config")


def unknown_settings(where: str, project: Any) -> list[str]:
    """'WHERE: connectors.NAME (EXE): unknown settings [...]' for each config naming an undeclared setting."""
    if not isinstance(project, Mapping):
        return []
    problems = []
    for place, executable, config in _configs(project):
        declared = SETTINGS.get(executable)
        if declared is not None and isinstance(config, Mapping):
            unknown = sorted(set(config) - declared)
            if unknown:
                problems.append(f"{where}: {place} ({executable}): unknown settings {unknown}")
    return problems


def example_projects() -> Iterator[tuple[str, Any]]:
    for path in DOCS:
        for language, line, text in blocks(path.read_text()):
            if language != "json":
                yield f"{path.relative_to(ROOT)}:{line}", _parse(language, text)
    for path in sorted((ROOT / "examples").rglob("sluice.yml")):
        yield str(path.relative_to(ROOT)), yaml.safe_load(path.read_text())


def test_every_setting_in_the_examples_is_declared_by_its_connector() -> None:
    projects = list(example_projects())
    checked = [where for where, project in projects
               if any(isinstance(config, Mapping) and executable in SETTINGS
                      for _, executable, config in _configs(project if isinstance(project, Mapping) else {}))]
    assert any(where.startswith("docs/environments.md") for where in checked)
    assert any(where.startswith("docs/secrets.md") for where in checked)
    problems = [problem for where, project in projects for problem in unknown_settings(where, project)]
    assert not problems, "\n".join(problems)


def test_the_settings_check_sees_an_undeclared_setting_in_each_place() -> None:
    text = """\
```yaml
connectors:
  - {name: src, executable: tap-postgres, config: {host: h, sslkey: k}}
  - {name: dst, executable: target-postgres, config: configs/dst.json}
  - {name: mask, executable: mapper-sluice, config: {stream_maps: {}}}
  - {name: hub, executable: tap-github, pip_url: meltanolabs-tap-github, config: {anything: 1}}
pipelines:
  - {name: p, tap: src, target: dst, maps: [{mapper: mask, config: {salt: s}}]}
environments:
  dev:
    connectors:
      dst: {config: {host: localhost, batch: {rows: 5}}}
```
"""
    [(language, _, block)] = blocks(text)
    problems = unknown_settings("x.md", _parse(language, block))
    assert problems == ["x.md: connectors.src (tap-postgres): unknown settings ['sslkey']",
                        "x.md: pipelines.p.maps.mask (mapper-sluice): unknown settings ['salt']",
                        "x.md: environments.dev.connectors.dst (target-postgres): unknown settings ['batch']"]

"""The dependency rules of DESIGN.md, checked on every import statement of the packages.

- protocol/ imports nothing of ours;
- a tap or target imports protocol/ and its own package (SQL targets also targets/sql,
  file targets also targets/files), never another connector;
- runner/ imports protocol/ only: it runs every connector as a program behind a pipe.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = ("protocol", "taps", "targets", "runner")
SHARED_TARGET_CORES = ("targets.sql", "targets.files")


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return [n for n in names if n.split(".")[0] in OURS]


def allowed(module: str, imported: str) -> bool:
    top = imported.split(".")[0]
    if module.startswith("protocol"):
        return top == "protocol"
    if module.startswith("runner"):
        return top in ("protocol", "runner")
    parts = module.split(".")
    own = ".".join(parts[:2])  # taps.csv, targets.postgres, ...
    if imported == own or imported.startswith(own + "."):
        return True
    if top == "protocol":
        return True
    if parts[0] == "targets":
        return any(imported == core or imported.startswith(core + ".") for core in SHARED_TARGET_CORES)
    return False


def modules() -> list[tuple[str, Path]]:
    out = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            out.append((".".join(rel.parts).removesuffix(".__init__"), path))
    return out


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_follow_the_dependency_rules(module: str, path: Path) -> None:
    bad = [name for name in imports_of(path) if not allowed(module, name)]
    assert not bad, f"{module} imports {bad}"


def test_the_rules_catch_a_violation() -> None:
    assert not allowed("runner.run", "targets.jsonl.sink")
    assert not allowed("taps.csv.tap", "taps.postgres.client")
    assert not allowed("targets.jsonl.sink", "targets.csv.sink")
    assert not allowed("protocol._reader", "runner.cli")
    assert allowed("targets.postgres.dialect", "targets.sql.sink")

"""The dependency rules of DESIGN.md, checked on every import statement of the packages.

- protocol/ imports nothing of ours;
- a tap or target imports protocol/ and its own package (SQL targets also targets/sql,
  file targets also targets/files), never another connector;
- runner/ imports protocol/ only: it runs every connector as a program behind a pipe;
- taps/, targets/ and runner/ use the kit through its public faces only: ``protocol``,
  ``protocol.http``, ``protocol.pg`` and ``protocol.maps``, never a private module (``protocol._x``,
  ``protocol.http._x``); the kit's own modules and tests/ and bench/ may.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

OURS = ("protocol", "taps", "targets", "runner")
SHARED_TARGET_CORES = ("targets.sql", "targets.files")
#: what a connector or the runner may import of the kit
PUBLIC_FACES = ("protocol", "protocol.http", "protocol.pg", "protocol.maps")


def imports_in(source: str, filename: str = "<source>") -> list[str]:
    """Every module of ours an import statement names; ``from protocol import _x`` counts as
    importing ``protocol._x`` (a private module or name taken through a face)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return [n for n in names if n.split(".")[0] in OURS]


def imports_of(path: Path) -> list[str]:
    return imports_in(path.read_text(), str(path))


def allowed(module: str, imported: str) -> bool:
    top = imported.split(".")[0]
    if module.startswith("protocol"):
        return top == "protocol"
    if top == "protocol":
        return imported in PUBLIC_FACES
    if module.startswith("runner"):
        return top == "runner"
    parts = module.split(".")
    own = ".".join(parts[:2])  # taps.csv, targets.postgres, ...
    if imported == own or imported.startswith(own + "."):
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


#: the public module path of the error tree before the kit's modules became private (spelt in two
#: parts, so that the rewrite that made them private leaves it alone)
OLD_ERRORS = "protocol" + ".errors"


def test_the_rules_catch_a_private_kit_import() -> None:
    """The checker itself, on a synthetic connector: every way of reaching a private module fails."""
    source = (
        "from protocol import ConfigError, plural\n"
        "from protocol.http import HttpClient\n"
        "import protocol.pg\n"
        "def lazy():\n"
        "    from protocol._errors import TargetError\n"
        "    from protocol import _jsoncodec as jsoncodec\n"
        "    from protocol.http._session import HttpClient\n"
        "    from protocol.pg import (\n        _connect,\n    )\n"
        "    import protocol._wording\n"
        f"    from {OLD_ERRORS} import ConfigError\n"
    )
    bad = [name for name in imports_in(source) if not allowed("taps.example.tap", name)]
    assert bad == ["protocol._errors", "protocol._jsoncodec", "protocol.http._session", "protocol.pg._connect",
                   "protocol._wording", OLD_ERRORS]
    assert [n for n in imports_in(source) if not allowed("runner.run", n)] == bad
    assert all(allowed("protocol._target", name) for name in imports_in(source))  # the kit itself may


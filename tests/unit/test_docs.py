"""The documentation cannot drift from the code.

- every connector's README holds exactly the settings section ``docs/gen_readmes.py`` writes
  from its settings schema, so a setting added to a schema fails here until the READMEs are
  regenerated (``python docs/gen_readmes.py``);
- ``--about --format markdown`` lists every setting, nested ones included;
- every config key a connector's code reads (``config.get("x")``, ``config["x"]``,
  ``setting(SCHEMA, config, "x")``, the fields of a ``build_settings`` dataclass, the per-file
  and per-stream entries) is declared in its settings schema, so it is in ``--about`` and the
  README too;
- every key ``sluice.yml`` accepts is in docs/sluice-yml.md.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from protocol._about import format_about, settings_rows

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("protocol", "taps", "targets")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_readmes", ROOT / "docs" / "gen_readmes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_readmes"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
CONNECTORS = GEN.connectors()
IDS = [doc.name for doc in CONNECTORS]

def test_every_connector_of_the_suite_is_documented() -> None:
    assert set(IDS) >= {"tap-csv", "tap-postgres", "tap-github", "tap-rest",
                        "target-postgres", "target-sqlite", "target-jsonl", "target-csv"}


@pytest.mark.parametrize("doc", CONNECTORS, ids=IDS)
def test_readme_is_what_the_generator_writes(doc: Any) -> None:
    assert doc.readme.exists(), f"{doc.readme} is missing: run python docs/gen_readmes.py"
    assert doc.readme.read_text() == GEN.render(doc), (
        f"{doc.readme.relative_to(ROOT)} is out of date with {doc.name}'s settings: run python docs/gen_readmes.py")


def _schema_names(schema: Any) -> Iterator[str]:
    """Every property name at any depth of a JSON Schema (properties, items, anyOf, ...)."""
    if isinstance(schema, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            yield name
            yield from _schema_names(sub)
        for key in ("items", "additionalProperties"):
            yield from _schema_names(schema.get(key))
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key) or []:
                yield from _schema_names(sub)
    elif isinstance(schema, list):
        for sub in schema:
            yield from _schema_names(sub)


@pytest.mark.parametrize("doc", CONNECTORS, ids=IDS)
def test_every_setting_is_in_the_readme_and_about(doc: Any) -> None:
    readme = doc.readme.read_text()
    about_md = format_about(_AboutView(doc), "markdown")
    rows = settings_rows(doc.settings_schema)
    shown = {row.name.rsplit(".", 1)[-1].removesuffix("[]") for row in rows}
    hidden = set(_schema_names(doc.settings_schema)) - shown
    assert not hidden, f"{doc.name}: nested settings with no row: {sorted(hidden)}"
    for row in rows:
        assert f"| {row.name} |" in readme, f"{doc.readme}: setting {row.name} is not documented"
        assert f"| {row.name} |" in about_md, f"{doc.name} --about --format markdown: no row for {row.name}"


class _AboutView:
    """What format_about reads of a connector class."""

    def __init__(self, doc: Any) -> None:
        self.name = doc.name
        self.description = "-"
        self.capabilities: list[str] = []
        self.settings_schema = doc.settings_schema


def test_about_markdown_lists_nested_settings_with_relative_required() -> None:
    schema = {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "object", "required": ["path"], "properties": {
            "path": {"type": "string", "description": "a | pipe"},
            "delimiter": {"type": "string", "default": ","},
            "opts": {"type": "object", "properties": {"deep": {"type": "integer", "default": 3}}}}}},
        "token": {"type": "string", "secret": True}}}
    about_md = format_about(_AboutView(type("D", (), {"name": "tap-x", "settings_schema": schema})()), "markdown")
    assert "| files | True | None |  |" in about_md
    assert "| files[].path | True | None | a \\| pipe |" in about_md
    assert "| files[].delimiter | False | , |  |" in about_md
    assert "| files[].opts.deep | False | 3 |  |" in about_md
    assert "| token | False | None |  (secret) |" in about_md


# -- config keys read by the code -------------------------------------------------------------

_CONFIG_NAMES = {"config", "cfg", "settings"}
# per-entry settings (tap-csv's files[], tap-rest's streams[]) are read as item/spec in the
# connector's own package, and pagination settings in the HTTP kit's paginator_from_config
_ENTRY_NAMES = {"item", "spec"}


def _strings(node: ast.AST, constants: Mapping[str, list[str]]) -> list[list[str]]:
    """The string tuples a loop iterates: ("a", "b") -> [[a], [b]]; (("a", "x"), ...) -> [[a, x], ...]."""
    if isinstance(node, ast.Name):
        return [[value] for value in constants.get(node.id, [])]
    if not isinstance(node, ast.Tuple | ast.List | ast.Set):
        return []
    out = []
    for elt in node.elts:
        if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
            out.append([elt.value])
        elif isinstance(elt, ast.Tuple):
            out.append([e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else "" for e in elt.elts])
    return out


def _loop_bindings(scope: ast.AST, constants: Mapping[str, list[str]]) -> dict[str, set[str]]:
    """Names bound by ``for`` loops and comprehensions over string tuples in ``scope``."""
    bound: dict[str, set[str]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.For | ast.comprehension):
            targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
            for values in _strings(node.iter, constants):
                for target, value in zip(targets, values, strict=False):
                    if isinstance(target, ast.Name) and value:
                        bound.setdefault(target.id, set()).add(value)
    return bound


def _reads(scope: ast.AST, names: set[str], bound: Mapping[str, set[str]]) -> Iterator[tuple[str, int]]:
    """``X.get(k)``, ``X.pop(k)``, ``X[k]`` for X (a name or attribute) in ``names``."""
    for node in ast.walk(scope):
        owner: ast.AST | None = None
        key: ast.AST | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop") \
                and node.args:
            owner, key = node.func.value, node.args[0]
        elif isinstance(node, ast.Subscript):
            owner, key = node.value, node.slice
        name = owner.id if isinstance(owner, ast.Name) else (owner.attr if isinstance(owner, ast.Attribute) else "")
        if name not in names or key is None:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value, line
        elif isinstance(key, ast.Name):
            yield from ((value, line) for value in sorted(bound.get(key.id, ())))


# A frozen settings dataclass: its name -> (its own fields, its base classes' names)
Classes = Mapping[str, tuple[list[str], list[str]]]


def _classes(tree: ast.AST) -> dict[str, tuple[list[str], list[str]]]:
    """Each class of a module with its annotated fields (ClassVars left out) and its bases."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            fields = [stmt.target.id for stmt in node.body if isinstance(stmt, ast.AnnAssign)
                      and isinstance(stmt.target, ast.Name) and "ClassVar" not in ast.unparse(stmt.annotation)]
            found[node.name] = (fields, [b.id for b in node.bases if isinstance(b, ast.Name)])
    return found


def _fields(name: str, classes: Classes) -> list[str]:
    fields, bases = classes[name]
    return [f for base in bases if base in classes for f in _fields(base, classes)] + fields


def _owner(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else (node.attr if isinstance(node, ast.Attribute) else "")


def _settings_reads(scope: ast.AST, names: set[str], bound: Mapping[str, set[str]], classes: Classes,
                    owner: str) -> Iterator[tuple[str, int]]:
    """``setting(schema, X, k)``, and ``build_settings(Cls, schema, X, **given)``: each field of the
    dataclass ``Cls`` not given is read as the setting of its name (protocol/_settings.py); X (the
    mapping read from, a name or attribute) must be one of ``names``."""
    for node in ast.walk(scope):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        source = node.args[1 if func == "setting" else 2] if len(node.args) > 2 else None
        if source is not None and _owner(source) not in names:
            continue
        if func == "setting":
            key = node.args[2] if len(node.args) > 2 else next(
                (kw.value for kw in node.keywords if kw.arg == "name"), None)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value, node.lineno
            elif isinstance(key, ast.Name):
                yield from ((value, node.lineno) for value in sorted(bound.get(key.id, ())))
        elif func == "build_settings" and node.args:
            cls = ast.unparse(node.args[0])
            cls = owner if cls == "cls" else cls
            if cls not in classes:  # the scan would be blind to its fields: say so
                yield f"<settings class {cls} not found by the scan>", node.lineno
                continue
            given = {kw.arg for kw in node.keywords}
            yield from ((field, node.lineno) for field in _fields(cls, classes) if field not in given)


def _keys_in_file(path: Path, names: set[str], classes: Classes | None = None) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    classes = {**_classes(tree), **(classes or {})}
    owners = {id(stmt): node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
              for stmt in node.body if isinstance(stmt, ast.FunctionDef)}
    constants: dict[str, list[str]] = {}
    for node in tree.body:  # module-level tuples of setting names: DIALECT_OPTIONS = ("delimiter", ...)
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = [v[0] for v in _strings(node.value, {})] if node.value is not None else []
            for target in targets:
                if isinstance(target, ast.Name) and values:
                    constants[target.id] = values
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope in scopes:
        bound = _loop_bindings(scope, constants)
        yield from _reads(scope, names, bound)
        yield from _settings_reads(scope, names, bound, classes, owners.get(id(scope), ""))


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, module: str) -> Iterator[str]:
    tree = ast.parse(path.read_text())
    # ``from protocol import X`` (or another face) loads X's module through the face's lazy table
    faces = ("protocol", "protocol.http", "protocol.pg", "protocol.maps")
    lazy: dict[str, dict[str, tuple[str, str]]] = {face: importlib.import_module(face)._LAZY for face in faces}
    skip: set[int] = set()
    for node in ast.walk(tree):  # imports under `if TYPE_CHECKING:` are not run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                if alias.name in lazy.get(node.module, {}):
                    yield lazy[node.module][alias.name][0]
                else:
                    yield f"{node.module}.{alias.name}"


def _source_files(entry_module: str) -> list[Path]:
    """The files of ours a connector's program runs: the closure of its imports."""
    seen: dict[str, Path] = {}
    todo = [entry_module]
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith(_OURS):
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_imported_modules(path, name))
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # packages run their __init__
    return sorted(seen.values())


def keys_read(doc: Any) -> dict[str, str]:
    """Config keys the connector's code reads, each with one place that reads it."""
    found: dict[str, str] = {}
    files = _source_files(f"{doc.source_dir.parent.name}.{doc.source_dir.name}.__main__")
    own_text = "".join(path.read_text() for path in files if path.is_relative_to(doc.source_dir))
    classes = {name: found for path in files for name, found in _classes(ast.parse(path.read_text())).items()}
    for path in files:
        names = set(_CONFIG_NAMES)
        if path.is_relative_to(doc.source_dir) or (
                path == ROOT / "protocol" / "http" / "_paginators.py"
                and ("paginator_from_config" in own_text or "PaginationSettings" in own_text)):
            names |= _ENTRY_NAMES
        for key, line in _keys_in_file(path, names, classes):
            found.setdefault(key, f"{path.relative_to(ROOT)}:{line}")
    return found


@pytest.mark.parametrize("doc", CONNECTORS, ids=IDS)
def test_every_config_key_the_code_reads_is_declared(doc: Any) -> None:
    declared = set(_schema_names(doc.settings_schema))
    read = keys_read(doc)
    undeclared = sorted(f"{key} ({where})" for key, where in read.items() if key not in declared)
    assert not undeclared, f"{doc.name} reads settings its schema does not declare: {', '.join(undeclared)}"


def test_the_code_scan_reaches_the_shared_modules() -> None:
    """The scan would miss undeclared reads if it did not follow the imports into the kit."""
    by_name = {doc.name: doc for doc in CONNECTORS}
    assert "fast_path" in keys_read(by_name["target-jsonl"])  # protocol/_lane.py
    assert "batch_size_rows" in keys_read(by_name["target-postgres"])  # protocol/_target.py
    assert {"load_method", "table_names"} <= set(keys_read(by_name["target-sqlite"]))  # targets/sql/settings.py
    assert "max_retries" in keys_read(by_name["tap-github"])  # protocol/http/_settings.py, setting() in a loop
    assert {"burst", "per_page", "repositories"} <= set(keys_read(by_name["tap-github"]))  # build_settings fields
    assert {"user", "database", "ssl_client_private_key"} <= set(keys_read(by_name["target-postgres"]))  # loops
    assert "delimiter" not in keys_read(by_name["tap-rest"])
    assert "size_param" not in keys_read(by_name["tap-github"])  # its pagination is not configurable
    assert {"entity", "delimiter", "encoding"} <= set(keys_read(by_name["tap-csv"]))  # files[] entries
    assert {"size_param", "replication_param"} <= set(keys_read(by_name["tap-rest"]))  # streams[] entries
    # settings read through protocol/_settings.py: setting(...) and the fields of build_settings' dataclass
    assert "max_parallel_reads" in keys_read(by_name["tap-postgres"])  # TapSettings, built by cls
    csv_keys = set(keys_read(by_name["target-csv"]))
    # own and inherited (FileSettings) fields, setting() calls, one in a loop over the path aliases
    assert {"file_naming_scheme", "compression", "stream_maps", "output_path_prefix"} <= csv_keys
    assert not {"output_dir", "overwrite"} & csv_keys  # derived fields are given, not read


def test_the_code_scan_sees_undeclared_settings_read_through_the_settings_kit(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from dataclasses import dataclass\n"
        "from protocol._settings import build_settings, setting\n"
        "NAMES = ('looped_name',)\n"
        "@dataclass(frozen=True)\n"
        "class Base:\n"
        "    base_field: int\n"
        "@dataclass(frozen=True)\n"
        "class Planted(Base):\n"
        "    planted_field: str\n"
        "    derived: int\n"
        "def read(config):\n"
        "    for name in NAMES:\n"
        "        setting(S, config, name)\n"
        "    return build_settings(Planted, S, config, derived=setting(S, config, 'undeclared_x'))\n"
        "def blind(config):\n"
        "    return build_settings(Elsewhere, S, config)\n")
    found = {key for key, _ in _keys_in_file(planted, set(_CONFIG_NAMES))}
    assert found == {"looped_name", "undeclared_x", "base_field", "planted_field",
                     "<settings class Elsewhere not found by the scan>"}


# -- sluice.yml ------------------------------------------------------------------------------

def _project_keys(schema: Any) -> Iterator[str]:
    """Every key name a JSON Schema accepts, at any depth."""
    if isinstance(schema, list):
        for sub in schema:
            yield from _project_keys(sub)
    if not isinstance(schema, Mapping):
        return
    for name, sub in (schema.get("properties") or {}).items():
        yield name
        yield from _project_keys(sub)
    yield from _project_keys(list((schema.get("patternProperties") or {}).values()))
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "then", "else"):
        yield from _project_keys(schema.get(key))


def test_every_project_file_key_is_in_the_reference() -> None:
    from runner.project_schema import PROJECT_SCHEMA

    reference = (ROOT / "docs" / "sluice-yml.md").read_text()
    keys = set(_project_keys(PROJECT_SCHEMA))
    assert {"connectors", "pipelines", "env", "limits", "memory_mb", "state_id", "schedule"} <= keys
    missing = sorted(key for key in keys if f"`{key}" not in reference)
    assert not missing, f"docs/sluice-yml.md does not document: {', '.join(missing)}"


def test_readme_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{path.name}" in readme, f"README.md does not link docs/{path.name}"
    for doc in CONNECTORS:
        rel = doc.readme.relative_to(ROOT)
        assert str(rel) in readme, f"README.md does not link {rel}"

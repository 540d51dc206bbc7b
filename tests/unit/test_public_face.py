"""The kit's public faces (protocol, protocol.http, protocol.pg) list each public name once.

Each face ``__init__.py`` declares its names once, by private module (``_LAZY = lazy_table(...)``),
and ``__all__`` and the lazy table are both made from that declaration; the names its
``if TYPE_CHECKING:`` block imports for the type checker are the same set, each from the same
private module and attribute, and each resolves to that object; nothing is imported before it is
asked for. The checker is tried on a face with a planted mismatch.
"""

from __future__ import annotations

import ast
import importlib
import socket
import subprocess
import sys

import psycopg
import pytest

from tests.conftest import ROOT, pg_address

FACES = ("protocol", "protocol.http", "protocol.pg", "protocol.maps")


def face_tables(package: str, source: str
                ) -> tuple[list[str], dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """(the declared names in order, the lazy table they make, the TYPE_CHECKING imports) of a face.

    The lazy table and the imports map a name to (module, attribute); the declaration is read
    from the source, not through the kit's own helper.
    """
    names: list[str] = []
    lazy: dict[str, tuple[str, str]] = {}
    typing: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_LAZY"]:
            assert isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "lazy_table"
            for module, declared in ast.literal_eval(node.value.args[1]).items():
                for name in declared:
                    names.append(name)
                    lazy[name] = (f"{package}.{module}", name)
        elif isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in node.body:
                assert isinstance(sub, ast.ImportFrom) and sub.module, "only from-imports under TYPE_CHECKING"
                for alias in sub.names:
                    typing[alias.asname or alias.name] = (sub.module, alias.name)
    return names, lazy, typing


def face_problems(package: str, source: str) -> list[str]:
    names, lazy, typing = face_tables(package, source)
    problems = [f"{name} declared twice" for name in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"{n} declared, not in the TYPE_CHECKING imports" for n in sorted(set(lazy) - set(typing))]
    problems += [f"{n} in the TYPE_CHECKING imports, not declared" for n in sorted(set(typing) - set(lazy))]
    for name in sorted(set(lazy) & set(typing)):
        if lazy[name] != typing[name]:
            problems.append(f"{name}: lazy {lazy[name]} but typed as {typing[name]}")
    prefix = package + "._"
    problems += [f"{name}: {module} is not a private module of {package}"
                 for name, (module, _) in sorted(lazy.items()) if not module.startswith(prefix)]
    return problems


def face_source(package: str) -> str:
    return (ROOT / package.replace(".", "/") / "__init__.py").read_text()


@pytest.mark.parametrize("package", FACES)
def test_all_lazy_table_and_typing_imports_agree(package: str) -> None:
    names, lazy, _ = face_tables(package, face_source(package))
    assert names and lazy
    assert face_problems(package, face_source(package)) == []
    face = importlib.import_module(package)
    assert face._LAZY == lazy
    assert face.__all__ == sorted(lazy)


@pytest.mark.parametrize("package", FACES)
def test_every_public_name_resolves_to_its_private_object(package: str) -> None:
    face = importlib.import_module(package)
    _, lazy, _ = face_tables(package, face_source(package))
    for name, (module, attr) in lazy.items():
        assert getattr(face, name) is getattr(importlib.import_module(module), attr), name
    assert set(face.__all__) <= set(dir(face))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        face.nope  # noqa: B018


#: a module path that is not private (spelt in two parts: the rewrite to private paths leaves it alone)
PUBLIC_PATH = "protocol" + ".wording"


def test_the_checker_catches_a_face_out_of_step() -> None:
    planted = face_source("protocol").replace('"_wording": ["closest", "plural"]', '"wording": ["closest"]', 1)
    planted = planted.replace("import TargetError as TargetError", "import SourceError as TargetError")
    planted = planted.replace("    from protocol._lane import RecordRun as RecordRun\n", "")
    assert sorted(face_problems("protocol", planted)) == sorted([
        "RecordRun declared, not in the TYPE_CHECKING imports",
        "plural in the TYPE_CHECKING imports, not declared",
        "TargetError: lazy ('protocol._errors', 'TargetError') but typed as ('protocol._errors', 'SourceError')",
        f"closest: lazy ('{PUBLIC_PATH}', 'closest') but typed as ('protocol._wording', 'closest')",
        f"closest: {PUBLIC_PATH} is not a private module of protocol",
    ])
    twice = face_source("protocol.pg").replace('"describe"]', '"describe", "describe"]', 1)
    assert face_problems("protocol.pg", twice) == ["describe declared twice"]


def test_the_face_helper_refuses_a_name_declared_twice() -> None:
    from protocol._face import lazy_table

    assert lazy_table("protocol", {"_x": ["a", "b"], "_y": ["c"]}) == {
        "a": ("protocol._x", "a"), "b": ("protocol._x", "b"), "c": ("protocol._y", "c")}
    with pytest.raises(ValueError, match="a is declared twice"):
        lazy_table("protocol", {"_x": ["a"], "_y": ["a"]})
    with pytest.raises(TypeError, match="a list, not one string"):
        lazy_table("protocol", {"_x": "a"})


def _imported_after(code: str) -> list[str]:
    ours = "('protocol', 'psycopg')"
    probe = f"import sys\n{code}\nprint(' '.join(sorted(m for m in sys.modules if m.startswith({ours}))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return result.stdout.split()


def test_faces_import_only_what_is_asked_for() -> None:
    # the faces and their shared lazy-lookup machinery (protocol/_face.py), nothing else
    assert _imported_after("import protocol, protocol.http, protocol.pg") == ["protocol", "protocol._face",
                                                                              "protocol.http", "protocol.pg"]
    loaded = _imported_after("from protocol import ConfigError\nfrom protocol.pg import describe")
    assert {"protocol._errors", "protocol.pg._conninfo"} <= set(loaded)
    assert not [m for m in loaded if m.startswith(("psycopg", "protocol.http", "protocol.pg._connect", "protocol._t"))]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pg_connect_names_an_unreachable_server() -> None:
    from protocol.pg import connect, conninfo_from_settings, describe, refused_for_good, unreachable

    port = _closed_port()
    conninfo, params = conninfo_from_settings({"host": "127.0.0.1", "port": port, "user": "u", "database": "d"},
                                              application_name="test")
    assert describe(conninfo, params) == f"127.0.0.1:{port}/d"
    with pytest.raises(psycopg.OperationalError) as info:
        connect(conninfo, params)
    cause = unreachable(info.value)
    assert cause is not None and cause.startswith("connection refused ("), cause
    assert not refused_for_good(info.value)


def test_pg_errors_that_a_retry_cannot_mend(pg_server_dsn: str) -> None:
    from protocol.pg import connect, conninfo_from_settings, refused_for_good, unreachable

    host, port = pg_address(pg_server_dsn)
    settings = {"host": host, "port": port, "user": "nobody_here", "password": "x", "database": "postgres"}
    conninfo, params = conninfo_from_settings(settings, application_name="test")
    with pytest.raises(psycopg.OperationalError) as info:
        connect(conninfo, params)
    assert unreachable(info.value) is None
    assert refused_for_good(info.value), str(info.value)

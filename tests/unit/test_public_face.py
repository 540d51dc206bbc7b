"""The kit's public faces (protocol, protocol.http, protocol.pg) list each public name once.

In each face ``__init__.py``: ``__all__``, the keys of the lazy table ``_LAZY`` and the names its
``if TYPE_CHECKING:`` block imports are the same set; each lazy entry names the same private
module and attribute as its typing import and resolves to that object; nothing is imported
before it is asked for. The checker is tried on a face with a planted mismatch.
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


def face_tables(source: str) -> tuple[list[str], dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """(``__all__``, ``_LAZY``, the TYPE_CHECKING imports as name -> (module, attribute)) of a face."""
    tree = ast.parse(source)
    names: list[str] = []
    lazy: dict[str, tuple[str, str]] = {}
    typing: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            names = ast.literal_eval(node.value)
        elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_LAZY":
            assert node.value is not None
            lazy = ast.literal_eval(node.value)
        elif isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in node.body:
                assert isinstance(sub, ast.ImportFrom) and sub.module, "only from-imports under TYPE_CHECKING"
                for alias in sub.names:
                    typing[alias.asname or alias.name] = (sub.module, alias.name)
    return names, lazy, typing


def face_problems(package: str, source: str) -> list[str]:
    names, lazy, typing = face_tables(source)
    problems = [f"{name} twice in __all__" for name in sorted({n for n in names if names.count(n) > 1})]
    for what, keys in (("the lazy table", set(lazy)), ("the TYPE_CHECKING imports", set(typing))):
        problems += [f"{n} in __all__, not in {what}" for n in sorted(set(names) - keys)]
        problems += [f"{n} in {what}, not in __all__" for n in sorted(keys - set(names))]
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
    names, lazy, _ = face_tables(face_source(package))
    assert names and lazy
    assert face_problems(package, face_source(package)) == []


@pytest.mark.parametrize("package", FACES)
def test_every_public_name_resolves_to_its_private_object(package: str) -> None:
    face = importlib.import_module(package)
    _, lazy, _ = face_tables(face_source(package))
    for name, (module, attr) in lazy.items():
        assert getattr(face, name) is getattr(importlib.import_module(module), attr), name
    assert set(face.__all__) <= set(dir(face))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        face.nope  # noqa: B018


#: a module path that is not private (spelt in two parts: the rewrite to private paths leaves it alone)
PUBLIC_PATH = "protocol" + ".wording"


def test_the_checker_catches_a_face_out_of_step() -> None:
    planted = face_source("protocol").replace('    "plural",\n', "", 1)  # dropped from __all__ only
    planted = planted.replace('("protocol._errors", "TargetError")', '("protocol._errors", "SourceError")')
    planted = planted.replace('"closest": ("protocol._wording"', f'"closest": ("{PUBLIC_PATH}"')
    planted = planted.replace("    from protocol._lane import RecordRun\n", "")
    assert sorted(face_problems("protocol", planted)) == sorted([
        "RecordRun in __all__, not in the TYPE_CHECKING imports",
        "plural in the lazy table, not in __all__",
        "plural in the TYPE_CHECKING imports, not in __all__",
        "TargetError: lazy ('protocol._errors', 'SourceError') but typed as ('protocol._errors', 'TargetError')",
        f"closest: lazy ('{PUBLIC_PATH}', 'closest') but typed as ('protocol._wording', 'closest')",
        f"closest: {PUBLIC_PATH} is not a private module of protocol",
    ])
    twice = face_source("protocol.pg").replace('    "describe",\n', '    "describe",\n    "describe",\n')
    assert face_problems("protocol.pg", twice) == ["describe twice in __all__"]


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

"""The machinery behind the kit's public faces (``protocol``, ``protocol.http``, ``protocol.pg``, ...).

A face (a package's ``__init__.py``) declares its public names once, by private module, and hands
the declaration to :func:`lazy_table`; :func:`lazy_attributes` makes the module ``__getattr__``,
``__dir__`` and ``__all__`` from it::

    if TYPE_CHECKING:  # what a type checker sees: the same names (``X as X`` re-exports them)
        from protocol.pg._connect import connect as connect
        from protocol.pg._conninfo import describe as describe

    _LAZY = lazy_table(__name__, {"_connect": "connect", "_conninfo": "describe"})
    __getattr__, __dir__, __all__ = lazy_attributes(__name__, _LAZY)

A name is imported on first use (PEP 562), so importing a face costs nothing until a name is
asked for. tests/unit/test_public_face.py checks that the declaration and the typing imports agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes", "lazy_table"]


def lazy_table(package: str, declared: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) from ``{private module: "Name other_name public=attribute"}``.

    Modules are named relative to ``package`` (``"_errors"``); ``public=attribute`` publishes a
    module's ``attribute`` under another name.
    """
    table: dict[str, tuple[str, str]] = {}
    for module, names in declared.items():
        for entry in names.split():
            name, _, attribute = entry.partition("=")
            if name in table:
                raise ValueError(f"{package}: {name} is declared twice")
            table[name] = (f"{package}.{module}", attribute or name)
    return table


def lazy_attributes(package: str, table: Mapping[str, tuple[str, str]]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The module ``__getattr__``, ``__dir__`` and ``__all__`` of the face ``package`` with the lazy ``table``."""
    namespace = sys.modules[package].__dict__

    def get(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = table[name]
        value = getattr(importlib.import_module(module), attribute)
        namespace[name] = value  # the next lookup is a plain global
        return value

    def names() -> list[str]:
        return sorted(set(namespace) | set(table))

    return get, names, sorted(table)

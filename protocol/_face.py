"""The machinery behind the kit's public faces (``protocol``, ``protocol.http``, ``protocol.pg``, ...).

A face (a package's ``__init__.py``) declares its public names once, by private module, and hands
the declaration to :func:`lazy_table`; the table gives ``__all__``, and :func:`lazy_attributes`
makes the module ``__getattr__`` and ``__dir__`` from it::

    if TYPE_CHECKING:  # what a type checker sees: the same names (``X as X`` re-exports them)
        from protocol.pg._connect import connect as connect
        from protocol.pg._conninfo import describe as describe

    _LAZY = lazy_table(__name__, {"_connect": ["connect"], "_conninfo": ["describe"]})
    __getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
    __all__ = sorted(_LAZY)

A name is imported on first use (PEP 562), so importing a face costs nothing until a name is
asked for. tests/unit/test_public_face.py checks that the declaration and the typing imports agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_attributes", "lazy_table"]


def lazy_table(package: str, declared: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, str]]:
    """name -> (module, name) from ``{private module: [its public names]}``.

    Modules are named relative to ``package`` (``"_errors"``); a public name is the name its
    private module gives it (one name per thing: no renaming on the way out).
    """
    table: dict[str, tuple[str, str]] = {}
    for module, names in declared.items():
        if isinstance(names, str):
            raise TypeError(f"{package}: the names of {module} are a list, not one string")
        for name in names:
            if name in table:
                raise ValueError(f"{package}: {name} is declared twice")
            table[name] = (f"{package}.{module}", name)
    return table


def lazy_attributes(package: str, table: Mapping[str, tuple[str, str]]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of the face ``package`` with the lazy ``table``."""
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

    return get, names

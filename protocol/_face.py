"""The machinery behind the kit's public faces (``protocol``, ``protocol.http``, ``protocol.pg``).

A face lists its public names in a lazy table, name -> (private module, attribute); a name is
imported on first use (PEP 562), so importing a face costs nothing until a name is asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


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

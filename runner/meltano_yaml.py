"""meltano.yml as Meltano reads it: YAML 1.2, not PyYAML's YAML 1.1 (``sluice import``).

Meltano parses meltano.yml with ruamel.yaml, by YAML 1.2's rules. PyYAML's own loader follows
YAML 1.1, where the same plain scalars mean something else: ``NO``, ``yes``, ``on`` are booleans,
``0755`` is the octal 493, ``12:30`` is 750 (base 60) and ``1e3`` is text. :class:`Yaml12Loader`
is PyYAML's safe loader with the implicit types of ruamel.yaml's YAML 1.2 mode, so the import
gets the values Meltano passes to its plugins:

- booleans: ``true``, ``True``, ``TRUE``, ``false``, ``False``, ``FALSE`` only;
- null: ``~``, ``null``, ``Null``, ``NULL`` and the empty scalar;
- integers: decimal (``0755`` is 755), ``0o17``, ``0x1F``, ``0b101``, a sign and ``_`` allowed;
- floats: ``1.5``, ``1.``, ``.5``, ``1e3``, ``.inf``, ``.nan``; no base 60;
- timestamps (``2024-01-01``) and the merge key ``<<`` as before (ruamel keeps both).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml

__all__ = ["Yaml12Loader", "load_yaml12"]

_TAG = "tag:yaml.org,2002:"

# (tag, pattern, first characters), in ruamel.yaml's order for YAML 1.2
_RESOLVERS: list[tuple[str, str, str]] = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("float", r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                  |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", "-+0123456789."),
    ("int", r"""^(?:[-+]?0b[01_]+
                  |[-+]?0o[0-7_]+
                  |[-+]?[0-9_]+
                  |[-+]?0x[0-9a-fA-F_]+)$""", "-+0123456789"),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN "),
    ("timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                  |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
                  (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
                  (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", "0123456789"),
]


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's implicit types (as ruamel.yaml, hence Meltano, reads them)."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}  # YAML 1.1's left out


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


for _tag, _pattern, _first in _RESOLVERS:
    Yaml12Loader.add_implicit_resolver(_TAG + _tag, re.compile(_pattern, re.X),
                                       ["" if c == " " else c for c in _first])  # "": the empty scalar
Yaml12Loader.add_constructor(_TAG + "int", _construct_int)


def load_yaml12(text: str) -> Any:
    """The data of a YAML document read by YAML 1.2's rules."""
    return yaml.load(text, Loader=Yaml12Loader)  # a SafeLoader: safe

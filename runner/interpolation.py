"""``${ENV}`` interpolation of the values of sluice.yml (see docs/sluice-yml.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Place", "interpolate"]

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

#: where a value sits in a resolved connector: ("config", key, ...), ("env", NAME), ("args", i)
Place = tuple[str | int, ...]


def interpolate(value: Any, environ: Mapping[str, str], where: str, problems: list[str], secrets: set[str],
                origins: dict[Place, set[str]] | None = None, place: Place = ()) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of ``value`` (``$${`` is a literal ``${``).

    Every non-empty value taken from ``environ`` goes into ``secrets``, and into ``origins``
    under the place (``place`` + keys and indexes) of the string it went into."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            name, default = m.group(1), m.group(2)
            if name in environ:
                if environ[name]:
                    secrets.add(environ[name])
                    if origins is not None:
                        origins.setdefault(place, set()).add(environ[name])
                return environ[name]
            if default is not None:
                return default
            problems.append(f"{where}: environment variable {name} is not set")
            return ""

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, environ, f"{where}.{k}", problems, secrets, origins, (*place, k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, f"{where}[{i}]", problems, secrets, origins, (*place, i))
                for i, v in enumerate(value)]
    return value

"""PyYAML for the runner's hot path (loading sluice.yml and tenant files at every ``sluice run``).

Importing PyYAML compiles one regular expression, its pure-Python reader's ``NON_PRINTABLE``
class, whose character ranges span all of Unicode: about 10 ms, an eighth of a ``sluice run``'s
own CPU time before its connectors start. The runner parses with libyaml's loader (``CSafeLoader``),
which never uses that reader. :func:`yaml_module` imports PyYAML with that one pattern compiled on
first use instead: :mod:`re` returns a pattern it has in its cache without compiling, so a lazy
stand-in is put there under the pattern's exact key for the length of the import. Where ``re``
keeps its cache otherwise (another Python), the stand-in is not found and the import compiles the
pattern as before: slower, never different.
"""

from __future__ import annotations

import re
import sys
from types import ModuleType
from typing import Any

__all__ = ["parse_project", "yaml_module"]

# the pattern of yaml/reader.py (PyYAML 5 and 6), character for character
_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


class LazyPattern:
    """A compiled pattern's stand-in: compiles on the first use of any of its attributes."""

    def __init__(self, pattern: str) -> None:
        self._source = pattern
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(self._source)
        return getattr(self._compiled, name)


def yaml_module() -> ModuleType:
    """``import yaml``, without compiling the pure-Python reader's pattern when this is the first import."""
    if "yaml" in sys.modules:
        return sys.modules["yaml"]
    key = (str, _NON_PRINTABLE, 0)
    caches = [cache for cache in (getattr(re, "_cache2", None), getattr(re, "_cache", None)) if isinstance(cache, dict)]
    for cache in caches:
        cache[key] = LazyPattern(_NON_PRINTABLE)
    try:
        import yaml
    finally:
        for cache in caches:
            cache.pop(key, None)
    return yaml


def parse_project(path: Any, text: str) -> tuple[dict[str, Any], Any]:
    """The project file's value, and a function that composes its YAML node (for the lines of problems;
    a file that passed its checks before is parsed once)."""
    import functools

    from protocol import ConfigError
    from runner.hints import yaml_error_text

    yaml = yaml_module()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_error_text(path, text, exc)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the project file must be a mapping (connectors:, pipelines:)")
    return data, functools.cache(lambda: yaml.compose(text, Loader=loader))

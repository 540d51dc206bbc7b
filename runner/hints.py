"""Words for a user's mistakes: a YAML syntax error as one line, a name that is nearly right."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protocol import closest

__all__ = ["did_you_mean", "yaml_error_text"]


def yaml_error_text(path: Path, text: str, exc: Exception) -> str:
    """A YAML syntax error as one line naming the file and the place:
    ``sluice.yml: line 3, column 18: mapping values are not allowed in this context``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return f"{path}: not valid YAML: " + " ".join(str(exc).split())
    out = f"{path}: line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        out += f" ({context}" + (f" at line {start.line + 1})" if start is not None else ")")
    lines = text.splitlines()
    if mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
        out += "; a tab: YAML indents with spaces"
    return out


def did_you_mean(name: str, known: Mapping[str, Any]) -> str:
    """The hint "; did you mean 'x'?" for the known name closest to ``name``, or nothing."""
    close = closest(name, known)
    return f"; did you mean '{close}'?" if close else ""

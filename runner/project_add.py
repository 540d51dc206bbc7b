"""Add a connector to ``sluice.yml`` in its text, keeping comments, order and layout (``sluice add``).

The new entry is inserted after the last item of ``connectors:`` at that list's indentation (or
``connectors:`` is appended when there is none), then the file is loaded again and checked to
be exactly the old one plus the entry, as ``runner.project_edit`` does for ``sluice select``.
A file that does not exist yet is created.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from protocol import ConfigError
from runner.project_edit import _item, _last_line, _line_start, _loader, write_text_atomic

__all__ = ["add_connector", "render_entry"]


def render_entry(entry: dict[str, Any], dash: int, indent: int, comment: str = "") -> str:
    """A connector as a block list item: ``-`` at column ``dash``, its keys at column ``indent``."""
    body = yaml.safe_dump(entry, default_flow_style=False, sort_keys=False, width=100, allow_unicode=True)
    lines = body.rstrip("\n").split("\n")
    out = f"{' ' * dash}# {comment}\n" if comment else ""
    out += f"{' ' * dash}-{' ' * (indent - dash - 1)}{lines[0]}\n"
    out += "".join(f"{' ' * indent}{line}\n" for line in lines[1:])
    return out


def _insertion(text: str, entry: dict[str, Any], comment: str) -> tuple[int, int, str]:
    root = yaml.compose(text, Loader=_loader()) if text.strip() else None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ConfigError("the project file is not a mapping")
    key, conns = _item(root, "connectors") if root is not None else (None, None)
    if key is None:
        pos = len(text)
        prefix = "" if not text or text.endswith("\n") else "\n"
        return pos, pos, prefix + "connectors:\n" + render_entry(entry, 2, 4, comment)
    if (isinstance(conns, yaml.ScalarNode) and conns.value in ("", "~", "null")) or \
            (isinstance(conns, yaml.SequenceNode) and not conns.value):
        start = _line_start(text, key.start_mark.line)
        end = _line_start(text, _last_line(conns) + 1)
        indent = key.start_mark.column
        return start, end, f"{' ' * indent}connectors:\n" + render_entry(entry, indent + 2, indent + 4, comment)
    if not isinstance(conns, yaml.SequenceNode) or conns.flow_style:
        raise ConfigError("its connectors: is not a block list")
    first = conns.value[0]
    if not isinstance(first, yaml.MappingNode) or first.flow_style or not first.value:
        raise ConfigError("its first connector is not a block mapping")
    line = text[_line_start(text, first.start_mark.line):first.start_mark.index]
    dash = line.rfind("-")
    if dash < 0:
        raise ConfigError("its connectors: list has an unusual layout")
    pos = _line_start(text, _last_line(conns.value[-1]) + 1)
    prefix = "" if pos == 0 or text[pos - 1] == "\n" else "\n"
    return pos, pos, prefix + render_entry(entry, dash, first.start_mark.column, comment)


def add_connector(path: Path, entry: dict[str, Any], comment: str = "") -> None:
    """Append ``entry`` to ``connectors:`` of ``path`` (created if missing); refuse a duplicate name."""
    from runner.project_validate import validate_project

    if not path.parent.is_dir():
        raise ConfigError(f"cannot create {path}: directory {path.parent} does not exist")
    text = path.read_text() if path.exists() else "version: 1\n"
    before = yaml.load(text, Loader=_loader()) or {}
    if not isinstance(before, dict):
        raise ConfigError(f"{path}: the project file must be a mapping (connectors:, pipelines:)")
    for i, conn in enumerate(before.get("connectors") or []):
        if isinstance(conn, dict) and conn.get("name") == entry["name"]:
            raise ConfigError(f"{path}: a connector named '{entry['name']}' is already there (connectors[{i}]); "
                              f"add another one with --as OTHER_NAME")
    hint = yaml.safe_dump({"connectors": [entry]}, default_flow_style=False, sort_keys=False).strip()
    try:
        start, end, new = _insertion(text, entry, comment)
    except ConfigError as exc:
        raise ConfigError(f"cannot edit {path} safely ({exc}); add by hand:\n{hint}") from exc
    text = text[:start] + new + text[end:]
    expected = copy.deepcopy(before)
    expected["connectors"] = [*(before.get("connectors") or []), entry]
    after = yaml.load(text, Loader=_loader()) or {}
    if after != expected or validate_project(after):
        raise ConfigError(f"cannot edit {path} safely; add by hand:\n{hint}")
    if path.exists():
        write_text_atomic(path, text)
    else:
        path.write_text(text)

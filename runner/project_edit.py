"""Small edits of ``sluice.yml`` that keep its comments, order and layout.

PyYAML drops comments when it writes, so an edit is made in the text: the file is composed
to nodes (which know their positions), the few characters that change are replaced or a few
lines inserted, and the result is loaded again and checked to say exactly what was meant
before it is written. A layout this cannot edit safely is refused with what to add by hand.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from protocol import ConfigError

__all__ = ["set_stream_metadata", "write_text_atomic"]

Edit = tuple[int, int, str]  # replace text[start:end] with the string


def _loader() -> Any:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _scalar(value: Any) -> str:
    """A value (or key) as one YAML flow token, quoted when it needs to be."""
    return str(yaml.safe_dump([value], default_flow_style=True, width=10_000).strip()[1:-1])


def _render(mapping: dict[str, Any], indent: int) -> str:
    out = ""
    for key, value in mapping.items():
        if isinstance(value, dict):
            out += f"{' ' * indent}{_scalar(key)}:\n" + _render(value, indent + 2)
        else:
            out += f"{' ' * indent}{_scalar(key)}: {_scalar(value)}\n"
    return out


def _item(node: Any, key: str) -> tuple[Any, Any]:
    if not isinstance(node, yaml.MappingNode):
        return None, None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None, None


def _last_line(node: Any) -> int:
    """The 0-based line of the last character of a node's content (not of trailing comments)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    end = node.end_mark
    return int(end.line) - 1 if end.column == 0 else int(end.line)


def _line_start(text: str, line: int) -> int:
    pos = 0
    for _ in range(line):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def _insert_after(text: str, node: Any, block: str) -> Edit:
    pos = _line_start(text, _last_line(node) + 1)
    prefix = "" if pos == 0 or text[pos - 1] == "\n" else "\n"
    return pos, pos, prefix + block


def _connector_node(root: Any, connector: str) -> Any:
    _, conns = _item(root, "connectors")
    for node in conns.value if isinstance(conns, yaml.SequenceNode) else []:
        _, name = _item(node, "name")
        if name is not None and name.value == connector:
            if node.flow_style:
                return None
            return node
    return None


def _entry_edits(text: str, entry: Any, values: dict[str, Any]) -> list[Edit]:
    """Set (or, for None, remove) scalar keys of an existing block mapping."""
    edits: list[Edit] = []
    indent = entry.value[0][0].start_mark.column
    new = ""
    for key, value in values.items():
        k, v = _item(entry, key)
        if k is None:
            if value is not None:
                new += f"{' ' * indent}{_scalar(key)}: {_scalar(value)}\n"
        elif value is None:
            if k.start_mark.line != _last_line(v):
                raise ConfigError(f"metadata key '{key}' spans several lines")
            start = _line_start(text, k.start_mark.line)
            edits.append((start, _line_start(text, k.start_mark.line + 1), ""))
        else:
            edits.append((v.start_mark.index, v.end_mark.index, _scalar(value)))
    if new:
        edits.append(_insert_after(text, entry, new))
    return edits


def _edits(text: str, connector: str, stream: str, values: dict[str, Any]) -> list[Edit]:
    conn = _connector_node(yaml.compose(text, Loader=_loader()), connector)
    if conn is None:
        raise ConfigError(f"connector '{connector}' is not a block mapping under connectors:")
    indent = conn.value[0][0].start_mark.column
    present = {k: v for k, v in values.items() if v is not None}
    md_key, md = _item(conn, "metadata")
    if md_key is None:
        return [_insert_after(text, conn, _render({"metadata": {stream: present}}, indent))]
    empty = (isinstance(md, yaml.ScalarNode) and md.value in ("", "~", "null")) or \
        (isinstance(md, yaml.MappingNode) and not md.value)
    if empty:
        start = _line_start(text, md_key.start_mark.line)
        end = _line_start(text, _last_line(md) + 1)
        return [(start, end, _render({"metadata": {stream: present}}, indent))]
    if not isinstance(md, yaml.MappingNode) or md.flow_style:
        raise ConfigError("its metadata: is not a block mapping")
    s_key, entry = _item(md, stream)
    if s_key is None:
        return [_insert_after(text, md, _render({stream: present}, md.value[0][0].start_mark.column))]
    if isinstance(entry, yaml.MappingNode) and entry.value and not entry.flow_style:
        return _entry_edits(text, entry, values)
    loaded = yaml.load(yaml.serialize(entry), Loader=_loader()) if isinstance(entry, yaml.MappingNode) else None
    merged = {k: v for k, v in {**(loaded or {}), **values}.items() if v is not None}
    flow = yaml.safe_dump(merged, default_flow_style=True, width=10_000).strip()
    return [(entry.start_mark.index, entry.end_mark.index, flow)]


def set_stream_metadata(path: Path, connector: str, stream: str, values: dict[str, Any]) -> None:
    """Set keys of ``metadata: {stream: ...}`` of a connector in ``path`` (None removes a key)."""
    from runner.project import validate_project

    text = path.read_text()
    before = (yaml.load(text, Loader=_loader()) or {})
    expected = _stream_entry(before, connector, stream)
    expected.update(values)
    expected = {k: v for k, v in expected.items() if v is not None}
    try:
        edits = _edits(text, connector, stream, values)
    except ConfigError as exc:
        raise ConfigError(f"cannot edit {path} safely ({exc}); add under connector '{connector}': "
                          f"metadata: {{{_scalar(stream)}: {_flow(expected)}}}") from exc
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    after = yaml.load(text, Loader=_loader()) or {}
    if after != _with_entry(before, connector, stream, expected) or validate_project(after):
        raise ConfigError(f"cannot edit {path} safely; add under connector '{connector}': "
                          f"metadata: {{{_scalar(stream)}: {_flow(expected)}}}")
    write_text_atomic(path, text)


def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, width=10_000).strip())


def _stream_entry(data: dict[str, Any], connector: str, stream: str) -> dict[str, Any]:
    for conn in data.get("connectors") or []:
        if isinstance(conn, dict) and conn.get("name") == connector:
            entry = (conn.get("metadata") or {}).get(stream)
            return dict(entry) if isinstance(entry, dict) else {}
    raise ConfigError(f"no connector named '{connector}' in the project file")


def _with_entry(data: dict[str, Any], connector: str, stream: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What the project file must load as after the edit."""
    out = copy.deepcopy(data)
    for conn in out.get("connectors") or []:
        if conn.get("name") == connector:
            conn["metadata"] = {**(conn.get("metadata") or {}), stream: entry}
    return out


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Checks of a project file against its schema, with the line of each problem (``sluice validate``)."""

from __future__ import annotations

from typing import Any

from runner.hints import did_you_mean

__all__ = ["validate_project"]


def _path_text(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_project(data: dict[str, Any], root: Any = None) -> list[str]:
    """Every problem of a project file, as ``LINE: LOCATION: message`` (sorted by line); with
    ``environments:``, those of the project merged with each of them too."""
    found = _problems(data, root)
    if root is not None:
        from runner.yamlscalars import surprising_scalars

        found += surprising_scalars(root)
    if "environments" in data or "default_environment" in data:  # each merged project, once the file is sound
        from runner.environments import environment_problems

        found += environment_problems(data, None if found else lambda merged: _problems(merged, None),
                                      lambda at: _line_of(root, at))
    found.sort(key=lambda item: item[0])
    return [f"{line}: {text}" for line, text in found]


def _problems(data: dict[str, Any], root: Any) -> list[tuple[int, str]]:
    import jsonschema

    from runner.project_schema import PROJECT_SCHEMA

    found: list[tuple[int, str]] = []
    validator = jsonschema.Draft7Validator(PROJECT_SCHEMA)
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        message = error.message
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties") or {})
            extra = sorted(k for k in error.instance if k not in known)
            if extra:
                path.append(extra[0])
                message = f"unknown setting (allowed: {', '.join(sorted(known))})"
        elif error.validator == "pattern" and path and path[-1] == "schedule":
            message = f"{error.instance!r} is not a cron schedule (5 fields, or @hourly, @daily, ...)"
        elif error.validator == "pattern" and path and path[-1] == "name":
            message = f"{error.instance!r} is not a valid name (letters, digits, '.', '_' and '-')"
        found.append((_line_of(root, path), f"{_path_text(path)}: {message}"))
    if isinstance(data, dict):  # with the schema's problems, not after them: every problem at once
        said = {text.split(":", 1)[0] for _, text in found}  # a place the schema found wrong already
        found.extend(p for p in _check_references(data, root) if p[1].split(":", 1)[0] not in said)
    return found


def _entries(data: dict[str, Any], kind: str) -> list[tuple[int, dict[str, Any]]]:
    """The entries of ``kind`` that are objects (the schema reports the others), with their index."""
    entries = data.get(kind)
    return [(i, e) for i, e in enumerate(entries) if isinstance(e, dict)] if isinstance(entries, list) else []


def _check_references(data: dict[str, Any], root: Any) -> list[tuple[int, str]]:
    """Duplicate names, cron schedules, and names of connectors that do not exist; an entry the schema
    finds malformed is checked as far as it holds the right types."""
    out: list[tuple[int, str]] = []
    names: set[str] = set()
    for i, conn in _entries(data, "connectors"):
        if isinstance(conn.get("name"), str):
            out += _duplicate_name(root, "connectors", i, conn["name"], names)
    pipelines: set[str] = set()
    for i, pipe in _entries(data, "pipelines"):
        if isinstance(pipe.get("name"), str):
            out += _duplicate_name(root, "pipelines", i, pipe["name"], pipelines)
        if isinstance(pipe.get("schedule"), str) and pipe["schedule"]:
            from runner.ui.cron import schedule_problem

            problem = schedule_problem(pipe["schedule"])
            if problem:
                out.append((_line_of(root, ["pipelines", i, "schedule"]), f"pipelines[{i}].schedule: {problem}"))
        for side in ("tap", "target"):
            if isinstance(pipe.get(side), str) and pipe[side] not in names:
                out.append((_line_of(root, ["pipelines", i, side]),
                            f"pipelines[{i}].{side}: no connector named '{pipe[side]}'"))
        maps = pipe.get("maps")
        for j, step in enumerate(maps if isinstance(maps, list) else []):
            mapper = step if isinstance(step, str) else step.get("mapper") if isinstance(step, dict) else None
            if isinstance(mapper, str) and mapper not in names:
                where = ["pipelines", i, "maps", j] + ([] if isinstance(step, str) else ["mapper"])
                out.append((_line_of(root, where), f"{_path_text(where)}: no connector named '{mapper}' "
                                                    f"(a mapper is a connector of connectors:)"
                            + did_you_mean(mapper, dict.fromkeys(names))))
    return out


def _duplicate_name(root: Any, kind: str, i: int, name: str, seen: set[str]) -> list[tuple[int, str]]:
    """The complaint when entry ``i`` of ``kind`` repeats a name already ``seen`` (which it joins)."""
    if name not in seen:
        seen.add(name)
        return []
    return [(_line_of(root, [kind, i, "name"]), f"{kind}[{i}].name: duplicate name '{name}'")]


def _line_of(node: Any, path: list[Any]) -> int:
    """The 1-based line of the YAML node at ``path`` (or of its nearest existing parent). ``node`` may
    be a function that composes it (a file's nodes are built only when one of its problems needs a line)."""
    if callable(node):
        node = node()
    if node is None:
        return 0
    line = int(node.start_mark.line) + 1
    for part in path:
        child = None
        if isinstance(part, int) and node.tag.endswith(":seq") and part < len(node.value):
            child = node.value[part]
        elif isinstance(node.value, list):
            for key, value in node.value if node.tag.endswith(":map") else []:
                if getattr(key, "value", None) == part:
                    child = value
                    break
        if child is None:
            break
        node = child
        line = int(node.start_mark.line) + 1
    return line

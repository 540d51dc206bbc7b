"""``--about`` output, in the shape singer-sdk prints, so Meltano cannot tell the difference."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from protocol._config import env_prefix

__all__ = ["SettingRow", "about_info", "format_about", "package_version", "settings_rows", "settings_table"]


class SettingRow(NamedTuple):
    name: str  # the path: "files[].delimiter"
    required: bool  # within its parent
    default: str  # as singer-sdk prints it: str() of the default, "None" when there is none
    description: str
    secret: bool


def package_version() -> str:
    from importlib import metadata  # imported here: it costs ~20 ms at every start-up

    try:
        return metadata.version("sluice")
    except metadata.PackageNotFoundError:
        return "0.0.0+local"


def about_info(connector: Any) -> dict[str, Any]:
    return {
        "name": connector.name,
        "description": connector.description,
        "version": package_version(),
        "sdk_version": f"sluice-protocol {package_version()}",
        "supported_python_versions": ["3.11", "3.12", "3.13", "3.14"],
        "capabilities": list(connector.capabilities),
        "settings": connector.settings_schema,
    }


def settings_rows(schema: Mapping[str, Any], parent: str = "") -> list[SettingRow]:
    """Every setting of a settings schema, nested ones included, in schema order.

    A nested setting is named by its path: ``pagination.style`` inside an object,
    ``files[].delimiter`` inside the objects of an array. Its ``required`` is relative to its
    parent (``files[].entity`` is required in every ``files`` entry, not at the top level).
    """
    rows: list[SettingRow] = []
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        full = f"{parent}.{name}" if parent else name
        secret = bool(prop.get("secret") or prop.get("writeOnly"))
        rows.append(SettingRow(full, name in required, str(prop.get("default", "None")),
                               str(prop.get("description", "")), secret))
        for child, suffix in _children(prop):
            rows.extend(settings_rows(child, f"{full}{suffix}"))
    return rows


def _children(prop: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """The object schemas nested in a setting, each with the suffix of its rows' path."""
    out: list[tuple[Mapping[str, Any], str]] = []
    if isinstance(prop.get("properties"), Mapping):
        out.append((prop, ""))
    items = prop.get("items")
    if isinstance(items, Mapping) and isinstance(items.get("properties"), Mapping):
        out.append((items, "[]"))
    extra = prop.get("additionalProperties")
    if isinstance(extra, Mapping) and isinstance(extra.get("properties"), Mapping):
        out.append((extra, ".*"))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<BR/>")


def settings_table(schema: Mapping[str, Any]) -> list[str]:
    """The markdown table of :func:`settings_rows`, in singer-sdk's ``--about --format markdown``
    form; the connector READMEs (``docs/gen_readmes.py``) hold the same table."""
    lines = [
        "| Setting | Required | Default | Description |",
        "|:--------|:--------:|:-------:|:------------|",
    ]
    for row in settings_rows(schema):
        description = row.description + (" (secret)" if row.secret else "")
        lines.append(f"| {row.name} | {row.required} | {_cell(row.default)} | {_cell(description)} |")
    return lines


def format_about(connector: Any, fmt: str) -> str:
    info = about_info(connector)
    if fmt == "json":
        return json.dumps(info, indent=2, default=str)
    if fmt == "markdown":
        lines = [
            f"# `{info['name']}`",
            "",
            info["description"],
            "",
            f"Built with Sluice {info['version']}",
            "",
            "## Capabilities",
            "",
            *[f"* `{c}`" for c in info["capabilities"]],
            "",
            "## Settings",
            "",
            *settings_table(info["settings"]),
            "",
            "A full list of supported settings and capabilities is available by running: "
            f"`{info['name']} --about`",
            "",
            "### Environment variables",
            "",
            f"Settings can be read from `{env_prefix(info['name'])}<SETTING>` variables with `--config ENV`.",
        ]
        return "\n".join(lines)
    lines = [
        f"Name: {info['name']}",
        f"Description: {info['description']}",
        f"Version: {info['version']}",
        "Capabilities:",
        *[f"  - {c}" for c in info["capabilities"]],
        "Settings:",
    ]
    for key, prop in (info["settings"].get("properties") or {}).items():
        lines.append(f"  - Name: {key}")
        lines.append(f"    Type: {prop.get('type')}")
        lines.append(f"    Environment Variable: {env_prefix(info['name'])}{key.upper().replace('-', '_')}")
    return "\n".join(lines)

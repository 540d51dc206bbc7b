"""``--about`` output, in the shape singer-sdk prints, so Meltano cannot tell the difference."""

from __future__ import annotations

import json
from typing import Any

from protocol.config import env_prefix

__all__ = ["about_info", "format_about", "package_version"]


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


def _md_rows(schema: dict[str, Any], parent: str = "") -> list[str]:
    rows = []
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        full = f"{parent}.{name}" if parent else name
        desc = str(prop.get("description", "")).replace("\n", "<BR/>")
        rows.append(f"| {full} | {name in required} | {prop.get('default', 'None')} | {desc} |")
        if isinstance(prop.get("properties"), dict):
            rows.extend(_md_rows(prop, full))
    return rows


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
            "| Setting | Required | Default | Description |",
            "|:--------|:--------:|:-------:|:------------|",
            *_md_rows(info["settings"]),
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

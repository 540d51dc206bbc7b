"""The four map settings, as JSON-schema ``properties`` entries for a connector's settings schema."""

from __future__ import annotations

from typing import Any

__all__ = ["MAP_SETTINGS"]

MAP_SETTINGS: dict[str, dict[str, Any]] = {
    "stream_maps": {
        "type": "object",
        "description": (
            "Stream maps, as singer-sdk's: per stream, null (or \"__NULL__\") drops it, an object maps it: "
            "property: expression (or null to drop it), \"__alias__\" (rename), \"__filter__\" (a boolean "
            "expression), \"__key_properties__\", \"__source__\" (a copy of another stream), \"__else__\": null "
            "(keep only the named properties); \"__else__\": null at the top drops every stream not named. "
            "See docs/stream-maps.md."
        ),
        "default": {},
    },
    "stream_map_config": {
        "type": "object",
        "description": "Values the map expressions read as `config` (salts, thresholds).",
        "default": {},
    },
    "flattening_enabled": {
        "type": "boolean",
        "description": "Flatten nested objects into parent__child properties, in the SCHEMA and the records.",
        "default": False,
    },
    "flattening_max_depth": {
        "type": "integer",
        "minimum": 0,
        "description": ("How many levels of nested objects flattening opens (required with flattening_enabled); "
                        "what lies deeper is written as a JSON string."),
    },
}

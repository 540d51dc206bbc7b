"""The reference for mapper-sluice: singer-sdk's own stream-map engine behind an InlineMapper.

The same few lines as Meltano's standard mapper (meltano-map-transform, not on PyPI): every
message goes through singer-sdk's ``PluginMapper``. Run as a program with singer-sdk installed:
``python sdk_reference_mapper.py --config maps.json < in.jsonl``. It imports nothing of Sluice,
so the bench runs it from its own environment too (bench/peers.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import singer_sdk.singerlib as singer
from singer_sdk import typing as th
from singer_sdk.mapper import PluginMapper, RemoveRecordTransform
from singer_sdk.mapper_base import InlineMapper


class ReferenceMapper(InlineMapper):
    name = "sdk-reference-mapper"
    config_jsonschema = th.PropertiesList().to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mapper = PluginMapper(plugin_config=dict(self.config), logger=self.logger)

    def _outputs(self, stream: str) -> list[Any]:
        return [m for m in self.mapper.stream_maps[stream] if not isinstance(m, RemoveRecordTransform)]

    def map_schema_message(self, message_dict: dict) -> Iterator[singer.Message]:
        stream = message_dict["stream"]
        self.mapper.register_raw_stream_schema(stream, copy.deepcopy(message_dict["schema"]),
                                               message_dict.get("key_properties"))
        for out in self._outputs(stream):
            yield singer.SchemaMessage(out.stream_alias, out.transformed_schema, out.transformed_key_properties,
                                       message_dict.get("bookmark_properties"))

    def map_record_message(self, message_dict: dict) -> Iterator[singer.Message]:
        for out in self._outputs(message_dict["stream"]):
            record = out.transform(message_dict["record"])
            if record is not None:
                yield singer.RecordMessage(stream=out.stream_alias, record=record,
                                           version=message_dict.get("version"),
                                           time_extracted=message_dict.get("time_extracted"))

    def map_state_message(self, message_dict: dict) -> Iterator[singer.Message]:
        yield singer.StateMessage(value=message_dict["value"])

    def map_activate_version_message(self, message_dict: dict) -> Iterator[singer.Message]:
        for out in self._outputs(message_dict["stream"]):
            yield singer.ActivateVersionMessage(stream=out.stream_alias, version=message_dict["version"])


if __name__ == "__main__":
    ReferenceMapper.cli()

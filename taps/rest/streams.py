"""One stream per ``streams`` entry of the config: its request, its records, its schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from protocol import Bookmarks, CatalogEntry, ConfigError, FatalSourceError, Stream
from protocol.http import Paginator
from taps.rest.inference import infer_schema
from taps.rest.settings import StreamSettings

if TYPE_CHECKING:
    from taps.rest.tap import TapRest

__all__ = ["RestStream"]

log = logging.getLogger("sluice.tap_rest")


class RestStream(Stream):
    tap: TapRest

    def __init__(self, tap: TapRest, spec: StreamSettings) -> None:
        super().__init__(tap)
        self.spec = spec
        self.name = spec.name
        self.primary_keys = list(spec.primary_keys)
        self.replication_key = spec.replication_key
        self._schema = spec.schema
        self._auth = tap.client.auth_for(spec.auth) if spec.auth is not None else None
        self._warned: set[str] = set()
        self._deselected: set[str] = set()  # left out on purpose: dropped without a warning

    @property
    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            sample = self.sample()
            if not sample:
                raise ConfigError(f"stream '{self.name}': {self.spec.path} returned no records to infer "
                                  "a schema from; set the stream's 'schema'")
            self._schema = infer_schema(sample, self.primary_keys)
            fields = self._schema["properties"]
            missing = [k for k in [*self.primary_keys, self.replication_key] if k is not None and k not in fields]
            if missing:
                raise ConfigError(f"stream '{self.name}': no such field in the sampled records",
                                  [f"'{name}' (fields: {', '.join(fields)})" for name in missing])
        return self._schema

    def bind(self, entry: CatalogEntry) -> None:
        self._schema = entry.selected_schema()
        self._deselected = set(entry.schema.get("properties") or {}) - set(self._schema.get("properties") or {})

    def paginator(self) -> Paginator:
        return self.spec.pagination.paginator()

    def pages(self, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        spec = self.spec
        return self.tap.client.pages(spec.path, self.paginator(), spec.records_path, params,
                                     dict(spec.headers) or None, self._auth, stream=self.name)

    def sample(self) -> list[dict[str, Any]]:
        """The first ``num_inference_records`` records (0: the first page)."""
        wanted = self.spec.num_inference_records
        taken: list[dict[str, Any]] = []
        for number, records in enumerate(self.pages(dict(self.spec.params)), 1):
            taken.extend(self.checked(records, number, require_keys=False))  # the schema check names them
            if wanted <= 0 or len(taken) >= wanted:
                break
        return taken[:wanted] if wanted > 0 else taken

    def get_records(self, bookmarks: Bookmarks) -> Iterator[dict[str, Any]]:
        spec = self.spec
        params = dict(spec.params)
        if spec.replication_key and spec.replication_param:
            start = bookmarks.replication_value(spec.name)
            if start is None:  # a bookmark of 0 (or "") is a bookmark
                start = self.tap.settings.start_date
            if start is not None:
                params[spec.replication_param] = start
        props = self.schema.get("properties") or {}
        names = set(props)
        for number, records in enumerate(self.pages(params), 1):
            # fields the schema does not know (the sample did not show them) are left out, said once
            for record in self.checked(records, number):
                if record.keys() <= names:
                    yield record
                else:
                    self._warn_unknown(record.keys() - names)
                    yield {k: v for k, v in record.items() if k in names}

    def _warn_unknown(self, fields: set[str]) -> None:
        """Say (once per field) that a field outside the schema is dropped, and how to keep it."""
        for field in sorted(fields - self._warned - self._deselected):
            self._warned.add(field)
            log.warning("stream '%s': field '%s' is not in the schema (the inferred sample did not show it, or "
                        "the schema leaves it out); its values are dropped. To keep it, raise "
                        "num_inference_records or give the field in the stream's schema (config or catalog)",
                        self.name, field)

    def checked(self, records: list[Any], page: int, *, require_keys: bool = True) -> list[dict[str, Any]]:
        """The records of page number ``page``, which must be JSON objects (else ``records_path`` is
        wrong) holding every primary key (else they are no rows of the stream: an API's error
        object, say; a target would write them as ``{}`` rows or lose them)."""
        keys = self.primary_keys if require_keys else []
        for number, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise FatalSourceError(
                    f"stream '{self.name}': records_path {self.spec.records_path!r} matched a "
                    f"{type(record).__name__}, not an object, in the response of {self.spec.path}; fix records_path")
            missing = [key for key in keys if key not in record]
            if missing:
                fields = ", ".join(record) or "none"
                raise FatalSourceError(
                    f"stream '{self.name}': record {number} of page {page} of {self.spec.path} has no primary key "
                    f"{', '.join(repr(k) for k in missing)} (its fields: {fields}); check records_path and "
                    "primary_keys, or whether the API answered with an error")
        return records

"""The Sluice protocol kit: what a connector author may import.

Everything not listed in ``__all__`` is private to the kit. Names are imported on first use
(PEP 562), so ``import protocol.errors`` stays cheap for programs that need little of the kit.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocol.bookmarks import FullTableBookmark, IncrementalBookmark, KeyRange, LogBasedBookmark
    from protocol.catalog import Breadcrumb, Catalog, CatalogEntry, Metadata
    from protocol.cli import run_cli, tap_main, target_main
    from protocol.config import load_config, secret_values
    from protocol.errors import (
        ConfigError,
        DownstreamClosed,
        FatalSourceError,
        ProtocolError,
        RecordValidationError,
        RetryableSourceError,
        SluiceError,
        SourceError,
        TargetError,
        Terminated,
        TruncatedLineError,
    )
    from protocol.exitcodes import ExitCode
    from protocol.fastcheck import is_date
    from protocol.jsoncodec import dumps, loads
    from protocol.messages import (
        ActivateVersionMessage,
        BatchMessage,
        Message,
        RecordMessage,
        SchemaMessage,
        StateMessage,
    )
    from protocol.metrics import emit as emit_metric
    from protocol.reader import MessageReader
    from protocol.schema import RecordValidator, check_schema, field_types, is_nullable, merge_types
    from protocol.state import Bookmarks, state_value
    from protocol.tap import Stream, TableStream, Tap
    from protocol.target import Sink, Target
    from protocol.wording import plural
    from protocol.writer import MessageWriter

_LAZY: dict[str, tuple[str, str]] = {
    "ActivateVersionMessage": ("protocol.messages", "ActivateVersionMessage"),
    "BatchMessage": ("protocol.messages", "BatchMessage"),
    "Bookmarks": ("protocol.state", "Bookmarks"),
    "Breadcrumb": ("protocol.catalog", "Breadcrumb"),
    "Catalog": ("protocol.catalog", "Catalog"),
    "CatalogEntry": ("protocol.catalog", "CatalogEntry"),
    "ConfigError": ("protocol.errors", "ConfigError"),
    "DownstreamClosed": ("protocol.errors", "DownstreamClosed"),
    "ExitCode": ("protocol.exitcodes", "ExitCode"),
    "FatalSourceError": ("protocol.errors", "FatalSourceError"),
    "FullTableBookmark": ("protocol.bookmarks", "FullTableBookmark"),
    "IncrementalBookmark": ("protocol.bookmarks", "IncrementalBookmark"),
    "KeyRange": ("protocol.bookmarks", "KeyRange"),
    "LogBasedBookmark": ("protocol.bookmarks", "LogBasedBookmark"),
    "Message": ("protocol.messages", "Message"),
    "MessageReader": ("protocol.reader", "MessageReader"),
    "MessageWriter": ("protocol.writer", "MessageWriter"),
    "Metadata": ("protocol.catalog", "Metadata"),
    "ProtocolError": ("protocol.errors", "ProtocolError"),
    "RecordMessage": ("protocol.messages", "RecordMessage"),
    "RecordValidationError": ("protocol.errors", "RecordValidationError"),
    "RecordValidator": ("protocol.schema", "RecordValidator"),
    "RetryableSourceError": ("protocol.errors", "RetryableSourceError"),
    "SchemaMessage": ("protocol.messages", "SchemaMessage"),
    "Sink": ("protocol.target", "Sink"),
    "SluiceError": ("protocol.errors", "SluiceError"),
    "SourceError": ("protocol.errors", "SourceError"),
    "StateMessage": ("protocol.messages", "StateMessage"),
    "Stream": ("protocol.tap", "Stream"),
    "TableStream": ("protocol.tap", "TableStream"),
    "Tap": ("protocol.tap", "Tap"),
    "Target": ("protocol.target", "Target"),
    "TargetError": ("protocol.errors", "TargetError"),
    "Terminated": ("protocol.errors", "Terminated"),
    "TruncatedLineError": ("protocol.errors", "TruncatedLineError"),
    "check_schema": ("protocol.schema", "check_schema"),
    "dumps": ("protocol.jsoncodec", "dumps"),
    "emit_metric": ("protocol.metrics", "emit"),
    "field_types": ("protocol.schema", "field_types"),
    "is_date": ("protocol.fastcheck", "is_date"),
    "is_nullable": ("protocol.schema", "is_nullable"),
    "load_config": ("protocol.config", "load_config"),
    "loads": ("protocol.jsoncodec", "loads"),
    "merge_types": ("protocol.schema", "merge_types"),
    "plural": ("protocol.wording", "plural"),
    "run_cli": ("protocol.cli", "run_cli"),
    "secret_values": ("protocol.config", "secret_values"),
    "state_value": ("protocol.state", "state_value"),
    "tap_main": ("protocol.cli", "tap_main"),
    "target_main": ("protocol.cli", "target_main"),
}

__all__ = [
    "ActivateVersionMessage",
    "BatchMessage",
    "Bookmarks",
    "Breadcrumb",
    "Catalog",
    "CatalogEntry",
    "ConfigError",
    "DownstreamClosed",
    "ExitCode",
    "FatalSourceError",
    "FullTableBookmark",
    "IncrementalBookmark",
    "KeyRange",
    "LogBasedBookmark",
    "Message",
    "MessageReader",
    "MessageWriter",
    "Metadata",
    "ProtocolError",
    "RecordMessage",
    "RecordValidationError",
    "RecordValidator",
    "RetryableSourceError",
    "SchemaMessage",
    "Sink",
    "SluiceError",
    "SourceError",
    "StateMessage",
    "Stream",
    "TableStream",
    "Tap",
    "Target",
    "TargetError",
    "Terminated",
    "TruncatedLineError",
    "check_schema",
    "dumps",
    "emit_metric",
    "field_types",
    "is_date",
    "is_nullable",
    "load_config",
    "loads",
    "merge_types",
    "plural",
    "run_cli",
    "secret_values",
    "state_value",
    "tap_main",
    "target_main",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'protocol' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""The Sluice protocol kit: what a connector author may import.

Everything not listed in ``__all__`` is private to the kit.
"""

from protocol.catalog import Breadcrumb, Catalog, CatalogEntry, Metadata
from protocol.cli import run_cli, tap_main, target_main
from protocol.config import load_config, secret_values
from protocol.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    DownstreamClosed,
    FatalSourceError,
    ProtocolError,
    RecordValidationError,
    RetryableSourceError,
    SluiceError,
    SourceError,
    TargetError,
)
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
from protocol.state import Bookmarks
from protocol.tap import Stream, Tap
from protocol.target import Sink, Target
from protocol.writer import MessageWriter

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ActivateVersionMessage",
    "BatchMessage",
    "Bookmarks",
    "Breadcrumb",
    "Catalog",
    "CatalogEntry",
    "ConfigError",
    "DownstreamClosed",
    "FatalSourceError",
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
    "Tap",
    "Target",
    "TargetError",
    "check_schema",
    "dumps",
    "emit_metric",
    "field_types",
    "is_nullable",
    "load_config",
    "loads",
    "merge_types",
    "run_cli",
    "secret_values",
    "tap_main",
    "target_main",
]

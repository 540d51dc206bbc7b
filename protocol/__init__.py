"""The Sluice protocol kit: what a connector author (and the runner) may import.

Everything not listed in ``__all__`` is private to the kit: its modules are named ``protocol._x``
and only the kit and its tests import them. The PostgreSQL connection code is the sub-kit
:mod:`protocol.pg`, the HTTP client for API taps :mod:`protocol.http`; each has its own face.
Names are imported on first use (PEP 562), so ``from protocol import ConfigError`` stays cheap
for programs that need little of the kit.
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes

if TYPE_CHECKING:
    from protocol._bookmarks import FullTableBookmark, IncrementalBookmark, KeyRange, LogBasedBookmark
    from protocol._catalog import REPLICATION_METHODS, Breadcrumb, Catalog, CatalogEntry, Metadata
    from protocol._cli import run_cli, tap_main, target_main
    from protocol._config import load_config, read_json_file, secret_values
    from protocol._errors import (
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
    from protocol._exactly_once import (
        CAPABILITY as EXACTLY_ONCE_CAPABILITY,
    )
    from protocol._exactly_once import (
        ENV_CONTROL_FD,
        ENV_GENERATION,
        ENV_STATE_ID,
        Committed,
    )
    from protocol._exactly_once import (
        STOP as CONTROL_STOP,
    )
    from protocol._exactly_once import (
        TAP_FAILED as CONTROL_TAP_FAILED,
    )
    from protocol._exactly_once import (
        TAP_OK as CONTROL_TAP_OK,
    )
    from protocol._exitcodes import (
        CONNECTOR_CODES,
        RUNNER_CODES,
        ExitCode,
        signal_exit_code,
    )
    from protocol._exitcodes import (
        describe as describe_exit_codes,
    )
    from protocol._fastcheck import is_date
    from protocol._jsoncodec import JSONDecodeError, dumps, exact_loads, loads, needs_exact_parse
    from protocol._lane import RecordRun
    from protocol._messages import (
        ActivateVersionMessage,
        BatchMessage,
        Message,
        RecordMessage,
        SchemaMessage,
        StateMessage,
    )
    from protocol._metrics import RecordCounter
    from protocol._metrics import emit as emit_metric
    from protocol._reader import MessageReader
    from protocol._schema import RecordValidator, check_schema, field_types, is_nullable, merge_types, property_schemas
    from protocol._settings import build_settings, setting
    from protocol._settings_check import report_unknown, unknown_settings
    from protocol._signals import stop_held
    from protocol._state import Bookmarks, state_value
    from protocol._tap import STATE_EVERY_RECORDS, Stream, TableStream, Tap
    from protocol._target import Sink, Target
    from protocol._wording import closest, plural
    from protocol._writer import MessageWriter

_LAZY: dict[str, tuple[str, str]] = {
    "ActivateVersionMessage": ("protocol._messages", "ActivateVersionMessage"),
    "BatchMessage": ("protocol._messages", "BatchMessage"),
    "Bookmarks": ("protocol._state", "Bookmarks"),
    "Breadcrumb": ("protocol._catalog", "Breadcrumb"),
    "CONNECTOR_CODES": ("protocol._exitcodes", "CONNECTOR_CODES"),
    "CONTROL_STOP": ("protocol._exactly_once", "STOP"),
    "CONTROL_TAP_FAILED": ("protocol._exactly_once", "TAP_FAILED"),
    "CONTROL_TAP_OK": ("protocol._exactly_once", "TAP_OK"),
    "Catalog": ("protocol._catalog", "Catalog"),
    "CatalogEntry": ("protocol._catalog", "CatalogEntry"),
    "Committed": ("protocol._exactly_once", "Committed"),
    "ConfigError": ("protocol._errors", "ConfigError"),
    "DownstreamClosed": ("protocol._errors", "DownstreamClosed"),
    "ENV_CONTROL_FD": ("protocol._exactly_once", "ENV_CONTROL_FD"),
    "ENV_GENERATION": ("protocol._exactly_once", "ENV_GENERATION"),
    "ENV_STATE_ID": ("protocol._exactly_once", "ENV_STATE_ID"),
    "EXACTLY_ONCE_CAPABILITY": ("protocol._exactly_once", "CAPABILITY"),
    "ExitCode": ("protocol._exitcodes", "ExitCode"),
    "FatalSourceError": ("protocol._errors", "FatalSourceError"),
    "FullTableBookmark": ("protocol._bookmarks", "FullTableBookmark"),
    "IncrementalBookmark": ("protocol._bookmarks", "IncrementalBookmark"),
    "JSONDecodeError": ("protocol._jsoncodec", "JSONDecodeError"),
    "KeyRange": ("protocol._bookmarks", "KeyRange"),
    "LogBasedBookmark": ("protocol._bookmarks", "LogBasedBookmark"),
    "Message": ("protocol._messages", "Message"),
    "MessageReader": ("protocol._reader", "MessageReader"),
    "MessageWriter": ("protocol._writer", "MessageWriter"),
    "Metadata": ("protocol._catalog", "Metadata"),
    "ProtocolError": ("protocol._errors", "ProtocolError"),
    "REPLICATION_METHODS": ("protocol._catalog", "REPLICATION_METHODS"),
    "RUNNER_CODES": ("protocol._exitcodes", "RUNNER_CODES"),
    "RecordCounter": ("protocol._metrics", "RecordCounter"),
    "RecordMessage": ("protocol._messages", "RecordMessage"),
    "RecordRun": ("protocol._lane", "RecordRun"),
    "RecordValidationError": ("protocol._errors", "RecordValidationError"),
    "RecordValidator": ("protocol._schema", "RecordValidator"),
    "RetryableSourceError": ("protocol._errors", "RetryableSourceError"),
    "STATE_EVERY_RECORDS": ("protocol._tap", "STATE_EVERY_RECORDS"),
    "SchemaMessage": ("protocol._messages", "SchemaMessage"),
    "Sink": ("protocol._target", "Sink"),
    "SluiceError": ("protocol._errors", "SluiceError"),
    "SourceError": ("protocol._errors", "SourceError"),
    "StateMessage": ("protocol._messages", "StateMessage"),
    "Stream": ("protocol._tap", "Stream"),
    "TableStream": ("protocol._tap", "TableStream"),
    "Tap": ("protocol._tap", "Tap"),
    "Target": ("protocol._target", "Target"),
    "TargetError": ("protocol._errors", "TargetError"),
    "Terminated": ("protocol._errors", "Terminated"),
    "TruncatedLineError": ("protocol._errors", "TruncatedLineError"),
    "build_settings": ("protocol._settings", "build_settings"),
    "check_schema": ("protocol._schema", "check_schema"),
    "closest": ("protocol._wording", "closest"),
    "describe_exit_codes": ("protocol._exitcodes", "describe"),
    "dumps": ("protocol._jsoncodec", "dumps"),
    "emit_metric": ("protocol._metrics", "emit"),
    "exact_loads": ("protocol._jsoncodec", "exact_loads"),
    "field_types": ("protocol._schema", "field_types"),
    "is_date": ("protocol._fastcheck", "is_date"),
    "is_nullable": ("protocol._schema", "is_nullable"),
    "load_config": ("protocol._config", "load_config"),
    "loads": ("protocol._jsoncodec", "loads"),
    "merge_types": ("protocol._schema", "merge_types"),
    "needs_exact_parse": ("protocol._jsoncodec", "needs_exact_parse"),
    "plural": ("protocol._wording", "plural"),
    "property_schemas": ("protocol._schema", "property_schemas"),
    "read_json_file": ("protocol._config", "read_json_file"),
    "report_unknown": ("protocol._settings_check", "report_unknown"),
    "run_cli": ("protocol._cli", "run_cli"),
    "secret_values": ("protocol._config", "secret_values"),
    "setting": ("protocol._settings", "setting"),
    "signal_exit_code": ("protocol._exitcodes", "signal_exit_code"),
    "state_value": ("protocol._state", "state_value"),
    "stop_held": ("protocol._signals", "stop_held"),
    "tap_main": ("protocol._cli", "tap_main"),
    "target_main": ("protocol._cli", "target_main"),
    "unknown_settings": ("protocol._settings_check", "unknown_settings"),
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "ActivateVersionMessage",
    "BatchMessage",
    "Bookmarks",
    "Breadcrumb",
    "CONNECTOR_CODES",
    "CONTROL_STOP",
    "CONTROL_TAP_FAILED",
    "CONTROL_TAP_OK",
    "Catalog",
    "CatalogEntry",
    "Committed",
    "ConfigError",
    "DownstreamClosed",
    "ENV_CONTROL_FD",
    "ENV_GENERATION",
    "ENV_STATE_ID",
    "EXACTLY_ONCE_CAPABILITY",
    "ExitCode",
    "FatalSourceError",
    "FullTableBookmark",
    "IncrementalBookmark",
    "JSONDecodeError",
    "KeyRange",
    "LogBasedBookmark",
    "Message",
    "MessageReader",
    "MessageWriter",
    "Metadata",
    "ProtocolError",
    "REPLICATION_METHODS",
    "RUNNER_CODES",
    "RecordCounter",
    "RecordMessage",
    "RecordRun",
    "RecordValidationError",
    "RecordValidator",
    "RetryableSourceError",
    "STATE_EVERY_RECORDS",
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
    "build_settings",
    "check_schema",
    "closest",
    "describe_exit_codes",
    "dumps",
    "emit_metric",
    "exact_loads",
    "field_types",
    "is_date",
    "is_nullable",
    "load_config",
    "loads",
    "merge_types",
    "needs_exact_parse",
    "plural",
    "property_schemas",
    "read_json_file",
    "report_unknown",
    "run_cli",
    "secret_values",
    "setting",
    "signal_exit_code",
    "state_value",
    "stop_held",
    "tap_main",
    "target_main",
    "unknown_settings",
]

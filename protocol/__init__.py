"""The Sluice protocol kit: what a connector author (and the runner) may import.

Everything not listed in ``__all__`` is private to the kit: its modules are named ``protocol._x``
and only the kit and its tests import them. The PostgreSQL connection code is the sub-kit
:mod:`protocol.pg`, the HTTP client for API taps :mod:`protocol.http`; each has its own face.
Names are imported on first use (PEP 562), so ``from protocol import ConfigError`` stays cheap
for programs that need little of the kit.
"""

from typing import TYPE_CHECKING

from protocol._face import lazy_attributes, lazy_table

if TYPE_CHECKING:  # what a type checker sees: the names declared below (``X as X`` re-exports them)
    from protocol._bookmarks import FullTableBookmark as FullTableBookmark
    from protocol._bookmarks import IncrementalBookmark as IncrementalBookmark
    from protocol._bookmarks import KeyRange as KeyRange
    from protocol._bookmarks import LogBasedBookmark as LogBasedBookmark
    from protocol._catalog import REPLICATION_METHODS as REPLICATION_METHODS
    from protocol._catalog import Breadcrumb as Breadcrumb
    from protocol._catalog import Catalog as Catalog
    from protocol._catalog import CatalogEntry as CatalogEntry
    from protocol._catalog import Metadata as Metadata
    from protocol._cli import run_cli as run_cli
    from protocol._cli import tap_main as tap_main
    from protocol._cli import target_main as target_main
    from protocol._config import RedactingFilter as RedactingFilter
    from protocol._config import load_config as load_config
    from protocol._configfiles import read_json_file as read_json_file
    from protocol._configfiles import secret_values as secret_values
    from protocol._errors import ConfigError as ConfigError
    from protocol._errors import DownstreamClosed as DownstreamClosed
    from protocol._errors import FatalSourceError as FatalSourceError
    from protocol._errors import ProtocolError as ProtocolError
    from protocol._errors import RecordValidationError as RecordValidationError
    from protocol._errors import RetryableSourceError as RetryableSourceError
    from protocol._errors import SluiceError as SluiceError
    from protocol._errors import SourceError as SourceError
    from protocol._errors import TargetError as TargetError
    from protocol._errors import Terminated as Terminated
    from protocol._errors import TruncatedLineError as TruncatedLineError
    from protocol._exactly_once import CONTROL_STOP as CONTROL_STOP
    from protocol._exactly_once import CONTROL_TAP_FAILED as CONTROL_TAP_FAILED
    from protocol._exactly_once import CONTROL_TAP_OK as CONTROL_TAP_OK
    from protocol._exactly_once import ENV_CONTROL_FD as ENV_CONTROL_FD
    from protocol._exactly_once import ENV_GENERATION as ENV_GENERATION
    from protocol._exactly_once import ENV_STATE_ID as ENV_STATE_ID
    from protocol._exactly_once import EXACTLY_ONCE_CAPABILITY as EXACTLY_ONCE_CAPABILITY
    from protocol._exactly_once import STOP_LOCK as STOP_LOCK
    from protocol._exactly_once import Committed as Committed
    from protocol._exitcodes import CONNECTOR_CODES as CONNECTOR_CODES
    from protocol._exitcodes import RUNNER_CODES as RUNNER_CODES
    from protocol._exitcodes import ExitCode as ExitCode
    from protocol._exitcodes import describe_exit_codes as describe_exit_codes
    from protocol._exitcodes import signal_exit_code as signal_exit_code
    from protocol._fastcheck import is_date as is_date
    from protocol._fastcheck import is_date_time as is_date_time
    from protocol._instants import saved_instant as saved_instant
    from protocol._instants import utc_instant as utc_instant
    from protocol._jsoncodec import JSONDecodeError as JSONDecodeError
    from protocol._jsoncodec import dumps as dumps
    from protocol._jsoncodec import dumps_pretty as dumps_pretty
    from protocol._jsoncodec import exact_loads as exact_loads
    from protocol._jsoncodec import loads as loads
    from protocol._jsoncodec import long_digit_lines as long_digit_lines
    from protocol._jsoncodec import needs_exact_parse as needs_exact_parse
    from protocol._jsoncodec import whole_float as whole_float
    from protocol._jsoncodec import whole_number as whole_number
    from protocol._lane import Bounds as Bounds
    from protocol._lane import RecordRun as RecordRun
    from protocol._logs import setup_logging as setup_logging
    from protocol._messages import ActivateVersionMessage as ActivateVersionMessage
    from protocol._messages import BatchMessage as BatchMessage
    from protocol._messages import Message as Message
    from protocol._messages import RecordMessage as RecordMessage
    from protocol._messages import SchemaMessage as SchemaMessage
    from protocol._messages import StateMessage as StateMessage
    from protocol._metrics import RecordCounter as RecordCounter
    from protocol._metrics import emit_metric as emit_metric
    from protocol._reader import MessageReader as MessageReader
    from protocol._recordtype import TinyNumbers as TinyNumbers
    from protocol._recordtype import struct_attrs as struct_attrs
    from protocol._schema import RecordValidator as RecordValidator
    from protocol._schema import check_schema as check_schema
    from protocol._schema import field_types as field_types
    from protocol._schema import is_nullable as is_nullable
    from protocol._schema import merge_types as merge_types
    from protocol._schema import property_schemas as property_schemas
    from protocol._settings import build_settings as build_settings
    from protocol._settings import setting as setting
    from protocol._settings_check import report_unknown as report_unknown
    from protocol._settings_check import unknown_settings as unknown_settings
    from protocol._signals import stop_held as stop_held
    from protocol._sqlitefiles import SQLITE_BUSY_SECONDS as SQLITE_BUSY_SECONDS
    from protocol._sqlitefiles import enter_wal as enter_wal
    from protocol._state import Bookmarks as Bookmarks
    from protocol._state import state_value as state_value
    from protocol._tap import STATE_EVERY_RECORDS as STATE_EVERY_RECORDS
    from protocol._tap import Stream as Stream
    from protocol._tap import TableStream as TableStream
    from protocol._tap import Tap as Tap
    from protocol._target import Sink as Sink
    from protocol._target import Target as Target
    from protocol._threads import ENGINE_SWITCH_INTERVAL as ENGINE_SWITCH_INTERVAL
    from protocol._threads import hand_over_promptly as hand_over_promptly
    from protocol._wording import closest as closest
    from protocol._wording import plural as plural
    from protocol._writer import MessageWriter as MessageWriter

_LAZY = lazy_table(__name__, {  # private module: its public names
    "_bookmarks": ["FullTableBookmark", "IncrementalBookmark", "KeyRange", "LogBasedBookmark"],
    "_catalog": ["Breadcrumb", "Catalog", "CatalogEntry", "Metadata", "REPLICATION_METHODS"],
    "_cli": ["run_cli", "tap_main", "target_main"],
    "_config": ["RedactingFilter", "load_config"],
    "_configfiles": ["read_json_file", "secret_values"],
    "_errors": ["ConfigError", "DownstreamClosed", "FatalSourceError", "ProtocolError", "RecordValidationError",
                "RetryableSourceError", "SluiceError", "SourceError", "TargetError", "Terminated",
                "TruncatedLineError"],
    "_exactly_once": ["CONTROL_STOP", "CONTROL_TAP_FAILED", "CONTROL_TAP_OK", "Committed", "ENV_CONTROL_FD",
                      "ENV_GENERATION", "ENV_STATE_ID", "EXACTLY_ONCE_CAPABILITY", "STOP_LOCK"],
    "_instants": ["saved_instant", "utc_instant"],
    "_exitcodes": ["CONNECTOR_CODES", "ExitCode", "RUNNER_CODES", "describe_exit_codes", "signal_exit_code"],
    "_fastcheck": ["is_date", "is_date_time"],
    "_jsoncodec": ["JSONDecodeError", "dumps", "dumps_pretty", "exact_loads", "loads", "long_digit_lines",
                   "needs_exact_parse", "whole_float", "whole_number"],
    "_lane": ["Bounds", "RecordRun"],
    "_logs": ["setup_logging"],
    "_messages": ["ActivateVersionMessage", "BatchMessage", "Message", "RecordMessage", "SchemaMessage",
                  "StateMessage"],
    "_metrics": ["RecordCounter", "emit_metric"],
    "_reader": ["MessageReader"],
    "_recordtype": ["TinyNumbers", "struct_attrs"],
    "_schema": ["RecordValidator", "check_schema", "field_types", "is_nullable", "merge_types", "property_schemas"],
    "_settings": ["build_settings", "setting"],
    "_settings_check": ["report_unknown", "unknown_settings"],
    "_signals": ["stop_held"],
    "_sqlitefiles": ["SQLITE_BUSY_SECONDS", "enter_wal"],
    "_state": ["Bookmarks", "state_value"],
    "_tap": ["STATE_EVERY_RECORDS", "Stream", "TableStream", "Tap"],
    "_target": ["Sink", "Target"],
    "_threads": ["ENGINE_SWITCH_INTERVAL", "hand_over_promptly"],
    "_wording": ["closest", "plural"],
    "_writer": ["MessageWriter"],
})

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
__all__ = sorted(_LAZY)

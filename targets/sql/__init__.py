"""The SQL core shared by every SQL target: naming, types, table evolution, batching."""

from targets.sql.dialect import Loader, MetaValues, quote_identifier
from targets.sql.naming import IdentifierMapper, safe_identifier
from targets.sql.settings import COMMON_SETTINGS, SQLSettings
from targets.sql.sink import METADATA_COLUMNS, SQLSink, SQLTarget
from targets.sql.table import Existing, TableSpec, plan_table
from targets.sql.types import logical_type, widen

__all__ = [
    "COMMON_SETTINGS",
    "METADATA_COLUMNS",
    "Existing",
    "IdentifierMapper",
    "Loader",
    "MetaValues",
    "SQLSettings",
    "SQLSink",
    "SQLTarget",
    "TableSpec",
    "logical_type",
    "plan_table",
    "quote_identifier",
    "safe_identifier",
    "widen",
]

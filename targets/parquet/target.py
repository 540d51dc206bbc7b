"""target-parquet: each stream's records as Parquet files, committed before every STATE.

The layout, the types and the commit protocol are described in targets/parquet/README.md;
the settings are declared, and read into one frozen object, in targets/parquet/settings.py.
pyarrow is imported only when the target runs (the ``parquet`` extra), never by ``--about``.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import count
from typing import Any, ClassVar

from protocol import ConfigError, SchemaMessage, Sink, Target, TargetError, target_main
from targets.parquet.settings import SETTINGS, ParquetSettings

__all__ = ["TargetParquet", "main"]

EXTRA = "target-parquet needs the extra: pip install 'sluice[parquet]'"


def require_pyarrow() -> None:
    """One clear line when the ``parquet`` extra is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError(EXTRA) from exc


class TargetParquet(Target):
    name = "target-parquet"
    description = ("Writes each stream's records to Parquet files (typed columns, hive-style partitions), "
                   "each file visible and durable before the STATE that covers it.")
    settings_schema: ClassVar[dict[str, Any]] = SETTINGS
    settings: ParquetSettings

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = ParquetSettings.from_config(self.config)
        require_pyarrow()
        from targets.parquet.sink import RunFiles

        now = datetime.now(UTC)
        self.files = RunFiles(now.strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}", now.date().isoformat(), count(1),
                              ThreadPoolExecutor(1, thread_name_prefix="parquet"))
        self._directories: dict[str, str] = {}  # a stream's directory name -> the stream

    def raw_capable(self) -> bool:
        return True  # every stream's sink takes runs of the fast lane

    def make_sink(self, schema: SchemaMessage) -> Sink:
        from targets.files import safe_name
        from targets.parquet.sink import ParquetSink  # pyarrow: imported only when records come

        directory = safe_name(schema.stream)
        other = self._directories.setdefault(directory, schema.stream)
        if other != schema.stream:
            raise ConfigError(f"streams '{other}' and '{schema.stream}' would both write to "
                              f"{self.settings.output_dir / directory}: give each stream its own name "
                              "(a stream map's __alias__)")
        return ParquetSink(schema, self.files, self.settings)

    def test_connection(self) -> str:
        """--test: the destination directory can be created and written to."""
        directory = self.settings.output_dir
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory) as probe:
                probe.write(b"probe")
                os.fsync(probe.fileno())
        except OSError as exc:
            raise TargetError(f"cannot write to {directory}: {exc.strerror or exc}") from exc
        return f"{directory} is writable"


main = target_main(TargetParquet)

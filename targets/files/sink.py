"""The sink half shared by the file targets: buffer, spill, sync, checkpoint, roll back."""

from __future__ import annotations

from typing import ClassVar

from protocol import SchemaMessage, Sink, TargetError
from targets.files.durable import DurableFile
from targets.files.settings import FileSettings

__all__ = ["SPILL_BYTES", "SPILL_ROWS", "FileSink"]

# Rendered records are written to the file (not yet durable) every SPILL_ROWS records or
# SPILL_BYTES bytes, so memory stays bounded whatever batch_size_rows is; durability comes
# only with flush().
SPILL_ROWS = 4096
SPILL_BYTES = 1 << 20


class FileSink(Sink):
    """Records rendered into memory, written out in large chunks, made durable at flush.

    Subclasses render records in :meth:`add` and hand over the pending bytes in :meth:`take`.
    A sink is handed its target's settings (the frozen object, never the config mapping).
    """

    loader: DurableFile
    line_based: ClassVar[bool] = False  # one record per line: a torn last line can be repaired

    def __init__(self, schema: SchemaMessage, loader: DurableFile, settings: FileSettings) -> None:
        super().__init__(schema, loader, settings)
        self.file = loader

    def take(self) -> bytes:
        """The rendered, not yet written bytes; the buffer is emptied."""
        raise NotImplementedError

    def spill(self) -> None:
        data = self.take()
        if data:
            try:
                self.file.write(data)
            except OSError as exc:
                raise self.error(exc) from exc

    def flush(self) -> None:
        self.spill()
        try:
            self.file.sync()
        except OSError as exc:
            raise self.error(exc) from exc

    def checkpoint(self) -> None:
        try:
            self.file.checkpoint()  # an overwrite's new file replaces the old one at the first
        except OSError as exc:
            raise self.error(exc) from exc

    def abort(self) -> None:
        self.take()
        self.file.abort()

    def close(self) -> None:
        try:
            self.file.close()
        except OSError as exc:
            raise self.error(exc) from exc

    def error(self, exc: OSError) -> TargetError:
        return TargetError(f"stream '{self.stream}': cannot write {self.file.path}: {exc.strerror or exc}")

"""What the file targets (target-jsonl, target-csv) share: durable files and naming."""

from targets.files.durable import DurableFile
from targets.files.naming import safe_name
from targets.files.sink import FileSink
from targets.files.target import FileTarget

__all__ = ["DurableFile", "FileSink", "FileTarget", "safe_name"]

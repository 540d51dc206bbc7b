"""What the file targets (target-jsonl, target-csv) share: durable files, naming and settings."""

from targets.files.durable import DurableFile
from targets.files.naming import safe_name
from targets.files.settings import FileSettings
from targets.files.sink import FileSink
from targets.files.target import FileTarget

__all__ = ["DurableFile", "FileSettings", "FileSink", "FileTarget", "safe_name"]

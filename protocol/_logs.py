"""Logging to stderr, never stdout. One format for every connector."""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["setup_logging"]

FORMAT = "%(asctime)s | %(levelname)-8s | %(name)s | %(message)s"


def setup_logging(level: str | None = None) -> logging.Handler:
    name = (level or os.environ.get("SLUICE_LOG_LEVEL") or os.environ.get("LOGLEVEL") or "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, name, logging.INFO))
    return handler

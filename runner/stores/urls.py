"""A state store's URL as it may be shown: its password masked (no driver imported here)."""

from __future__ import annotations

import re

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """A connection string with its password masked, in every form libpq takes:
    ``postgresql://user:secret@host/db`` (a password holding ``@`` too: up to the last ``@``),
    ``...?password=secret`` and ``host=h password=secret`` (key=value)."""
    url = re.sub(r"(//[^:/@]*:).*@(?=[^@]*$)", r"\1***@", url)
    return re.sub(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", r"\1***", url)

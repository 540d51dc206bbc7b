"""A state store's URL as it may be shown: its password masked (no driver imported here)."""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["redact_url", "url_passwords"]

# user:password@ of a URL (a password holding ``@`` too: up to the last ``@``)
_USERINFO = re.compile(r"(//[^:/@]*:)(.*)@(?=[^@]*$)", re.DOTALL)
# password=... and sslpassword=... (the key of a client certificate), in a query or in key=value form
_KEYWORD = re.compile(r"(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)")


def redact_url(url: str) -> str:
    """A connection string with its passwords masked, in every form libpq takes:
    ``postgresql://user:secret@host/db``, ``...?password=secret``, ``...?sslpassword=secret`` and
    ``host=h password=secret`` (key=value)."""
    return _KEYWORD.sub(r"\1***", _USERINFO.sub(r"\1***@", url))


def url_passwords(url: str) -> set[str]:
    """The passwords a connection string holds (those :func:`redact_url` masks), as written and
    percent-decoded: secrets to redact from whatever is said about it, a driver's words included."""
    found = [m.group(2) for m in _USERINFO.finditer(url)]
    for m in _KEYWORD.finditer(url):
        value = m.group(2)
        found.append(value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value)
    return {form for value in found if value for form in (value, unquote(value))}

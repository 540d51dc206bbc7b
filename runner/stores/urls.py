"""A state store's URL as it may be shown: its password masked (no driver imported here); and the
values of references in a URL's user-info, percent-encoded so that a driver reads them back as given."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

__all__ = ["fill_url", "redact_url", "url_passwords"]

# user:password@ of a URL (a password holding ``@`` too: up to the last ``@``)
_USERINFO = re.compile(r"(//[^:/@]*:)(.*)@(?=[^@]*$)", re.DOTALL)
# password=... and sslpassword=... (the key of a client certificate), in a query or in key=value form
_KEYWORD = re.compile(r"(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)")
# what ends a URL's user-info or authority: a password holding one is read otherwise by a driver
_BREAKS = re.compile(r"[@/?#]")
_PIECES = re.compile(r"[@/?#:]+")

#: the problem of a user-info that a driver does not read back as built (it quotes nothing of it)
USERINFO_PROBLEM = ("the URL's user name or password does not read back as written: percent-encode an '@', "
                    "'/', '?', '#' or '%' written as it is there (%40, %2F, %3F, %23, %25); the values of "
                    "${...} references there are encoded by sluice")


def redact_url(url: str) -> str:
    """A connection string with its passwords masked, in every form libpq takes:
    ``postgresql://user:secret@host/db``, ``...?password=secret``, ``...?sslpassword=secret`` and
    ``host=h password=secret`` (key=value)."""
    return _KEYWORD.sub(r"\1***", _USERINFO.sub(r"\1***@", url))


def url_passwords(url: str) -> set[str]:
    """The passwords a connection string holds (those :func:`redact_url` masks), as written and
    percent-decoded: secrets to redact from whatever is said about it, a driver's words included.
    A password holding a character that ends a user-info (``@``, ``/``) is misread by a driver, which
    then quotes its pieces as a host, a port or a database: each piece is one of these too."""
    found = [m.group(2) for m in _USERINFO.finditer(url)]
    found += [piece for value in found if _BREAKS.search(value) for piece in _PIECES.split(value)]
    for m in _KEYWORD.finditer(url):
        value = m.group(2)
        found.append(value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value)
    return {form for value in found if value for form in (value, unquote(value))}


def _userinfo_span(blanked: str) -> tuple[int, int] | None:
    """Where the user-info (``user:password``) of a URL is, from its text as written (``blanked``: its
    references blanked out, so that no value decides): after ``scheme://``, up to the last ``@`` of the
    authority; None without one."""
    start = blanked.find("://")
    if start < 0:
        return None
    start += 3
    end = min((i for i in (blanked.find(c, start) for c in "/?#") if i >= 0), default=len(blanked))
    at = blanked.rfind("@", start, end)
    return None if at < 0 else (start, at)


def _read_userinfo(url: str) -> str | None:
    """The user-info of ``url`` as libpq reads it: up to the first ``@`` of the authority."""
    start = url.find("://") + 3
    end = min((i for i in (url.find(c, start) for c in "@/?#") if i >= 0), default=len(url))
    return url[start:end] if url[end:end + 1] == "@" else None


def _quote(value: str) -> str:
    return quote(value, safe=":")  # ${CREDENTIALS}@host: a user:password value stays two parts


def fill_url(template: str, blanked: str, where: str, problems: list[str],
             fill: Callable[[str, Callable[[str], str] | None], str]) -> str:
    """``template`` filled by ``fill(text, quote)``, the values of the references in its user-info
    percent-encoded (``quote``), so that a password holding ``@`` or ``/`` is read back as given. A
    user-info a driver reads otherwise (an ``@`` written there as it is) is a problem quoting nothing."""
    span = _userinfo_span(blanked)
    if span is None:
        return fill(template, None)
    start, end = span
    info = fill(template[start:end], _quote)
    url = fill(template[:start], None) + info + fill(template[end:], None)
    if not problems and _read_userinfo(url) != info:
        problems.append(f"{where}: {USERINFO_PROBLEM}")
    return url

"""Words in messages a user reads: counts (``1 row``, ``2 rows``, ``1,200 records``, never
``1 rows``) and the known name closest to a mistyped one."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest", "plural"]

_IRREGULAR = {"entry": "entries", "property": "properties", "was": "were"}


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, the word in its plural form unless the count is exactly one.

    The plural is ``many`` when given, else a known irregular form, else ``word + "s"``.
    Counts get thousands separators: ``plural(1200, "record")`` is ``"1,200 records"``.
    """
    if count == 1:
        return f"1 {word}"
    return f"{count:,} {many or _IRREGULAR.get(word, word + 's')}"


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (a did-you-mean), or None when none is close."""
    import difflib  # only when a name is mistyped: not on every start of a connector or the runner

    match = difflib.get_close_matches(name, list(known), n=1)
    return match[0] if match else None

"""Secret providers: where ``${scheme:reference}`` in sluice.yml gets its value (docs/secrets.md).

A provider is an object with a ``scheme`` (the word before the colon) and ``resolve(reference) -> str``
(:class:`SecretProvider`). It is made by a factory called with the project's :class:`Scope` (its
environment with ``.env``, its directory, the timeout of one reference). Built in: ``file``
(:class:`FileProvider`) and ``cmd`` (:class:`CommandProvider`). Any other scheme is looked up among the
installed distributions' entry points of the group ``sluice.secret_providers`` (the entry point's name
is the scheme, its object the factory), and only when a reference uses it.

A provider that cannot give a value raises :class:`protocol.ConfigError` with a message that names
what is missing and never holds a secret or a command's output; a value is never an empty string.
Every value a provider gives is a secret: it is redacted wherever the runner writes.

This package is imported only when a project uses a ``${scheme:...}`` reference (runner/interpolation.py).
"""

from __future__ import annotations

from runner.interpolation import Scope
from runner.secrets.builtin import CommandProvider, FileProvider
from runner.secrets.provider import ENTRY_POINT_GROUP, ProviderFactory, SecretProvider
from runner.secrets.registry import provider_for, resolve

__all__ = [
    "ENTRY_POINT_GROUP",
    "CommandProvider",
    "FileProvider",
    "ProviderFactory",
    "Scope",
    "SecretProvider",
    "provider_for",
    "resolve",
]

"""Secret providers: where ``${scheme:reference}`` in sluice.yml gets its value (docs/secrets.md).

A provider is an object with a ``scheme`` (the word before the colon) and ``resolve(reference) -> str``
(:class:`SecretProvider`). It is made by a factory called with the project's :class:`Scope` (its
environment with ``.env``, its directory, the timeout of one reference). Built in
(runner/secrets/builtin.py): ``file`` and ``cmd``. Any other scheme is looked up among the installed
distributions' entry points of the group ``sluice.secret_providers`` (the entry point's name is the
scheme, its object the factory), and only when a reference uses it (runner/secrets/registry.py).

A provider that cannot give a value raises :class:`protocol.ConfigError` (what retrying cannot fix: no
such secret, exit 2) or :class:`SecretUnavailable` (it cannot give it now: its store is down or slow,
exit 1, which an orchestrator retries; an OSError it raises counts as such), with a message that names
what is missing and never holds a secret or a command's output; a value is never an empty string.
Every value a provider gives is a secret: it is redacted wherever the runner writes.

Nothing here is imported by a project that uses no ``${scheme:...}`` reference and no ``.env`` file
(runner/interpolation.py); this package's own import is the interface only.
"""

from __future__ import annotations

from runner.interpolation import Scope, SecretUnavailable
from runner.secrets.provider import ENTRY_POINT_GROUP, ProviderFactory, SecretProvider

__all__ = ["ENTRY_POINT_GROUP", "ProviderFactory", "Scope", "SecretProvider", "SecretUnavailable"]

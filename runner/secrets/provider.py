"""The interface of a secret provider (see runner/secrets/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from runner.interpolation import Scope

__all__ = ["ENTRY_POINT_GROUP", "ProviderFactory", "SecretProvider"]

#: the entry point group through which an installed distribution adds a scheme
ENTRY_POINT_GROUP = "sluice.secret_providers"


@runtime_checkable
class SecretProvider(Protocol):
    """Gives the value of ``${scheme:reference}``."""

    #: the word before the colon of the references it resolves (``vault`` for ``${vault:...}``)
    scheme: str

    def resolve(self, reference: str) -> str:
        """The secret ``reference`` names (the text after the colon, as written). Raises
        :class:`protocol.ConfigError` naming what is missing, or :class:`runner.interpolation.SecretUnavailable`
        when it cannot be had now (never the value, never a command's output)."""
        ...


#: what an entry point of ``sluice.secret_providers`` names: called once per command with the project's
#: scope (``scope`` is a mapping of its environment with ``.env``; ``scope.dir`` its directory;
#: ``scope.timeout`` the seconds one reference may take), it returns the provider.
ProviderFactory = Callable[[Scope], SecretProvider]

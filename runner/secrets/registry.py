"""Which provider resolves a scheme: the built-ins, else an installed distribution's entry point of
``sluice.secret_providers``, looked up only when a reference uses a scheme that is not built in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol import ConfigError
from runner.interpolation import Scope, SecretUnavailable
from runner.secrets.builtin import CommandProvider, FileProvider
from runner.secrets.provider import ENTRY_POINT_GROUP, ProviderFactory, SecretProvider

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["BUILT_IN", "provider_for", "resolve"]

BUILT_IN: dict[str, ProviderFactory] = {"cmd": CommandProvider, "file": FileProvider}


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _plugin(scheme: str) -> ProviderFactory:
    found = _entry_points()
    mine = {(ep.value, ep.dist.name if ep.dist else "?") for ep in found if ep.name == scheme}
    if not mine:
        known = ", ".join(sorted({*BUILT_IN, *(ep.name for ep in found)}))
        raise ConfigError(f"no secret provider for the scheme '{scheme}' (known: {known}; an installed "
                          f"distribution adds one through the entry point group {ENTRY_POINT_GROUP})")
    if len({value for value, _ in mine}) > 1:
        where = "; ".join(f"{value} from {dist}" for value, dist in sorted(mine))
        raise ConfigError(f"several installed distributions provide the secret scheme '{scheme}': {where}")
    ep = next(ep for ep in found if ep.name == scheme)
    try:
        factory = ep.load()
    except ImportError as exc:
        raise ConfigError(f"the secret provider '{scheme}' ({ep.value}) cannot be imported: {exc}") from exc
    except AttributeError as exc:
        raise ConfigError(f"the secret provider '{scheme}' ({ep.value}) does not exist: {exc}") from exc
    if not callable(factory):
        raise ConfigError(f"the secret provider '{scheme}' ({ep.value}) is not callable")
    return factory  # type: ignore[no-any-return]


def provider_for(scope: Scope, providers: dict[str, SecretProvider], scheme: str) -> SecretProvider:
    """The provider of ``scheme``, made once per command (kept in ``providers``)."""
    if scheme in providers:
        return providers[scheme]
    factory = BUILT_IN.get(scheme) or _plugin(scheme)
    made = factory(scope)
    if not isinstance(made, SecretProvider) or made.scheme != scheme:
        raise ConfigError(f"the secret provider of '{scheme}' gave {type(made).__name__}, not a provider whose "
                          f"scheme is '{scheme}' (an object with scheme and resolve(reference))")
    providers[scheme] = made
    return made


def resolve(scope: Scope, providers: dict[str, SecretProvider], scheme: str, reference: str) -> str:
    """The value of ``${scheme:reference}``: never empty; ConfigError when it cannot be had, SecretUnavailable
    when its provider cannot give it now. A plugin's network or file errors (OSError: a refused connection,
    a timeout) are such, mapped here without their text, which may quote what they read."""
    provider = provider_for(scope, providers, scheme)
    try:
        value = provider.resolve(reference)
    except OSError as exc:
        raise SecretUnavailable(f"the '{scheme}' provider failed: {type(exc).__name__}"
                                + (f" ({exc.strerror})" if exc.strerror else "")) from None
    if not isinstance(value, str):
        raise ConfigError(f"the '{scheme}' provider gave a {type(value).__name__}, not a string")
    if not value:
        raise ConfigError(f"the '{scheme}' provider gave an empty value")
    return value

"""``${...}`` interpolation of the values of sluice.yml (see docs/sluice-yml.md and docs/secrets.md).

- ``${NAME}`` / ``${NAME:-default}``: a variable of the environment, then of the ``.env`` file beside
  the project file (which never overrides the real environment);
- ``${scheme:reference}`` (a lower-case scheme, a reference not starting with ``-``): a secret provider
  (runner/secrets/): ``${file:PATH}``, ``${cmd:COMMAND}`` or a plugin's scheme;
- ``$${`` is a literal ``${``.

A project that references only variables imports nothing of runner/secrets/ and reads ``.env`` only
for a variable the environment lacks: it pays for this module's import only (bench/secretsbench.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ConfigError

if TYPE_CHECKING:
    from runner.secrets.provider import SecretProvider

__all__ = ["DEFAULT_SECRET_TIMEOUT", "PROVIDED", "Place", "Scope", "interpolate", "project_scope"]

_REF = re.compile(
    r"\$\$\{"
    r"|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?"  # ${NAME} ${NAME:-default}
    r"|([a-z][a-z0-9_-]*):(?!-)([^}]*))\}"  # ${scheme:reference}
)

#: where a value sits in a resolved connector: ("config", key, ...), ("env", NAME), ("args", i)
Place = tuple[str | int, ...]

#: the root of the places of values that came from a secret provider: ``(PROVIDED, "config", key, ...)``.
#: Such a value is secret wherever it went (runner.connectors.connector_secrets).
PROVIDED = "provided"

#: seconds one provider reference may take (``secret_timeout_seconds`` in sluice.yml)
DEFAULT_SECRET_TIMEOUT = 10.0


class _Memo:
    """What one project has resolved already: each reference once per command. (A plain class: a
    dataclass would cost every run's start-up more than all the rest of this module.)"""

    __slots__ = ("dotenv", "failures", "providers", "values")

    def __init__(self) -> None:
        self.dotenv: dict[str, str] | None = None
        self.values: dict[tuple[str, str], str] = {}
        self.failures: dict[tuple[str, str], str] = {}
        self.providers: dict[str, SecretProvider] = {}


if TYPE_CHECKING:
    _MappingBase = Mapping[str, str]
else:  # at run time a plain class: making an ABC subclass costs every run's start-up more than all the rest
    _MappingBase = object


class Scope(_MappingBase):
    """What ``${...}`` resolves against: the variables of ``environ``, then those of the ``.env`` file
    ``dotenv`` (read on the first variable ``environ`` lacks; None: no such file); ``directory``, which
    relative provider references (``${file:PATH}``) and commands start from; ``timeout``, the seconds a
    provider may take for one reference. Providers receive it as their context (runner/secrets/).

    A read-only mapping (``[]``, ``in``, ``get``, ``keys``, ``items``, iteration, ``dict(scope)``) that is
    no ``collections.abc.Mapping`` at run time (see ``_MappingBase``)."""

    __slots__ = ("_memo", "dir", "dotenv", "environ", "timeout")

    def __init__(self, environ: Mapping[str, str], directory: Path, *, dotenv: Path | None = None,
                 timeout: float = DEFAULT_SECRET_TIMEOUT, memo: _Memo | None = None) -> None:
        self.environ = environ
        self.dir = directory
        self.dotenv = dotenv
        self.timeout = timeout
        self._memo = memo if memo is not None else _Memo()

    def with_environ(self, environ: Mapping[str, str]) -> Scope:
        """The same project's scope over another environment (what it resolved stays resolved)."""
        return Scope(environ, self.dir, dotenv=self.dotenv, timeout=self.timeout, memo=self._memo)

    def _file_values(self) -> dict[str, str]:
        memo = self._memo
        if memo.dotenv is None:
            memo.dotenv = {}
            if self.dotenv is not None:
                try:
                    text = self.dotenv.read_text(encoding="utf-8")
                except FileNotFoundError:
                    return memo.dotenv
                except OSError as exc:
                    raise ConfigError(f"cannot read {self.dotenv}: {exc.strerror or exc}") from exc
                except UnicodeDecodeError as exc:
                    raise ConfigError(f"{self.dotenv} is not UTF-8 text") from exc
                from runner.secrets.dotenv import parse_dotenv

                memo.dotenv = parse_dotenv(text, str(self.dotenv))
        return memo.dotenv

    def __getitem__(self, name: str) -> str:
        if name in self.environ:
            return self.environ[name]
        return self._file_values()[name]

    def __contains__(self, name: object) -> bool:
        return name in self.environ or name in self._file_values()

    def __iter__(self) -> Iterator[str]:
        yield from self.environ
        yield from (name for name in self._file_values() if name not in self.environ)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def keys(self) -> KeysView[str]:
        return dict.fromkeys(self).keys()

    def items(self) -> ItemsView[str, str]:
        return {name: self[name] for name in self}.items()

    def values(self) -> ValuesView[str]:
        return {name: self[name] for name in self}.values()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def secret(self, scheme: str, reference: str) -> str:
        """The value of ``${scheme:reference}``; ConfigError (naming neither value nor output) when it
        cannot be had. Each reference is resolved once: a failure is not tried again either."""
        key = (scheme, reference)
        memo = self._memo
        if key in memo.values:
            return memo.values[key]
        if key in memo.failures:
            raise ConfigError(memo.failures[key])
        from runner.secrets.registry import resolve

        try:
            value = resolve(self, memo.providers, scheme, reference)
        except ConfigError as exc:
            memo.failures[key] = exc.one_line()
            raise
        memo.values[key] = value
        return value


def _default_scope(environ: Mapping[str, str]) -> Scope:
    return environ if isinstance(environ, Scope) else Scope(environ, Path.cwd())


def interpolate(value: Any, environ: Mapping[str, str], where: str, problems: list[str], secrets: set[str],
                origins: dict[Place, set[str]] | None = None, place: Place = ()) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` / ``${scheme:reference}`` in every string of ``value``
    (``$${`` is a literal ``${``). ``environ`` is best a :class:`Scope` (``Project.scope``); a plain
    mapping resolves provider references from the current directory, with no ``.env``.

    Every non-empty value taken from the environment goes into ``secrets``, and into ``origins``
    under the place (``place`` + keys and indexes) of the string it went into; every value of a
    provider goes into ``secrets`` and into ``origins`` under ``(PROVIDED, *place)``. A variable not
    set without a default, or a reference that cannot be resolved, is a problem naming where and
    which reference (never a value); it is replaced by an empty string, which is never used."""
    if isinstance(value, str):
        def _provided(text: str, scheme: str, reference: str) -> str:
            if "${" in reference:  # ${cmd:get ${file:x}}: the reference would end at the first }
                problems.append(f"{where}: {text}: a reference cannot hold another (they do not nest)")
                return ""
            try:
                found = _default_scope(environ).secret(scheme, reference)
            except ConfigError as exc:
                problems.append(f"{where}: {text}: {exc.one_line()}")
                return ""
            secrets.add(found)
            if origins is not None:
                origins.setdefault((PROVIDED, *place), set()).add(found)
            return found

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            name, default, scheme = m.group(1), m.group(2), m.group(3)
            if scheme is not None:
                return _provided(m.group(0), scheme, m.group(4))
            if default is not None and "${" in default:  # ${A:-${B}}: read as default "${B", then a "}"
                problems.append(f"{where}: {m.group(0)}: a reference cannot hold another (they do not nest)")
                return ""
            if name in environ:
                found = environ[name]
                if found:
                    secrets.add(found)
                    if origins is not None:
                        origins.setdefault(place, set()).add(found)
                return found
            if default is not None:
                return default
            problems.append(f"{where}: environment variable {name} is not set")
            return ""

        return _REF.sub(sub, value) if "${" in value else value
    if isinstance(value, dict):
        return {k: interpolate(v, environ, f"{where}.{k}", problems, secrets, origins, (*place, k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, f"{where}[{i}]", problems, secrets, origins, (*place, i))
                for i, v in enumerate(value)]
    return value


def project_scope(directory: Path, has_file: bool, timeout: float | None) -> Scope:
    """The scope of a project in ``directory`` over the process environment: ``.env`` beside its
    project file (none without one)."""
    return Scope(os.environ, directory, dotenv=directory / ".env" if has_file else None,
                 timeout=DEFAULT_SECRET_TIMEOUT if timeout is None else timeout)

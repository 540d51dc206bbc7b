"""``${...}`` interpolation of the values of sluice.yml (see docs/sluice-yml.md and docs/secrets.md).

- ``${NAME}`` / ``${NAME:-default}``: a variable of the environment, then of the ``.env`` file beside
  the project file (which never overrides the real environment);
- ``${scheme:reference}`` (a lower-case scheme, a reference not starting with ``-``): a secret provider
  (runner/secrets/): ``${file:PATH}``, ``${cmd:COMMAND}`` or a plugin's scheme;
- ``${tenant.FIELD}`` / ``${tenant.env.NAME}`` in a pipeline with ``for_each:`` (runner/tenants.py), in
  the same pass: a field's text is inserted as it is, never read again;
- ``$${`` is a literal ``${``.

Any other ``${`` is a problem (``${NAME-x}``, ``${NAME:=x}``, ``${ NAME }``: shell forms sluice does not
have), except ``${WORD:TEXT}`` whose word is not a lower-case scheme (``${FILE:x}``), which stays as written.

A provider that cannot give a value now (a command that failed or timed out, a store it cannot reach)
is a :class:`SecretUnavailable` (exit 1: a retry may get it), not a ConfigError (exit 2).

A project that references only variables imports nothing of runner/secrets/ and reads ``.env`` only
for a variable the environment lacks: it pays for this module's import only (bench/secretsbench.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ConfigError, ExitCode, SluiceError

if TYPE_CHECKING:
    from runner.secrets.provider import SecretProvider
    from runner.tenants import Tenant

__all__ = ["DEFAULT_SECRET_TIMEOUT", "PROVIDED", "Place", "Scope", "SecretUnavailable", "Unavailable",
           "blank_references", "interpolate", "problems_error", "project_scope"]

# a default or a reference may hold ${tenant.x} (filled first: ${file:secrets/${tenant.id}.pw})
_TEXT = r"((?:\$\{tenant\.[^}]*\}|[^}])*)"
_REF = re.compile(
    r"\$\$\{"
    r"|\$\{(?:(tenant\.[^}]*)"  # ${tenant.FIELD} ${tenant.env.NAME} (runner/tenants.py)
    r"|([A-Za-z_][A-Za-z0-9_]*)(?::-" + _TEXT + r")?"  # ${NAME} ${NAME:-default}
    r"|([a-z][a-z0-9_-]*):(?!-)" + _TEXT + r")\}"  # ${scheme:reference}
    r"|\$\{"  # any other: a problem, or (below) left as written
)
#: the ${...} left as written: a word that is no lower-case scheme, a colon not followed by a shell operator
_AS_WRITTEN = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_-]*:(?![-=?+])[^}]*\}")
_FORMS = "the forms are ${NAME}, ${NAME:-default} and ${scheme:reference}; $${ is a literal ${"

#: where a value sits in a resolved connector: ("config", key, ...), ("env", NAME), ("args", i)
Place = tuple[str | int, ...]

#: the root of the places of values that came from a secret provider: ``(PROVIDED, "config", key, ...)``.
#: Such a value is secret wherever it went (runner.connectors.connector_secrets).
PROVIDED = "provided"

#: seconds one provider reference may take (``secret_timeout_seconds`` in sluice.yml)
DEFAULT_SECRET_TIMEOUT = 10.0


class SecretUnavailable(SluiceError):
    """A secret provider could not give a value now: a command that failed, was killed or timed out, a
    store that could not be reached (a plugin's OSError). A run-time failure (exit 1) that a retry may
    get past, unlike a ConfigError (an unset variable, an unknown scheme, an empty or too large value,
    exit 2). ``summary`` and ``problems`` as ConfigError's; it names no value and no command output."""

    exit_code = ExitCode.FAILED

    def __init__(self, summary: str, problems: Iterable[str] | None = None) -> None:
        self.summary = summary
        self.problems = list(problems or [])
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.summary}: " + "; ".join(self.problems) if self.problems else self.summary


class Unavailable(str):
    """A problem that is a :class:`SecretUnavailable`'s (``problems_error`` tells them apart)."""

    __slots__ = ()


def problems_error(summary: str, problems: list[str]) -> ConfigError | SecretUnavailable:
    """The error of ``problems``: SecretUnavailable (exit 1) when every one is a provider that is
    unavailable now, else ConfigError (exit 2): a retry cannot fix the others."""
    if all(isinstance(problem, Unavailable) for problem in problems):
        return SecretUnavailable(summary, problems)
    return ConfigError(summary, problems)


def all_resolved(summary: str, steps: Iterable[Callable[[], Any]]) -> list[Any]:
    """Each step's result, every step tried: the problems of all that fail raised together (one failing
    step raises its own error), so a run names every unset variable at once, not one connector's."""
    results: list[Any] = []
    failed: list[ConfigError | SecretUnavailable] = []
    for step in steps:
        try:
            results.append(step())
        except (ConfigError, SecretUnavailable) as exc:
            failed.append(exc)
    if len(failed) == 1:
        raise failed[0]
    if failed:
        raise problems_error(summary, [p for exc in failed for p in (exc.problems or [exc.summary])])
    return results


class _Memo:
    """What one project has resolved already: each reference once per command. (A plain class: a
    dataclass would cost every run's start-up more than all the rest of this module.)"""

    __slots__ = ("dotenv", "failures", "providers", "values")

    def __init__(self) -> None:
        self.dotenv: dict[str, str] | None = None
        self.values: dict[tuple[str, str], str] = {}
        self.failures: dict[tuple[str, str], ConfigError | SecretUnavailable] = {}
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

    __slots__ = ("_memo", "dir", "dotenv", "environ", "hidden", "timeout")

    def __init__(self, environ: Mapping[str, str], directory: Path, *, dotenv: Path | None = None,
                 timeout: float = DEFAULT_SECRET_TIMEOUT, memo: _Memo | None = None,
                 hidden: frozenset[str] = frozenset()) -> None:
        self.environ = environ
        self.dir = directory
        self.dotenv = dotenv
        self.timeout = timeout
        self._memo = memo if memo is not None else _Memo()
        self.hidden = hidden  # variables this scope does not have, in the environment or in .env

    def with_environ(self, environ: Mapping[str, str]) -> Scope:
        """The same project's scope over another environment (what it resolved stays resolved)."""
        return Scope(environ, self.dir, dotenv=self.dotenv, timeout=self.timeout, memo=self._memo,
                     hidden=self.hidden)

    def without(self, names: Iterable[str]) -> Scope:
        """This scope without the variables ``names`` (another tenant's: runner/tenant_env.py), in the
        environment and in ``.env`` alike (the memo is shared: a provider's secret is asked for once)."""
        hidden = self.hidden | frozenset(names)
        return self if hidden == self.hidden else Scope(self.environ, self.dir, dotenv=self.dotenv,
                                                        timeout=self.timeout, memo=self._memo, hidden=hidden)

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
        if name in self.hidden:
            raise KeyError(name)
        if name in self.environ:
            return self.environ[name]
        return self._file_values()[name]

    def __contains__(self, name: object) -> bool:
        return name not in self.hidden and (name in self.environ or name in self._file_values())

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self.environ if name not in self.hidden)
        yield from (name for name in self._file_values() if name not in self.environ and name not in self.hidden)

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
        """The value of ``${scheme:reference}``; ConfigError, or SecretUnavailable for a provider that
        cannot give it now (naming neither value nor output), when it cannot be had. Each reference is
        resolved once: a failure is not tried again either."""
        key = (scheme, reference)
        memo = self._memo
        if key in memo.values:
            return memo.values[key]
        if key in memo.failures:
            failed = memo.failures[key]
            raise type(failed)(failed.one_line())
        from runner.secrets.registry import resolve

        try:
            value = resolve(self, memo.providers, scheme, reference)
        except (ConfigError, SecretUnavailable) as exc:
            memo.failures[key] = exc
            raise
        memo.values[key] = value
        return value


def _default_scope(environ: Mapping[str, str]) -> Scope:
    return environ if isinstance(environ, Scope) else Scope(environ, Path.cwd())


class _Pass:
    """What one :func:`interpolate` call fills its strings with, and where it puts what it finds."""

    __slots__ = ("environ", "origins", "problems", "quote", "secrets", "tenant")

    def __init__(self, environ: Mapping[str, str], problems: list[str], secrets: set[str],
                 origins: dict[Place, set[str]] | None, tenant: Tenant | None,
                 quote: Callable[[str], str] | None) -> None:
        self.environ = environ
        self.problems = problems
        self.secrets = secrets
        self.origins = origins
        self.tenant = tenant
        self.quote = quote

    def text(self, value: str, where: str, place: Place) -> str:
        if "${" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return "${"
            found = self.reference(m, where, place)
            if found is None:  # not a reference: left as written, or a problem
                return self.not_a_reference(value, m.start(), where)
            return found if self.quote is None else self.quote(found)

        return _REF.sub(sub, value)

    def reference(self, m: re.Match[str], where: str, place: Place) -> str | None:
        """The value of the reference ``m``; "" after a problem; None when it is none of the forms."""
        tenant_ref, name, default, scheme = m.group(1), m.group(2), m.group(3), m.group(4)
        if tenant_ref is not None:
            from runner.tenants import lookup

            found = lookup(m.group(0), self.tenant, where, self.problems)
            return found if isinstance(found, str) else self.variable(m.group(0), *found, where, place)
        if name is not None:
            return self.variable(m.group(0), name, default, where, place)
        if scheme is not None:
            return self.provided(m.group(0), scheme, m.group(5), where, place)
        return None

    def inner(self, text: str, where: str) -> str:
        """A default's or a reference's text, its ``${tenant.x}`` filled (the tenant pass of old)."""
        if "${tenant." not in text:
            return text
        from runner.tenants import fill

        return fill(text, self.tenant, where, self.problems)  # type: ignore[no-any-return]

    def variable(self, text: str, name: str, default: str | None, where: str, place: Place) -> str:
        default = None if default is None else self.inner(default, where)
        if default is not None and "${" in default:  # ${A:-${B}}: read as default "${B", then a "}"
            self.problems.append(f"{where}: {text}: a reference cannot hold another (they do not nest)")
            return ""
        environ = self.environ
        if name in environ:
            found = environ[name]
            if found:
                self.secrets.add(found)
                if self.origins is not None:
                    self.origins.setdefault(place, set()).add(found)
            return found
        if default is not None:
            return default
        self.problems.append(f"{where}: environment variable {name} is not set")
        return ""

    def provided(self, text: str, scheme: str, reference: str, where: str, place: Place) -> str:
        reference = self.inner(reference, where)
        if "${" in reference:  # ${cmd:get ${file:x}}: the reference would end at the first }
            self.problems.append(f"{where}: {text}: a reference cannot hold another (they do not nest)")
            return ""
        try:
            found = _default_scope(self.environ).secret(scheme, reference)
        except ConfigError as exc:
            self.problems.append(f"{where}: {text}: {exc.one_line()}")
            return ""
        except SecretUnavailable as exc:
            self.problems.append(Unavailable(f"{where}: {text}: {exc.one_line()}"))
            return ""
        self.secrets.add(found)
        if self.origins is not None:
            self.origins.setdefault((PROVIDED, *place), set()).add(found)
        return found

    def not_a_reference(self, value: str, start: int, where: str) -> str:
        """``${`` at ``start`` of ``value`` that begins no reference: kept when written as ``${FILE:x}``
        (docs/secrets.md), else a problem quoting it (the text of sluice.yml, not a value)."""
        if _AS_WRITTEN.match(value, start):
            return "${"
        end = value.find("}", start)
        end = end + 1 if 0 <= end < start + 60 else min(start + 40, len(value))
        shown = value[start:end] + ("..." if end < len(value) and value[end - 1] != "}" else "")
        self.problems.append(f"{where}: {shown}: not a reference sluice knows ({_FORMS})")
        return ""


def interpolate(value: Any, environ: Mapping[str, str], where: str, problems: list[str], secrets: set[str],
                origins: dict[Place, set[str]] | None = None, place: Place = (), *,
                tenant: Tenant | None = None, quote: Callable[[str], str] | None = None) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` / ``${scheme:reference}`` / ``${tenant.x}`` in every string
    of ``value`` (``$${`` is a literal ``${``), in one pass. ``environ`` is best a :class:`Scope`
    (``Project.scope``); a plain mapping resolves provider references from the current directory, with
    no ``.env``. ``tenant`` fills ``${tenant.x}`` (None: such a reference is a problem); ``quote``, when
    given, is applied to every value a reference gives (a URL's user-info percent-encodes them).

    Every non-empty value taken from the environment goes into ``secrets``, and into ``origins``
    under the place (``place`` + keys and indexes) of the string it went into; every value of a
    provider goes into ``secrets`` and into ``origins`` under ``(PROVIDED, *place)``. A variable not
    set without a default, a reference that cannot be resolved, or a ``${`` that begins none of the
    forms, is a problem naming where and which reference (never a value); it is replaced by an empty
    string, which is never used. A provider unavailable now is an :class:`Unavailable` problem."""
    return _walk(value, _Pass(environ, problems, secrets, origins, tenant, quote), where, place)


def blank_references(text: str) -> str:
    """``text`` with each reference (and ``$${``) turned into as many blanks: only the text as written is left."""
    return _REF.sub(lambda m: " " * len(m.group(0)), text) if "${" in text else text


def _walk(value: Any, run: _Pass, where: str, place: Place) -> Any:
    if isinstance(value, str):
        return run.text(value, where, place)
    if isinstance(value, dict):
        return {k: _walk(v, run, f"{where}.{k}", (*place, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, run, f"{where}[{i}]", (*place, i)) for i, v in enumerate(value)]
    return value


def project_scope(directory: Path, has_file: bool, timeout: float | None) -> Scope:
    """The scope of a project in ``directory`` over the process environment: ``.env`` beside its
    project file (none without one)."""
    return Scope(os.environ, directory, dotenv=directory / ".env" if has_file else None,
                 timeout=DEFAULT_SECRET_TIMEOUT if timeout is None else timeout)

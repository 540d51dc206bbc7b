"""StreamMaps: singer-sdk's stream maps, decided per stream when its SCHEMA arrives.

    maps = StreamMaps.from_config(config, program="tap-x")   # None: nothing to do
    for out in maps.schema(schema_message): writer.write_message(out)
    for stream, record in maps.record(stream, record, line): writer.write_record(stream, record)

For each input stream the outputs are resolved as the SDK resolves them: the stream itself (kept,
mapped, or dropped by ``null`` or a top-level ``__else__: null``), renamed by ``__alias__``, plus one
copy per entry whose ``__source__`` names it; an entry's key may be an fnmatch pattern. When several
entries name one stream (``users`` and ``*``), the last one in ``stream_maps`` is its map, as in the
SDK: the others are still checked against its SCHEMA (an invalid one fails the run, as in the SDK)
and a WARNING names them all. Each output holds its compiled expressions, its schema and, with
flattening, its flattener.

One output stream, one schema: outputs of different input streams (``events_*`` aliased to
``events``, a ``__source__`` copy named like another input stream) may share a name only with the
same mapped schema and key properties (sharded tables, merged; an INFO line says so). Otherwise a
target would shape the stream by whichever SCHEMA came last and lose the other's columns, so the
SCHEMA that makes the second one is a config error naming both (singer-sdk merges them silently).
A SCHEMA sent again for an input stream replaces its outputs' schemas. An ACTIVATE_VERSION for a
merged output is a config error too: the target would delete the other streams' rows.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from protocol._errors import ConfigError, ProtocolError
from protocol._messages import SchemaMessage
from protocol.maps._expr import compile_expression
from protocol.maps._output import Output, build_output
from protocol.maps._spec import MapsConfig, MapSpec, parse_config

__all__ = ["StreamMaps"]

log = logging.getLogger("sluice.maps")


class _Match(NamedTuple):
    """An entry of ``stream_maps`` that names a stream: the output it makes of it."""

    key: str  # the entry's key in stream_maps
    alias: str  # the output stream's name
    spec: MapSpec | None  # None: the stream as it is (or dropped)
    primary: bool  # the stream's own output (False: a __source__ copy)
    drop: bool  # no output


class _Claim(NamedTuple):
    """An output stream as one output of an input stream writes it."""

    stream: str  # the input stream
    key: str  # the stream_maps entry that makes the output ("": none names the stream)
    copy: bool  # a __source__ copy (else the input stream's own output)
    schema: dict[str, Any]
    keys: list[str]

    def label(self) -> str:
        entry = f" (stream_maps entry '{self.key}')" if self.key and self.key != self.stream else ""
        return f"{'the __source__ copy of ' if self.copy else ''}input stream '{self.stream}'{entry}"

    def short(self) -> str:
        return f"{'the copy of ' if self.copy else ''}'{self.stream}'"


class _Owners:
    """The outputs that write each output stream name: all with one schema and key properties."""

    def __init__(self) -> None:
        self._held: dict[str, list[_Claim]] = {}  # output name -> the outputs writing it
        self._names: dict[str, list[str]] = {}  # input stream -> the output names it writes
        self._told: set[tuple[str, str]] = set()  # (output name, output) of the merges logged

    def claim(self, stream: str, outputs: list[tuple[str, _Claim]], problems: list[str]) -> None:
        """The outputs (name, claim) of a SCHEMA of ``stream``, replacing those of its last SCHEMA:
        a problem for each that another output writes with another schema or other key properties;
        nothing is kept when there is one."""
        touched = {name for name, _ in outputs}.union(self._names.get(stream, ()))
        held = {name: self.others(stream, name) for name in touched}
        found: list[str] = []
        for name, claim in outputs:
            others = held[name]
            if others and (others[0].schema != claim.schema or others[0].keys != claim.keys):
                found.append(_collision(name, others[0], claim))
            elif others and (name, claim.label()) not in self._told:
                self._told.update({(name, others[0].label()), (name, claim.label())})
                log.info("output stream '%s': %s and %s map to it with the same schema and key properties: "
                         "their records are merged into it", name, others[0].label(), claim.label())
            others.append(claim)
        problems.extend(found)
        if problems:
            return
        for name, claims in held.items():
            if claims:
                self._held[name] = claims
            else:
                self._held.pop(name, None)
        self._names[stream] = [name for name, _ in outputs]

    def others(self, stream: str, name: str) -> list[_Claim]:
        """The outputs of other input streams than ``stream`` that write the output stream ``name``."""
        return [claim for claim in self._held.get(name, []) if claim.stream != stream]


def _collision(name: str, first: _Claim, second: _Claim) -> str:
    pa, pb = first.schema.get("properties") or {}, second.schema.get("properties") or {}
    parts = [f"columns only in {claim.short()} {only}" for claim, only in (
        (first, [p for p in pa if p not in pb]), (second, [p for p in pb if p not in pa])) if only]
    retyped = [p for p in pa if p in pb and pa[p] != pb[p]]
    if retyped:
        parts.append(f"other types of {retyped}")
    if first.keys != second.keys:
        parts.append(f"key properties {first.keys} and {second.keys}")
    return (f"output stream '{name}': {first.label()} and {second.label()} both map to it, with different "
            f"schemas ({', '.join(parts) or 'other schema keywords'}); a target shapes a stream by the last "
            "SCHEMA it gets, so the other's columns would be lost: give each its own output name (its own "
            "__alias__, or another key for a __source__ copy), or map both to the same schema and key "
            "properties to merge them")


class StreamMaps:
    """Stream maps and flattening for one program (see the module docstring)."""

    def __init__(self, settings: MapsConfig, *, program: str, decoded: bool = True) -> None:
        self._settings = settings
        self._program = program
        self._decoded = decoded  # False in a tap: its records are its own values, not decoded JSON text
        self._outputs: dict[str, list[Output]] = {}
        self._warned: set[str] = set()  # the streams several entries name, warned of once
        self._owners = _Owners()  # which outputs write each output stream name
        #: the input streams whose records are read with their decimals as written (an output may write
        #: one as text: protocol/maps/_exactness.py); a reader shares this set (see :meth:`schema`)
        self.exact_streams: set[str] = set()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, program: str, decoded: bool = True) -> StreamMaps | None:
        """None when nothing is asked for; ConfigError listing every problem of an invalid map.
        ``decoded``: the records come decoded from JSON text (a target, a mapper), so a decimal an
        output writes as text needs them read exactly (:attr:`exact_streams`); a tap's do not."""
        settings = parse_config(config, program=program)
        return cls(settings, program=program, decoded=decoded) if settings.active else None

    def schema(self, msg: SchemaMessage) -> list[SchemaMessage]:
        """The SCHEMA messages for one incoming SCHEMA ([] when the stream is dropped)."""
        outputs: list[Output] = []
        problems: list[str] = []
        matches = self._resolve(msg.stream)
        primary = [m for m in matches if m.primary]
        if len(primary) > 1:
            self._replaced(msg, primary, problems)
        own = primary[-1] if primary else _Match("", msg.stream, None, True, self._settings.drop_others)
        claims: list[tuple[str, _Claim]] = []
        for match in [own, *(m for m in matches if not m.primary)]:
            if match.drop:
                outputs.append(Output.dropped(match.alias))
                continue
            out = self._output(msg, match.alias, match.spec, problems)
            outputs.append(out)
            if not out.drop:
                claims.append((out.name, _Claim(msg.stream, match.key, not match.primary, out.schema,
                                                out.key_properties)))
        self._owners.claim(msg.stream, claims, problems)
        if problems:
            raise ConfigError(f"{self._program}: invalid stream maps for stream '{msg.stream}'", problems)
        self._outputs[msg.stream] = outputs
        if any(out.exact for out in outputs if not out.drop):
            self.exact_streams.add(msg.stream)
        else:
            self.exact_streams.discard(msg.stream)
        return [out.schema_message(msg.bookmark_properties) for out in outputs if not out.drop]

    def _replaced(self, msg: SchemaMessage, primary: list[_Match], problems: list[str]) -> None:
        """Several entries name the stream: the last is its map (as in singer-sdk), a WARNING names
        them all (once per stream), and the ones it replaces are checked against the SCHEMA all the
        same (their problems are the run's, as in the SDK)."""
        keys = [repr(m.key) for m in primary]
        if msg.stream not in self._warned:
            self._warned.add(msg.stream)
            log.warning("stream '%s' matches the stream_maps entries %s; only the last, %s, applies (as in "
                        "singer-sdk) and the others are ignored for it: merge them into the last one, or narrow "
                        "the patterns so that one entry matches", msg.stream, " and ".join(keys), keys[-1])
        for hidden in primary[:-1]:
            if hidden.spec is not None:
                found: list[str] = []
                self._output(msg, hidden.alias, hidden.spec, found)
                problems.extend(f"stream_maps.{hidden.key}: {problem}" for problem in found)

    def _output(self, msg: SchemaMessage, alias: str, spec: MapSpec | None, problems: list[str]) -> Output:
        depth = self._settings.flatten_depth
        try:
            return build_output(msg, alias, spec, depth, self._compile(msg.stream, alias), problems,
                                decoded=self._decoded)
        except ValueError as exc:  # flattening gave one column name twice
            problems.append(f"stream '{alias}': {exc}")
            return Output.dropped(alias)

    def _compile(self, stream: str, alias: str) -> Any:
        names = {"__stream_name__": alias, "__original_stream_name__": stream}
        config = self._settings.map_config

        def compile_one(text: str, prop: str | None) -> Any:
            return compile_expression(text, prop=prop, config=config, names=names)
        return compile_one

    def _resolve(self, stream: str) -> list[_Match]:
        """The entries of ``stream_maps`` that name ``stream``, in their order: each primary one
        replaces the one before it (the last is the stream's map), each ``__source__`` one adds a copy."""
        matches = []
        for entry in self._settings.entries:
            spec = entry.spec
            source = alias = entry.key
            primary = True
            if spec is not None and spec.source is not None:
                source, primary = spec.source, False
            if stream != source and not fnmatch.fnmatch(stream, source):
                continue
            if primary and spec is not None and spec.alias is not None:
                alias = _alias(spec.alias, stream)
            if stream != source and alias == source:
                alias = stream
            matches.append(_Match(entry.key, alias, spec, primary, spec is None))
        return matches

    def record(self, stream: str, record: dict[str, Any], line: int | None = None
               ) -> list[tuple[str, dict[str, Any]]]:
        """The (output stream, output record) pairs for one incoming record."""
        outputs = self._outputs.get(stream)
        if outputs is None:
            raise ProtocolError(f"RECORD for stream '{stream}' before its SCHEMA", line=line, stream=stream)
        if len(outputs) == 1:
            out = outputs[0]
            if out.drop:
                return []
            mapped = out.apply(record, line)
            return [(out.name, mapped)] if mapped is not None else []
        pairs = []
        for out in outputs:
            if not out.drop:
                mapped = out.apply(record, line)
                if mapped is not None:
                    pairs.append((out.name, mapped))
        return pairs

    def plan(self, stream: str) -> list[tuple[str, Any]] | None:
        """(output name, ``apply(record, line)``) of each output of a stream whose SCHEMA was seen
        (None before it): what a hot loop calls instead of :meth:`record`."""
        outputs = self._outputs.get(stream)
        return None if outputs is None else [(out.name, out.apply) for out in outputs if not out.drop]

    def streams(self, stream: str) -> list[str]:
        """Output stream names of an input stream (ACTIVATE_VERSION fan-out). ConfigError for an output
        other input streams write too: the target would delete their rows, not of this version."""
        outputs = self._outputs.get(stream)
        if outputs is None:
            return [] if self._settings.drop_others and not self._named(stream) else [stream]
        names = [out.name for out in outputs if not out.drop]
        for name in names:
            others = self._owners.others(stream, name)
            if others:
                raise ConfigError(f"{self._program}: invalid stream maps for stream '{stream}'", [
                    f"ACTIVATE_VERSION of input stream '{stream}' for output stream '{name}', written by "
                    f"{' and '.join(o.label() for o in others)} too: a target would delete their rows (not of "
                    "this version); give each its own output name (its own __alias__) to replicate them with "
                    "versions"])
        return names

    def _named(self, stream: str) -> bool:
        return any(entry.key == stream or fnmatch.fnmatch(stream, entry.key) for entry in self._settings.entries)

    def output_schema(self, stream: str) -> list[dict[str, Any]]:
        """The schemas of a stream's outputs (for tests and --about)."""
        return [out.schema for out in self._outputs.get(stream, []) if not out.drop]


def _alias(text: str, stream: str) -> str:
    """An ``__alias__``: an expression of ``__stream_name__`` (``__stream_name__ + '_v2'``) when it
    evaluates to a name, else the name as written: text that is no expression, or one naming
    something other than the stream (the SDK falls back to the text on an undefined name). An
    expression that fails on this stream's name is a config error: falling back to its text would
    write every stream it fails on into one output stream."""
    try:
        evaluate = compile_expression(text, prop=None, config={}, names={"__stream_name__": stream})
    except ValueError:  # no expression (a syntax error, something refused): the name as written
        return text
    try:
        value = evaluate({})
    except NameError:
        return text
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise ConfigError(f"stream_maps: the __alias__ {text!r} fails for stream '{stream}': "
                          f"{type(exc).__name__}: {exc}") from exc
    return value if isinstance(value, str) and value else text


"""The pieces of `sluice import`: select and metadata as one metadata: block, references, secret names.

The block is checked against an oracle: Meltano's rules (``!*.*``, the select patterns' includes, then
their excludes, then the metadata extra) applied one by one to a catalog, each to every stream and
breadcrumb it matches (``fnmatch`` on the joined breadcrumb), the last one winning, written here in
plain Python. The block sluice import writes, laid over the same catalog by the runner's own
``apply_metadata``, must select exactly the same streams and properties.
"""

from __future__ import annotations

import copy
from fnmatch import fnmatch
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.catalog_metadata import apply_metadata, metadata_rules
from runner.meltano_select import metadata_block, select_rules
from runner.meltano_select import metadata_rules as meltano_metadata_rules
from runner.meltano_values import Refs, convert_refs, env_var_name, holds_password, is_secret_name

STREAMS = {"users": ["id", "email", "name"], "orders": ["id", "total", "email"], "order_items": ["id", "sku"]}
CATALOG = {"streams": [{"tap_stream_id": s, "stream": s, "metadata": [],
                        "schema": {"type": "object", "properties": {p: {"type": "string"} for p in props}}}
                       for s, props in STREAMS.items()]}


def _oracle(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Meltano's selection, rule by rule: (stream, "" or "properties.PROP") -> the last `selected` set."""
    rules: list[tuple[str, str, Any]] = []  # (stream glob, breadcrumb glob, selected)
    for group in (["!*.*"], patterns):
        includes, excludes = [], []
        for text in group:
            negated = text.startswith("!")
            stream, _, prop = text.lstrip("!").partition(".")
            out = excludes if negated else includes
            if not prop:
                out += [(stream, "", not negated), (stream, "properties.*", not negated)]
            else:
                if not negated or prop == "*":
                    out.append((stream, "", not negated))
                out.append((stream, f"properties.{prop}", not negated))
        rules += includes + excludes
    for stream, entry in metadata.items():
        for key, value in entry.items():
            if isinstance(value, dict):
                rules += [(stream, f"properties.{key}", v) for k, v in value.items() if k == "selected"]
            elif key == "selected":
                rules.append((stream, "", value))
    result: dict[tuple[str, str], Any] = {}
    for name, props in STREAMS.items():
        for crumb in ["", *(f"properties.{p}" for p in props)]:
            for glob, crumb_glob, value in rules:
                if fnmatch(name, glob) and fnmatch(crumb, crumb_glob):
                    result[(name, crumb)] = value
    return result


def _sluice(block: dict[str, Any]) -> dict[tuple[str, str], Any]:
    catalog, _ = apply_metadata(copy.deepcopy(CATALOG), metadata_rules(block), "connector 'tap-x'")
    out: dict[tuple[str, str], Any] = {}
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if "selected" in entry["metadata"]:
                out[(stream["tap_stream_id"], ".".join(entry["breadcrumb"]))] = entry["metadata"]["selected"]
    return out


def _convert(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> dict[str, Any]:
    block, _ = metadata_block(select_rules(patterns) + meltano_metadata_rules(metadata))
    return block


@pytest.mark.parametrize("patterns, metadata", [
    (["*.*"], {}),
    (["users.*", "orders", "!users.email", "!orders.e*"], {}),
    (["users.id", "users.name"], {}),
    (["*.*", "!order_items", "!*.email"], {}),
    # an include of a glob after a stream's entry, then an exclude of that stream: order must hold
    (["users.*", "u*.email", "!users.email"], {}),
    (["users.*", "orders.*"], {"users": {"email": {"selected": False}}, "u*": {"selected": False},
                                "users_": {"selected": True}}),
])
def test_the_block_selects_what_meltano_selects(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> None:
    assert _sluice(_convert(patterns, metadata)) == _oracle(patterns, metadata)


def test_a_rule_that_must_come_after_a_later_entry_gets_an_equivalent_glob() -> None:
    patterns = ["users.*", "*.email"]
    metadata = {"users": {"email": {"selected": False}}, "*": {"email": {"selected": True}}}
    rules = select_rules(patterns) + meltano_metadata_rules(metadata)
    block, respelt = metadata_block(rules)
    # "*" first deselects all, "users" selects, "*.email" selects, then the metadata's users.email (false)
    # and *.email (true) must come after the include of *.email: new entries, spelt differently
    assert respelt and all(" as " in r for r in respelt)
    assert _sluice(block) == _oracle(patterns, metadata)


_PATTERN = st.builds(
    lambda neg, stream, prop: ("!" if neg else "") + stream + (f".{prop}" if prop else ""),
    st.booleans(), st.sampled_from(["users", "orders", "order*", "*", "u*", "order_items"]),
    st.sampled_from(["", "*", "id", "email", "e*", "name", "sku"]))
_META = st.dictionaries(
    st.sampled_from(["users", "orders", "*", "o*"]),
    st.dictionaries(st.sampled_from(["selected", "id", "email", "*"]), st.booleans(), max_size=3).map(
        lambda d: {k: (v if k == "selected" else {"selected": v}) for k, v in d.items()}),
    max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PATTERN, max_size=6), _META)
def test_any_select_and_metadata_convert_exactly(patterns: list[str], metadata: dict[str, dict[str, Any]]) -> None:
    assert _sluice(_convert(patterns, metadata)) == _oracle(patterns, metadata)


@pytest.mark.parametrize("text, expected", [
    ("$PG_HOST", "${PG_HOST}"),
    ("${pg_host}/x", "${pg_host}/x"),
    ("postgresql://u@$HOST:${PORT}/db", "postgresql://u@${HOST}:${PORT}/db"),
    ("$lower stays", "$lower stays"),  # Meltano expands $UPPER only
    (r"\$ESCAPED and \${ALSO}", "$ESCAPED and $${ALSO}"),
    ("$MELTANO_PROJECT_ROOT/output", "./output"),
    ("$WITH_DEFAULT", "${WITH_DEFAULT:-d.internal}"),
    ("cost: $5", "cost: $5"),
])
def test_references(text: str, expected: str) -> None:
    refs = Refs({"WITH_DEFAULT": "d.internal"})
    assert convert_refs(text, refs, "x") == expected


@pytest.mark.parametrize("name", ["password", "db_password", "auth_token", "client_secret", "api_key", "apiKey",
                                  "private_key", "aws_secret_access_key", "credentials_json", "ssh.private_key",
                                  "refresh_token", "passphrase", "key"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["host", "user", "replication_key", "primary_key", "key_properties", "keys",
                                  "partition_key", "start_date", "role", "filter_schemas", "tokenizer_mode"])
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_passwords_inside_values() -> None:
    assert holds_password("postgresql://loader:s3cret@db:5432/x")
    assert holds_password("Server=db;Password=s3cret;")
    assert not holds_password("postgresql://loader:${PW}@db/x")
    assert not holds_password("postgresql://loader:$PW@db/x")
    assert not holds_password("postgresql://loader@db:5432/x")
    assert not holds_password("https://api.example.com:8443/v2")


def test_meltano_variable_names() -> None:
    name = env_var_name("tap-postgres--archive", "ssh_tunnel.private_key")
    assert name == "TAP_POSTGRES__ARCHIVE_SSH_TUNNEL_PRIVATE_KEY"

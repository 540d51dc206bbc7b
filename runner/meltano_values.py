"""Values of a Meltano project as sluice.yml writes them: ``$VAR`` references, and secrets kept out.

- A reference, ``$VAR`` (upper case) or ``${VAR}``, becomes ``${VAR}``; ``\\$`` (Meltano's escape)
  becomes a literal ``$`` (``$${`` before a brace). ``$MELTANO_PROJECT_ROOT`` becomes ``.``: sluice
  runs connectors in the project directory. A variable the project's ``env:`` defines gets that
  value as its default, ``${VAR:-value}``, so the shell's value still wins as in Meltano.
- A secret never reaches the file: a literal value of a setting declared ``kind: password`` or
  ``sensitive: true``, or named like a credential (``password``, ``token``, ``secret``, ``api_key``,
  ``private_key``, ``credentials``, ...), and any string holding a password (``scheme://user:pw@``,
  ``password=...``), is replaced by a reference to the variable Meltano reads that setting from:
  the plugin name and the setting, upper-cased, ``-`` and ``.`` as ``_`` (``TAP_PG_PASSWORD``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Refs", "convert_refs", "env_var_name", "holds_password", "is_secret_name", "literal_part"]

# Meltano's own syntax: an optional backslash escape, then ${word} or $UPPER_CASE
_MELTANO_REF = re.compile(r"(?P<escape>\\)?\$(?:\{(?P<curly>\w+)\}|(?P<normal>[A-Z][A-Z0-9_]*))")
_SECRET_WORDS = {"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "credential",
                 "credentials", "apikey", "privatekey", "secretkey", "sas", "jwt"}
# "<word>_key" is a column or a setting, not a secret, after these words
_KEY_QUALIFIERS = {"replication", "primary", "partition", "sort", "foreign", "unique", "cluster", "clustering",
                   "dedup", "dedupe", "merge", "natural", "business", "surrogate", "shard", "hash", "row", "range",
                   "distribution", "dist", "bookmark", "join", "lookup", "group", "order", "state", "s3", "object"}
_KEY_FOLLOWERS = {"properties", "property", "column", "columns", "field", "fields", "name", "names", "path"}
_URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<pw>[^@\s/]+)@")
_PARAM_PASSWORD = re.compile(r"(?i)\b(?:password|pwd|passwd)\s*=\s*(?P<pw>[^;&\s]+)")


def env_var_name(plugin: str, setting: str) -> str:
    """The variable Meltano reads a plugin's setting from: ``tap-pg`` + ``ssh.password`` → ``TAP_PG_SSH_PASSWORD``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{plugin}_{setting}").upper()


def is_secret_name(name: str) -> bool:
    """Whether a setting (or variable) name says it holds a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    for i, word in enumerate(words):
        if word in ("key", "keyfile"):
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            if before not in _KEY_QUALIFIERS and after not in _KEY_FOLLOWERS:
                return True
    return False


def holds_password(text: str) -> bool:
    """Whether a string carries a literal password (in a URL's user part, or ``password=...``)."""
    for pattern in (_URL_PASSWORD, _PARAM_PASSWORD):
        for match in pattern.finditer(text):
            if not _MELTANO_REF.fullmatch(match.group("pw")) and not match.group("pw").startswith("${"):
                return True
    return False


def literal_part(text: str) -> str:
    """What is left of a string once its references are taken out."""
    return _MELTANO_REF.sub("", text).strip()


@dataclass
class Refs:
    """The references met while converting: variable names, and the defaults given to them."""

    defaults: Mapping[str, str]  # variables the project's env: defines (non-secret values)
    used: dict[str, str] = field(default_factory=dict)  # variable -> where it is used first
    meltano: set[str] = field(default_factory=set)  # MELTANO_* variables sluice does not set
    escaped_before_ref: list[str] = field(default_factory=list)


def convert_refs(text: str, refs: Refs, where: str) -> str:
    """A Meltano string with its references in sluice's ``${VAR}`` form."""
    out: list[str] = []
    last = 0
    for match in _MELTANO_REF.finditer(text):
        literal = text[last:match.start()]
        out.append(literal.replace("${", "$${"))
        last = match.end()
        name = match.group("curly") or match.group("normal")
        if match.group("escape"):
            out.append("$${" + name + "}" if match.group("curly") else "$" + name)
            continue
        if literal.endswith("$"):
            refs.escaped_before_ref.append(where)  # "$" then "${X}" would read as "$${": sluice cannot say it
        if name == "MELTANO_PROJECT_ROOT":
            out.append(".")
            continue
        refs.used.setdefault(name, where)
        if name.startswith("MELTANO_"):
            refs.meltano.add(name)
        default = refs.defaults.get(name)
        out.append(f"${{{name}:-{default}}}" if default is not None else f"${{{name}}}")
    out.append(text[last:].replace("${", "$${"))
    return "".join(out)

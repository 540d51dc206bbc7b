"""Values of a Meltano project as sluice.yml writes them: ``$VAR`` references, and secrets kept out.

- A reference, ``$VAR`` (upper case) or ``${VAR}``, becomes ``${VAR}``; ``\\$`` (Meltano's escape)
  becomes a literal ``$`` (``$${`` before a brace). ``$MELTANO_PROJECT_ROOT`` becomes ``.``: sluice
  runs connectors in the project directory. A variable the project's ``env:`` defines gets that
  value as its default, ``${VAR:-value}``, so the shell's value still wins as in Meltano; never
  where the reference stands for a secret (``secret=True``): there it stays a bare ``${VAR}``.
- A secret never reaches the file: a literal value of a setting declared ``kind: password`` or
  ``sensitive: true``, or named like a credential (``password``, ``token``, ``secret``, ``api_key``,
  ``private_key``, ``credentials``, ``auth``, ``bearer``, ...; in one word too: ``PGPASSWORD``), and
  any string that holds a credential (``scheme://user:pw@``, ``password=...``, ``Bearer ...``, a
  private key, a token of a well-known form), is replaced by a reference to the variable Meltano reads
  that setting from: the plugin name and the setting, upper-cased, ``-`` and ``.`` as ``_``
  (``TAP_PG_PASSWORD``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Refs", "convert_refs", "env_var_name", "holds_credential", "holds_password", "is_secret_name",
           "literal_part"]

# Meltano's own syntax: an optional backslash escape, then ${word} or $UPPER_CASE
_MELTANO_REF = re.compile(r"(?P<escape>\\)?\$(?:\{(?P<curly>\w+)\}|(?P<normal>[A-Z][A-Z0-9_]*))")
_SECRET_WORDS = {"password", "passwd", "pwd", "pw", "pass", "passphrase", "secret", "token", "credential",
                 "credentials", "apikey", "privatekey", "secretkey", "sas", "jwt", "bearer", "cookie"}
# a word that ends with one of these is a credential too, written as one word: PGPASSWORD, GHTOKEN, APIKEY
_SECRET_ENDINGS = ("password", "passwd", "passphrase", "secret", "secrets", "token", "tokens", "credential",
                   "credentials", "bearer")
# "<word>key" in one word, for these words: a key that is a credential (APIKEY, SSHKEY), not SORTKEY
_KEY_KINDS = ("api", "private", "priv", "secret", "access", "auth", "ssh", "signing", "encryption", "master",
              "client", "account", "storage", "app", "license", "hmac", "service", "session", "consumer",
              "shared", "pgp", "gpg", "rsa", "aws", "gcp", "azure")
# the last word of a setting that holds a credential for a service: auth, Authorization, basic_auth
_AUTH_WORDS = ("auth", "authorization", "authentication")
# "<word>_key" is a column or a setting, not a secret, after these words
_KEY_QUALIFIERS = {"replication", "primary", "partition", "sort", "foreign", "unique", "cluster", "clustering",
                   "dedup", "dedupe", "merge", "natural", "business", "surrogate", "shard", "hash", "row", "range",
                   "distribution", "dist", "bookmark", "join", "lookup", "group", "order", "state", "s3", "object"}
_KEY_FOLLOWERS = {"properties", "property", "column", "columns", "field", "fields", "name", "names", "path"}
_URL_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<pw>[^@\s/]+)@")
_PARAM_PASSWORD = re.compile(r"(?i)\b(?:password|pwd|passwd)\s*=\s*(?P<pw>[^;&\s]+)")
# a value that is a credential whatever its setting is called: an Authorization header's value (not one
# made of a reference), a private key, the tokens of services that give them a recognisable form
_CREDENTIAL_VALUE = re.compile(r"""(?x)
    ^\s*(?i:bearer|basic|token|digest|bot|sso-key)\s+(?![$\\])\S{4,}
    | -----BEGIN\ [A-Z0-9 ]*PRIVATE\ KEY-----
    | \b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{6,}
    | \bgh[pousr]_[A-Za-z0-9]{20,} | \bgithub_pat_[A-Za-z0-9_]{20,} | \bglpat-[A-Za-z0-9_-]{16,}
    | \bxox[abposr]-[A-Za-z0-9-]{10,} | \bAKIA[0-9A-Z]{16}\b
    | \beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.
""")


def env_var_name(plugin: str, setting: str) -> str:
    """The variable Meltano reads a plugin's setting from: ``tap-pg`` + ``ssh.password`` → ``TAP_PG_SSH_PASSWORD``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{plugin}_{setting}").upper()


def is_secret_name(name: str) -> bool:
    """Whether a setting (or variable) name says it holds a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()) if w]
    if any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words):
        return True
    if words and words[-1].endswith(_AUTH_WORDS):
        return True
    for i, word in enumerate(words):
        if word in ("key", "keyfile"):
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            if before not in _KEY_QUALIFIERS and after not in _KEY_FOLLOWERS:
                return True
        elif word.endswith("key") and word[:-3].endswith(_KEY_KINDS):
            return True
    return False


def holds_password(text: str) -> bool:
    """Whether a string carries a literal password (in a URL's user part, or ``password=...``)."""
    for pattern in (_URL_PASSWORD, _PARAM_PASSWORD):
        for match in pattern.finditer(text):
            if not _MELTANO_REF.fullmatch(match.group("pw")) and not match.group("pw").startswith("${"):
                return True
    return False


def holds_credential(text: str) -> bool:
    """Whether a string carries a literal credential: a password (:func:`holds_password`), an
    ``Authorization`` value (``Bearer ...``), a private key, a token of a recognisable form."""
    return holds_password(text) or bool(_CREDENTIAL_VALUE.search(text))


def literal_part(text: str) -> str:
    """What is left of a string once its references are taken out."""
    return _MELTANO_REF.sub("", text).strip()


@dataclass
class Refs:
    """The references met while converting: variable names, and the defaults given to them."""

    defaults: Mapping[str, str]  # variables the project's env: defines (non-secret values)
    used: dict[str, str] = field(default_factory=dict)  # variable -> where it is used first
    secret_used: dict[str, str] = field(default_factory=dict)  # variable -> where it stands for a secret
    meltano: set[str] = field(default_factory=set)  # MELTANO_* variables sluice does not set
    escaped_before_ref: list[str] = field(default_factory=list)


def convert_refs(text: str, refs: Refs, where: str, secret: bool = False) -> str:
    """A Meltano string with its references in sluice's ``${VAR}`` form; with ``secret``, never a
    ``${VAR:-default}`` (the default would be the secret's value)."""
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
        if secret:
            refs.secret_used.setdefault(name, where)
        if name.startswith("MELTANO_"):
            refs.meltano.add(name)
        default = None if secret else refs.defaults.get(name)
        out.append(f"${{{name}:-{default}}}" if default is not None else f"${{{name}}}")
    out.append(text[last:].replace("${", "$${"))
    return "".join(out)

"""BLAKE2b for the runner's cache keys and lock ids, without importing hashlib: hashlib loads OpenSSL
(about 5% of a ``sluice run``'s start-up) to offer algorithms these never use. ``_blake2`` is the
module hashlib takes its own ``blake2b`` from."""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it: hashlib's
    from hashlib import blake2b

__all__ = ["blake2b"]

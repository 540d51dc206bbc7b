"""md5() and sha256() in map expressions hash with CPython's own implementations (protocol.maps._limits):
their digests must be hashlib's (OpenSSL's), which singer-sdk's engine uses, for any string."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.maps._expr import compile_expression
from protocol.maps._limits import DIGESTS, md5, sha256


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))  # empty, non-ASCII, surrogate-free text; past 64 bytes: several blocks
def test_digests_are_hashlibs(text: str) -> None:
    data = text.encode()
    assert sha256(text) == hashlib.sha256(data).hexdigest()
    assert md5(text) == hashlib.md5(data).hexdigest()
    record = {"email": text}
    assert compile_expression("sha256(email)", prop="email", config={}, names={})(record) == \
        hashlib.sha256(data).hexdigest()
    assert compile_expression("md5(email)", prop="email", config={}, names={})(record) == hashlib.md5(data).hexdigest()


def test_known_answers() -> None:
    # FIPS 180-2 and RFC 1321 test vectors, independent of both implementations
    assert DIGESTS["sha256"](b"abc").hexdigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert DIGESTS["md5"](b"abc").hexdigest() == "900150983cd24fb0d6963f7d28e17f72"
    assert sha256("a" * 1000) == hashlib.sha256(b"a" * 1000).hexdigest()

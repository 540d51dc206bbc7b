"""The state store interface, on SQLite and on PostgreSQL (real server)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from runner.stores import PipelineLocked, StateStore, open_store
from runner.stores.postgres import lock_key, redact_url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = request.getfixturevalue("pg_dsn") if request.param == "postgres" else None
    with open_store(url, tmp_path) as s:
        yield s


def _url(store: StateStore, tmp_path: Path) -> str | None:
    return getattr(store, "url", None)


def test_states(store: StateStore) -> None:
    assert store.get_state("p") is None
    store.set_state("p", {"bookmarks": {"s": {"v": Decimal("12345678901234567.25")}}})
    store.set_state("q", {"bookmarks": {}})
    assert store.get_state("p") == {"bookmarks": {"s": {"v": Decimal("12345678901234567.25")}}}
    store.set_state("p", {"bookmarks": {"s": {"v": 2}}})
    assert store.get_state("p") == {"bookmarks": {"s": {"v": 2}}}
    assert [sid for sid, _ in store.list_states()] == ["p", "q"]
    assert store.clear_state("p") and not store.clear_state("p")
    assert store.get_state("p") is None


def test_generation_is_bumped_per_state_id(store: StateStore) -> None:
    assert store.generation("p") == 0
    assert [store.bump_generation("p"), store.bump_generation("p"), store.bump_generation("q")] == [1, 2, 1]
    assert (store.generation("p"), store.generation("q"), store.generation("r")) == (2, 1, 0)
    store.set_state("p", {"bookmarks": {}})  # storing a STATE echo is no reset
    assert store.generation("p") == 2


def test_run_history(store: StateStore) -> None:
    first = store.start_run("a", "a").id
    store.finish_run(first, "succeeded", 10, 9, None)
    second = store.start_run("a", "a").id
    other = store.start_run("b", "b").id
    store.finish_run(other, "failed", None, None, "tap 'x' failed: boom")
    runs = store.runs()
    assert [r.id for r in runs] == [other, second, first]
    assert runs[2].status == "succeeded" and runs[2].records_committed == 9 and runs[2].duration is not None
    assert [r.id for r in store.runs("a", limit=1)] == [second]
    assert {r.pipeline: r.id for r in store.last_runs()} == {"a": first, "b": other}
    assert store.abandon_stale_runs("a") == 1
    assert store.runs("a")[0].status == "abandoned"


def test_one_lock_per_pipeline(store: StateStore, tmp_path: Path) -> None:
    held = store.lock("p")
    assert held.alive()
    with open_store(_url(store, tmp_path), tmp_path) as other:
        assert other.try_lock("p") is None
        with pytest.raises(PipelineLocked, match=r"pipeline 'p' is already running \(held by pid \d+ on "):
            other.lock("p")
        q = other.try_lock("q")  # another pipeline is free
        assert q is not None
        q.release()
        held.release()
        again = other.try_lock("p")
        assert again is not None
        again.release()
    assert not held.alive()


def test_helpers() -> None:
    assert redact_url("postgresql://user:pa@ss@host/db") == "postgresql://user:***@host/db"
    assert redact_url("postgresql://host/db") == "postgresql://host/db"
    assert lock_key("a") != lock_key("b") and -(2**63) <= lock_key("a") < 2**63


def test_a_password_libpq_misreads_is_redacted_in_its_pieces() -> None:
    """Found by a probe: with an "@" in the password libpq read its tail as the host and said
    "failed to resolve host 'VerySecretPart1'": each piece of such a password is redacted too."""
    from runner.isolation import Redactor
    from runner.stores.urls import url_passwords

    url = "postgresql://postgres:Xy@VerySecretPart1:z/Other9@127.0.0.1:5432/db"
    redact = Redactor(url_passwords(url))
    assert redact("failed to resolve host 'VerySecretPart1'; dbname 'Other9@127.0.0.1:5432/db'") == (
        "failed to resolve host '********'; dbname '********@127.0.0.1:5432/db'")
    assert url_passwords("postgresql://u:pass:word@h/db") == {"pass:word"}  # read right: no pieces


def test_a_store_password_is_masked_in_every_form_libpq_takes(tmp_path: Path) -> None:
    """Found by a probe: ``?password=`` and key=value DSNs showed the password in connection errors,
    and an unknown store's message quoted the whole URL."""
    from protocol import ConfigError
    from runner.stores import open_store

    assert redact_url("postgresql://u@h/db?sslmode=require&password=StoreSecret9") == (
        "postgresql://u@h/db?sslmode=require&password=***")
    assert redact_url("host=h password=StoreSecret9 dbname=d") == "host=h password=*** dbname=d"
    assert redact_url("host=h PASSWORD = 'a b\\' c' dbname=d") == "host=h PASSWORD = *** dbname=d"
    with pytest.raises(ConfigError) as caught:
        open_store("postgresql+psycopg://u:StoreSecret9@h/d", tmp_path)
    assert "StoreSecret9" not in str(caught.value) and "u:***@h/d" in str(caught.value)

"""Fixtures of the SQL target tests: a destination per target kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sql.helpers import TARGETS, Dest, make_dest


@pytest.fixture(params=TARGETS)
def target_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dest_factory(target_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., Dest]:
    """make(**settings) -> a Dest of the parametrized kind (PostgreSQL: a fresh database)."""
    dsn = request.getfixturevalue("pg_dsn") if target_kind == "postgres" else None

    def make(**settings: Any) -> Dest:
        return make_dest(target_kind, tmp_path, dsn, **settings)
    return make


@pytest.fixture
def dest(dest_factory: Callable[..., Dest]) -> Dest:
    return dest_factory()

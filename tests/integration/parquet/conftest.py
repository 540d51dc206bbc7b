"""Every target-parquet test reads the files back with pyarrow and DuckDB (the dev extra)."""

from __future__ import annotations

import pytest

from tests.integration.parquet.support import need_readers


@pytest.fixture(autouse=True)
def _readers() -> None:
    need_readers()

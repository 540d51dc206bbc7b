"""The receiver's tests need the ``webhooks`` extra (Starlette, Uvicorn): skipped without it, except
under CI=true, where they fail (tests/conftest.py::service_unavailable)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import service_unavailable


@pytest.fixture(autouse=True)
def _webhooks_extra() -> None:
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        service_unavailable(f"the 'webhooks' extra is not installed ({', '.join(missing)}): "
                            "pip install -e '.[webhooks]'")

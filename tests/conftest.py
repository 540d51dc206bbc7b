"""Fixtures shared by every test package.

Services: a test that needs PostgreSQL asks for ``pg_dsn`` (a fresh database) or
``pg_server_dsn`` (the server). The server is ``SLUICE_TEST_PG`` when that is set, otherwise a
throwaway cluster this session starts from the installed server binaries with the settings the
tests need (tests/pgserver.py), so the tests do not depend on how the machine's own server is
configured. Without either the test is skipped with the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_GIVEN_DSN = os.environ.get("SLUICE_TEST_PG")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile the package before the tests start its programs thousands of times: where
    PYTHONDONTWRITEBYTECODE is set, no process writes a .pyc, and each would compile every module it
    imports again (a `sluice run` of the demo: 0.43 s without them, 0.39 s with them). Only missing
    or stale files are written."""
    import compileall

    for package in ("protocol", "taps", "targets", "runner"):
        compileall.compile_dir(ROOT / package, quiet=1)


@pytest.fixture(autouse=True)
def _switch_interval() -> Iterator[None]:
    """A connector opened in the test process may shorten the interpreter's switch interval
    (protocol/_threads.py) for the process; the next test starts with it as it was."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def exe(name: str) -> str:
    """Path of a console script installed beside the running interpreter."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"console script {name!r} is not installed; run: pip install -e '.[dev]'")
    return found


def sdk_target_streams() -> Path:
    import singer_sdk

    return Path(singer_sdk.__file__).parent / "testing" / "target_test_streams"


def service_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    try:
        import psycopg
    except ImportError:
        service_unavailable("psycopg is not installed")
    server = None
    if PG_GIVEN_DSN:
        dsn = PG_GIVEN_DSN
    else:
        from tests.pgserver import ThrowawayServer, find_server_bin

        bindir = find_server_bin()
        if bindir is None:
            service_unavailable("no PostgreSQL server binaries (initdb, pg_ctl) found and SLUICE_TEST_PG is not set")
        server = ThrowawayServer(bindir)
        try:
            dsn = server.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            server.stop()
            service_unavailable(f"cannot start a throwaway PostgreSQL from {bindir}: {exc}")
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        if server is not None:
            server.stop()
        service_unavailable(f"PostgreSQL is not reachable at {dsn}: {exc}")
    try:
        yield dsn
    finally:
        if server is not None:
            server.stop()


def pg_address(dsn: str) -> tuple[str, int]:
    """Host and port of a ``postgresql://`` DSN (for configs that take them apart)."""
    from urllib.parse import urlparse

    parsed = urlparse(dsn)
    return parsed.hostname or "127.0.0.1", parsed.port or 5432


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The runner's environment, once with the default SQLite store and once with a PostgreSQL one."""
    from tests.integration.runner.helpers import sluice_env

    if request.param == "postgres":
        return sluice_env(SLUICE_STATE_URL=request.getfixturevalue("pg_dsn"))
    return sluice_env()


@pytest.fixture
def pg_dsn(pg_server_dsn: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    import psycopg

    name = f"sluice_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = pg_server_dsn.rsplit("/", 1)[0] + f"/{name}"
    yield dsn
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def run(args: list[str], *, input: bytes | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run a command, capturing stdout and stderr apart."""
    return subprocess.run(args, input=input, capture_output=True, cwd=cwd, env=env, timeout=timeout, check=False)


def validated_config(tmp_path: Path, connector: Any, text: str) -> dict[str, Any]:
    """``text`` as a config file, read and validated as the ``connector`` class reads its config."""
    from protocol._config import load_config

    path = tmp_path / "c.json"
    path.write_text(text)
    return load_config([str(path)], connector_name=connector.name, settings_schema=connector.settings_schema,
                       environ={})


def target_states(stdout: bytes) -> list[Any]:
    """The state values a target printed, in order; every stdout line must be one.

    A line is either a Singer STATE message (``{"type": "STATE", "value": ...}``) or the
    bare state value (the singer-python / Meltano target convention). Compare the whole
    list with what is expected: any stray stdout line shows up as an extra value.
    """
    import orjson

    values = []
    for raw in stdout.splitlines():
        obj = orjson.loads(raw)
        assert isinstance(obj, dict), f"stdout line is not a state object: {raw!r}"
        if obj.get("type") == "STATE" and "value" in obj:
            values.append(obj["value"])
        else:
            assert obj.get("type") not in ("RECORD", "SCHEMA", "ACTIVATE_VERSION", "BATCH"), raw
            values.append(obj)
    return values

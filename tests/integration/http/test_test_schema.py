"""``--test=schema`` checks the config and connects nowhere; ``--test`` (``--test=all``) also
checks the connection. Both refuse a bad config with exit 2. Run as real console scripts
against a loopback port nothing listens on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.http.tapio import tap


@pytest.fixture
def closed_url() -> Iterator[str]:
    """The URL of a loopback port that refuses connections (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def _configs(url: str) -> dict[str, dict[str, Any]]:
    fast = {"max_retries": 0, "connect_timeout": 2}
    return {
        "tap-rest": {"api_url": url, "streams": [{"name": "items", "path": "/items", "primary_keys": ["id"]}],
                     "auth_method": "bearer_token", "bearer_token": "tok-unreached", **fast},
        "tap-github": {"repositories": ["octo/hello"], "api_url": url, "auth_token": "tok-unreached", **fast},
    }


@pytest.mark.parametrize("name", ["tap-rest", "tap-github"])
def test_schema_check_connects_nowhere_and_the_full_check_does(tmp_path: Path, closed_url: str, name: str) -> None:
    config = _configs(closed_url)[name]
    schema = tap(name, tmp_path, config, "--test=schema")
    assert schema.stdout == b""
    lines = schema.stderr.splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"| INFO     | sluice.cli | config is valid for {name}"), lines
    for flag in ("--test", "--test=all"):
        full = tap(name, tmp_path, config, flag, ok=False)
        assert full.code == 1, full.stderr
        assert len(full.errors) == 1 and "127.0.0.1" in full.errors[0] and "refused" in full.errors[0], full.stderr
        assert "config is valid" not in full.stderr


@pytest.mark.parametrize("name", ["tap-rest", "tap-github"])
def test_a_bad_config_fails_both_checks_with_exit_2(tmp_path: Path, closed_url: str, name: str) -> None:
    config = {**_configs(closed_url)[name], "max_retrys": 3}
    for flag in ("--test=schema", "--test"):
        bad = tap(name, tmp_path, {**config, "strict_settings": True}, flag, ok=False)
        assert bad.code == 2 and "unknown setting 'max_retrys' (did you mean 'max_retries'?)" in bad.stderr
        assert "config is valid" not in bad.stderr and "refused" not in bad.stderr
        wrong = tap(name, tmp_path, {**_configs(closed_url)[name], "timeout": "soon"}, flag, ok=False)
        assert wrong.code == 2 and "setting 'timeout'" in wrong.stderr


def test_the_schema_check_includes_the_connectors_own_config_checks(tmp_path: Path, closed_url: str) -> None:
    config = {**_configs(closed_url)["tap-rest"], "pagination": {"page_size": 50}}
    bad = tap("tap-rest", tmp_path, config, "--test=schema", ok=False)
    assert bad.code == 2 and "style 'none' does not read" in bad.stderr and "'page_size'" in bad.stderr

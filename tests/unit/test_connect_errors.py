"""A failure to connect leads with its cause (refused, name resolution), before the circuit breaker
and the retries (HTTP kit, tap-rest) or the libpq detail (tap-postgres, target-postgres): against a real refused
port on loopback and an unresolvable ``.invalid`` host."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol._errors import RetryableSourceError
from protocol.http import CircuitOpenError, HttpClient, HttpSettings, RetryPolicy
from tests.conftest import exe, run
from tests.integration.http.tapio import tap

UNRESOLVABLE = "api.example.invalid"  # .invalid never resolves (RFC 2606): fails locally, no network


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connection to it is refused (the port stays ours)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def unresolvable() -> str:
    try:
        socket.getaddrinfo(UNRESOLVABLE, 80)
    except socket.gaierror:
        return UNRESOLVABLE
    pytest.skip(f"{UNRESOLVABLE} resolves here (a DNS that answers every name)")


def _client(tries: int, breaker_failures: int = 100) -> HttpClient:
    return HttpClient(HttpSettings(retry=RetryPolicy(tries, 0.0, 0.0), breaker_failures=breaker_failures,
                                   breaker_cool_down=0.0))


def test_refused_connection_names_host_and_cause_then_the_attempts(refused_port: int) -> None:
    with _client(3) as c, pytest.raises(RetryableSourceError) as info:
        c.get_json(f"http://127.0.0.1:{refused_port}/items")
    assert str(info.value) == f"cannot reach 127.0.0.1:{refused_port}: connection refused; gave up after 3 attempts"


def test_unresolvable_host_names_the_resolution_failure(unresolvable: str) -> None:
    with _client(2) as c, pytest.raises(RetryableSourceError) as info:
        c.get_json(f"https://user:pw-secret@{unresolvable}/v1/items?token=abc")
    text = str(info.value)
    assert text.startswith(f"cannot reach {unresolvable}: name resolution failed (")
    assert text.endswith("); gave up after 2 attempts")
    assert "pw-secret" not in text


def test_an_open_circuit_still_leads_with_the_cause(refused_port: int) -> None:
    with HttpClient(HttpSettings(retry=RetryPolicy(1), breaker_failures=2, breaker_cool_down=60.0)) as c:
        for _ in range(2):
            with pytest.raises(RetryableSourceError, match=r"connection refused$"):
                c.get_json(f"http://127.0.0.1:{refused_port}/items")
        with pytest.raises(CircuitOpenError) as info:
            c.get_json(f"http://127.0.0.1:{refused_port}/items")
    assert str(info.value).startswith(f"cannot reach 127.0.0.1:{refused_port}: connection refused; "
                                      f"circuit open for 127.0.0.1:{refused_port} after 2 consecutive failures")


def test_retries_ending_on_an_open_circuit_report_the_cause_not_the_circuit(refused_port: int) -> None:
    with _client(3, breaker_failures=2) as c, pytest.raises(CircuitOpenError) as info:
        c.breakers.for_host(f"127.0.0.1:{refused_port}").cool_down = 60.0
        c.get_json(f"http://127.0.0.1:{refused_port}/items")
    text = str(info.value)
    assert text.startswith(f"cannot reach 127.0.0.1:{refused_port}: connection refused; circuit open for ")
    assert text.endswith("after 2 consecutive failures; gave up after 3 attempts")  # no "next try in"


def test_tap_rest_says_why_it_cannot_reach_the_api(tmp_path: Path, refused_port: int, unresolvable: str) -> None:
    for host in (f"127.0.0.1:{refused_port}", unresolvable):
        config = {"api_url": f"http://{host}/api", "streams": [{"name": "items", "path": "/items"}],
                  "max_retries": 2, "backoff_base": 0, "breaker_cool_down": 0}
        result = tap("tap-rest", tmp_path, config, ok=False)
        assert result.code == 1
        assert len(result.errors) == 1, result.stderr
        assert f"cannot reach {host}: " in result.errors[0]
        assert result.errors[0].endswith("; gave up after 3 attempts"), result.errors[0]
        assert ("connection refused;" if host != unresolvable else "name resolution failed (") in result.errors[0]


@pytest.mark.parametrize(("connector", "flag", "says"), [("tap-postgres", "--discover", "cannot reach"),
                                                       ("tap-postgres", "--test", "cannot reach"),
                                                       ("target-postgres", "--test", "cannot connect to")])
def test_postgres_connectors_say_why_they_cannot_reach_the_server(tmp_path: Path, refused_port: int,
                                                                  unresolvable: str, connector: str, flag: str,
                                                                  says: str) -> None:
    """The causes are read by the kit (protocol.pg.unreachable), each connector says them in its own error."""
    for host, port, cause in (("127.0.0.1", refused_port, "connection refused ("),
                              (unresolvable, 5432, "name resolution failed (")):
        config = tmp_path / "c.json"
        config.write_text(json.dumps({"host": host, "port": port, "user": "u", "password": "pw-secret",
                                      "database": "d"}))
        done = run([exe(connector), "--config", str(config), flag])
        assert done.returncode == 1 and done.stdout == b""
        errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
        assert len(errors) == 1, done.stderr
        assert errors[0].split(" | ")[-1].startswith(f"{says} PostgreSQL at {host}:{port}/d: {cause}"), errors
        assert "pw-secret" not in done.stderr.decode()

"""A secret provider from another distribution: a wheel built here (a tiny plugin, fixtures/secret_plugin/)
is installed with pip, and ``sluice`` finds its scheme through the entry point group
``sluice.secret_providers`` only when a reference uses it. The plugin talks to a key-value HTTP service on
loopback (a stand-in for HashiCorp Vault), started by the test."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from protocol import ExitCode
from tests.integration.runner.helpers import FIXTURES, fixture_connector, sluice, sluice_env

TOKEN = "kv-token-Hh3"
STORE = {"db/prod": {"password": "kv-Pw-Zr5", "user": "loader-Zr6"}, "db/empty": {"password": ""}}
PLUGIN = "sluice_kv_secrets"


def _wheel(out: Path) -> Path:
    """A wheel of the plugin: its module, metadata and entry point, as any build backend would write."""
    dist = f"{PLUGIN}-0.1.0.dist-info"
    files = {
        f"{PLUGIN}.py": (FIXTURES / "secret_plugin" / f"{PLUGIN}.py").read_bytes(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: sluice-kv-secrets\nVersion: 0.1.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: sluice-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": f"[sluice.secret_providers]\nkv = {PLUGIN}:KvProvider\n".encode(),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = out / f"{PLUGIN}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory the plugin's distribution is installed into by pip (put on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("plugin")
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(site), str(_wheel(root))], check=True)
    assert (site / f"{PLUGIN}-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


class _Kv(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        path = self.path.removeprefix("/v1/")
        if self.headers.get("X-Token") != TOKEN:
            self.send_response(403)
            self.end_headers()
            return
        if path not in STORE:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(STORE[path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def kv_addr() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Kv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _project(root: Path, tap: dict[str, object], **extra: object) -> None:
    project = {
        "connectors": [fixture_connector("tap-fix", "fixture_tap.py", {"records": 3, **tap}, **extra),
                       fixture_connector("target-fix", "fixture_target.py", {"path": "out.jsonl"})],
        "pipelines": [{"name": "demo", "tap": "tap-fix", "target": "target-fix"}],
    }
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (root / ".env").write_text(f"KV_TOKEN={TOKEN}\n")  # the plugin reads its token through the scope


def test_a_plugin_scheme_resolves_through_the_installed_entry_point(tmp_path: Path, plugin_site: Path,
                                                                    kv_addr: str) -> None:
    dump = tmp_path / "env.json"
    _project(tmp_path, {"host": "${kv:db/prod#user}", "log_secret": "${kv:db/prod#password}",
                        "dump_env": str(dump)}, env={"DB_PASSWORD": "${kv:db/prod#password}"})
    env = sluice_env(PYTHONPATH=str(plugin_site), KV_ADDR=kv_addr)
    _Kv.seen.clear()
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(dump.read_text())["env"]["DB_PASSWORD"] == "kv-Pw-Zr5"
    assert "connecting with key ********" in done.stderr
    texts = [done.stdout, done.stderr, *(p.read_bytes().decode(errors="replace")
                                         for p in (tmp_path / ".sluice").rglob("*") if p.is_file())]
    assert not [t for t in texts if "Zr5" in t or "Zr6" in t or "Hh3" in t]
    assert _Kv.seen == ["/v1/db/prod", "/v1/db/prod"]  # one request per reference (#user, #password), not per use

    _project(tmp_path, {"host": "${kv:db/nope#password}", "api_key": "${kv:db/empty#password}",
                        "log_secret": "${kv:db/prod#missing}"})
    done = sluice(["validate"], tmp_path, env=env)
    assert done.returncode == ExitCode.USAGE
    for line in ("connectors[0].config.host: ${kv:db/nope#password}: no secret at db/nope (HTTP 404)",
                 "connectors[0].config.api_key: ${kv:db/empty#password}: the 'kv' provider gave an empty value",
                 "connectors[0].config.log_secret: ${kv:db/prod#missing}: the secret at db/prod has no field "
                 "'missing'"):
        assert line in done.stderr, done.stderr
    (tmp_path / ".env").write_text("KV_TOKEN=wrong\n")
    done = sluice(["validate"], tmp_path, env=env)
    assert "${kv:db/nope#password}: the service refused the token for db/nope (HTTP 403)" in done.stderr


def test_a_service_that_is_down_is_a_clear_error(tmp_path: Path, plugin_site: Path) -> None:
    _project(tmp_path, {"api_key": "${kv:db/prod#password}"})
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Kv)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there now
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(PYTHONPATH=str(plugin_site),
                                                           KV_ADDR=f"http://127.0.0.1:{port}"))
    assert done.returncode == ExitCode.FAILED  # an OSError: down now, a retry may find it up (not exit 2)
    assert "connectors[0].config.api_key: ${kv:db/prod#password}: the 'kv' provider failed: URLError" in done.stderr


def test_the_plugin_is_imported_only_for_its_scheme(tmp_path: Path, plugin_site: Path, kv_addr: str) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "pw").write_text("file-pw\n")
    env = sluice_env(PYTHONPATH=str(plugin_site), KV_ADDR=kv_addr, KV_PLUGIN_IMPORTED=str(marker), V="x")
    _project(tmp_path, {"host": "${V}", "api_key": "${file:pw}"})
    assert sluice(["run", "demo"], tmp_path, env=env).returncode == ExitCode.OK
    assert not marker.exists()
    _project(tmp_path, {"host": "${V}", "api_key": "${kv:db/prod#password}"})
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == ExitCode.OK, done.stderr
    assert marker.read_text() == "imported\n"
    _project(tmp_path, {"api_key": "${nosuch:x}"})
    done = sluice(["validate"], tmp_path, env=env)
    assert ("${nosuch:x}: no secret provider for the scheme 'nosuch' (known: cmd, file, kv; an installed "
            "distribution adds one through the entry point group sluice.secret_providers)") in done.stderr

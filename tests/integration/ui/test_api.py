"""The dashboard's JSON API over a store of real runs from two hosts: every endpoint against the
runs as `sluice runs` lists them, the token off loopback, and no secret in any response."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from protocol import ConfigError
from tests.integration.runner.helpers import sluice, wait_for
from tests.integration.ui.conftest import ERROR_TEXT, ORDERS, XSS, Dashboard, start_ui, stop

SECURITY_HEADERS = {"content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"}


class Client:
    """Plain HTTP on loopback (no redirects followed); every response is scanned for the secrets."""

    def __init__(self, url: str, secrets: list[str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.secrets = secrets
        self.seen = 0

    def get(self, path: str, headers: dict[str, str] | None = None,
            method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            reply = conn.getresponse()
            body = reply.read()
            got = {k.lower(): v for k, v in reply.getheaders()}
        finally:
            conn.close()
        whole = body + json.dumps(got).encode()
        for secret in self.secrets:
            assert secret.encode() not in whole, f"{path}: a secret is in the response"
        assert SECURITY_HEADERS <= set(got), f"{path}: missing {SECURITY_HEADERS - set(got)}"
        self.seen += 1
        return reply.status, got, body

    def json(self, path: str, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        code, got, body = self.get(path, headers)
        assert code == status, (path, code, body[:500])
        assert got["content-type"] == "application/json"
        return json.loads(body)


def _oracle(board: Dashboard, pipeline: str) -> list[dict[str, Any]]:
    return [r for r in board.runs if r["pipeline"] == pipeline]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_every_endpoint(store: str, request: pytest.FixtureRequest) -> None:
    """Every endpoint over runs from two hosts, in a SQLite store and in a PostgreSQL one."""
    prefix = "" if store == "sqlite" else "pg_"
    dashboard: Dashboard = request.getfixturevalue(f"{prefix}dashboard")
    ui_url: str = request.getfixturevalue(f"{prefix}ui_url")
    api = Client(ui_url, dashboard.secrets)
    listed = api.json("/api/")["endpoints"]
    assert {p.split("?")[0] for p in listed} == {"/api/pipelines", "/api/runs", "/api/runs/ID",
                                                 "/api/runs/ID/progress", "/api/states", "/api/locks"}

    # pipelines: each one's last run as the runner recorded it, the schedule, who runs now
    pipes = {p["pipeline"]: p for p in api.json("/api/pipelines")["pipelines"]}
    assert set(pipes) == {"orders", "broken", "xss", "live", "shop@acme", "shop@globex"}
    assert [(pipes[n]["tenant"], pipes[n]["template"]) for n in ("shop@acme", "shop@globex")] == [
        ("acme", "shop"), ("globex", "shop")]
    assert pipes["shop@acme"]["last_run"]["host"] == "host-b" and pipes["shop@globex"]["last_run"] is None
    newest = _oracle(dashboard, "orders")[0]
    last = pipes["orders"]["last_run"]
    assert (last["id"], last["number"], last["host"], last["status"]) == (newest["id"], 3, "host-a", "succeeded")
    assert last["records_committed"] == newest["records_committed"] == ORDERS["orders"][2] + ORDERS["customers"][2]
    assert {s["stream"]: s["committed"] for s in last["streams"]} == {k: v[2] for k, v in ORDERS.items()}
    assert pipes["orders"]["schedule"] == "*/15 * * * *"
    assert pipes["orders"]["next_due"] is not None and pipes["orders"]["next_due"] > newest["started_at"]
    assert pipes["broken"]["last_run"]["status"] == "failed"
    assert ERROR_TEXT in pipes["broken"]["last_run"]["error"]
    assert pipes["orders"]["running"] is None
    assert pipes["live"]["running"]["host"] == "host-b"

    # a pipeline's runs: newest first, from both hosts, paged with before=
    runs = api.json("/api/runs?pipeline=orders")
    oracle = _oracle(dashboard, "orders")
    assert [(r["id"], r["host"], r["records_committed"]) for r in runs["runs"]] == [
        (r["id"], r["host"], r["records_committed"]) for r in oracle]
    assert [r["host"] for r in runs["runs"]] == ["host-a", "host-b", "host-a"]
    assert runs["next_before"] is None
    first = api.json("/api/runs?pipeline=orders&limit=2")
    assert [r["id"] for r in first["runs"]] == [r["id"] for r in oracle[:2]]
    assert first["next_before"] == oracle[1]["id"]  # run ids: the oldest shown
    rest = api.json(f"/api/runs?pipeline=orders&limit=2&before={first['next_before']}")
    assert [r["id"] for r in rest["runs"]] == [oracle[2]["id"]] and rest["next_before"] is None
    assert api.json(f"/api/runs?pipeline={quote('no such')}")["runs"] == []
    for bad in ("/api/runs", "/api/runs?pipeline=orders&limit=0", "/api/runs?pipeline=orders&before=x"):
        assert "error" in api.json(bad, 400)

    # one run: per-stream counts, the error line, the commands and the log tail, redacted
    for n, run in enumerate(reversed(oracle)):
        detail = api.json(f"/api/runs/{run['id']}")
        assert detail["run"]["number"] == n + 1 and detail["run"]["host"] == run["host"]
        assert {s["stream"]: (s["emitted"], s["committed"]) for s in detail["streams"]} == {
            k: (v[n], v[n]) for k, v in ORDERS.items()}
        assert detail["commands"] and all(isinstance(a, list) and a for a in detail["commands"])
        assert any("ui_tap.py" in " ".join(argv) for argv in detail["commands"])
        assert any("connecting with api key" in line for line in detail["log_tail"])
    broken = api.json(f"/api/runs/{_oracle(dashboard, 'broken')[0]['id']}")
    assert ERROR_TEXT in broken["run"]["error"] and broken["run"]["status"] == "failed"
    assert any(ERROR_TEXT in line for line in broken["log_tail"])
    assert [s["emitted"] for s in broken["streams"]] == [9]
    ok = api.json(f"/api/runs/{_oracle(dashboard, 'broken')[1]['id']}")
    assert (ok["run"]["status"], ok["run"]["error"], [s["emitted"] for s in ok["streams"]]) == ("succeeded", None, [12])
    xss = api.json(f"/api/runs/{_oracle(dashboard, 'xss')[0]['id']}")
    assert {s["stream"] for s in xss["streams"]} == {XSS, "plain"}
    assert "error" in api.json("/api/runs/999999", 404)

    # live progress of the running run moves as its tap emits
    live_id = dashboard.live_run()["id"]
    assert api.json(f"/api/runs/{live_id}")["run"]["status"] == "running"
    dashboard.push("events", 40)
    dashboard.push("clicks", 9)

    def caught_up() -> bool:
        got = api.json(f"/api/runs/{live_id}/progress")
        return {s["stream"]: s["records"] for s in got["streams"]} == dashboard.fed

    wait_for(caught_up, 20, "the live progress to reach what the tap emitted")
    progress = api.json(f"/api/runs/{live_id}/progress")
    assert progress["status"] == "running"
    assert all(s["updated_at"] <= time.time() + 1 for s in progress["streams"])

    # state and locks
    states = {s["state_id"]: s for s in api.json("/api/states")["states"]}
    for pipeline in ("orders", "xss"):
        stored = json.loads(sluice(["state", "get", pipeline], dashboard.root, env=dashboard.env).stdout)
        assert states[pipeline]["value"] == stored
    locks = api.json("/api/locks")["locks"]
    assert [(lock["pipeline"], lock["host"], lock["run_id"]) for lock in locks] == [("live", "host-b", live_id)]

    # read-only
    code, got, _ = api.get("/api/pipelines", method="POST")
    assert code == 405 and got["allow"] == "GET, HEAD"


def test_pages_answer_with_headers_and_no_secret(dashboard: Dashboard, ui_url: str) -> None:
    web = Client(ui_url, dashboard.secrets)
    paths = ["/", "/state", *(f"/pipelines/{quote(p)}" for p in ("orders", "broken", "xss", "live")),
             *(f"/runs/{r['id']}" for r in dashboard.runs), "/static/app.js", "/static/app.css"]
    for path in paths:
        code, got, body = web.get(path)
        assert code == 200, path
        assert "'unsafe-inline'" not in got["content-security-policy"]
        assert "frame-ancestors 'none'" in got["content-security-policy"]
        assert got["x-content-type-options"] == "nosniff"
        assert XSS.encode() not in body  # escaped wherever it appears
    assert web.get("/pipelines/nothing-here")[0] == 404
    newest = next(r["id"] for r in dashboard.runs if r["pipeline"] == "orders")
    older = web.get(f"/pipelines/orders?before={newest}")[2].decode()  # the history's pages go by run id
    assert older.count('<tr data-run="') == 2 and 'data-status="succeeded"' in older
    # a page asked for under another name (DNS rebinding) is refused without a token
    assert web.get("/api/pipelines", {"Host": "evil.example:8765"})[0] == 421


def test_token_required_off_loopback(dashboard: Dashboard) -> None:
    refused = sluice(["ui", "--host", "0.0.0.0", "--port", "1"], dashboard.root, env=dashboard.env, timeout=60)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "SLUICE_UI_TOKEN" in refused.stderr

    token = f"tok-{time.time_ns()}-x"
    proc, url = start_ui(dashboard.root, {**dashboard.env, "SLUICE_UI_TOKEN": token}, "--host", "0.0.0.0")
    try:
        web = Client(url, [*dashboard.secrets, token])
        for path in ("/", "/api/pipelines", "/api/locks", f"/runs/{dashboard.runs[0]['id']}", "/static/app.js"):
            assert web.get(path)[0] == 401, path
            assert web.get(path, {"Authorization": f"Bearer {token}x"})[0] == 401
            assert web.get(path, {"Authorization": f"Bearer {token[:-1]}"})[0] == 401
            assert web.get(path, {"Cookie": f"sluice_ui={token}"})[0] == 401  # the cookie is not the token
            assert web.get(path, {"Cookie": 'sluice_ui="\\x; other=\\'})[0] == 401  # unreadable: no login
            assert web.get(path, {"Authorization": f"Bearer {token}"})[0] == 200
        assert web.get(f"/api/states?token={token}0")[0] == 401
        code, got, _ = web.get(f"/pipelines/orders?limit=3&token={token}")
        assert code == 303 and got["location"] == "/pipelines/orders?limit=3"
        cookie = got["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        session = cookie.split(";")[0]
        assert web.get("/api/pipelines", {"Cookie": session})[0] == 200
        for other in ('prefs={"theme":"dark"}', "x=a b"):  # another localhost app's cookie, unreadable to SimpleCookie
            assert web.get("/api/pipelines", {"Cookie": f"{other}; {session}"})[0] == 200
        behind = web.get(f"/?token={token}", {"X-Forwarded-Proto": "https"})[1]["set-cookie"]
        assert "; Secure" in behind and "; Secure" not in cookie
        assert web.get(f"/api/runs/{2**63}")[0] == 401  # no token: nothing is read
        assert web.get(f"/api/runs/{2**63}", {"Authorization": f"Bearer {token}"})[0] == 404
        assert web.get(f"/runs/{10**20}", {"Authorization": f"Bearer {token}"})[0] == 404
        assert web.get(f"/api/runs/{2**64}/progress", {"Authorization": f"Bearer {token}"})[0] == 404
        assert web.get("//evil.example/?token=" + token)[1]["location"].startswith("/evil.example")
    finally:
        stop(proc)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_token(host: str, ui_extra: None) -> None:
    from runner.ui.app import require_token

    assert require_token(host, None) is None
    token = "t" * 16
    assert require_token("0.0.0.0", token) == token
    with pytest.raises(ConfigError, match="SLUICE_UI_TOKEN"):
        require_token("192.168.1.4", None)
    for weak in ("q", " " * 20, "short-token-15ch"[:15]):  # a short token is guessed one 401 at a time
        with pytest.raises(ConfigError, match="SLUICE_UI_TOKEN is too short"):
            require_token(host, weak)


def test_store_down_is_503_without_its_password(dashboard: Dashboard) -> None:
    password = f"pw-{time.time_ns()}"
    env = {**dashboard.env, "SLUICE_STATE_URL": f"postgresql://someone:{password}@127.0.0.1:1/nothing"}
    proc, url = start_ui(dashboard.root, env)
    try:
        web = Client(url, [*dashboard.secrets, password])
        for _ in range(2):  # the store is opened again on the next request
            error = web.json("/api/pipelines", 503)["error"]
            assert error.startswith("the state store cannot be read: cannot connect to the state store")
            code, _, body = web.get("/")
            assert code == 503 and b"State store unavailable" in body
    finally:
        stop(proc)

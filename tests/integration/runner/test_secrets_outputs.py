"""Secrets in every output of a run, through real `sluice` processes: the dry run's commands, the state
store's connection errors, a multi-line secret, a secret in escaped or encoded forms, a secret past the
cut of a long line, credential-like env: names, stream names holding a secret; and the metrics file's
series per state id (an environment's failure not hidden by another's success)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.runner.helpers import FIXTURES, PY, fixture_connector, sluice, sluice_env, write_project

MASK = "********"


def leaky(name: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "executable": PY, "args": [str(FIXTURES / "leaky_tap.py")], "config": config, **extra}


def project(root: Path, tap_config: dict[str, Any], target: dict[str, Any] | None = None, **extra: Any) -> None:
    conns = [leaky("leaky", tap_config, **extra),
             target or fixture_connector("target-fix", "fixture_target.py", {"path": str(root / "out.jsonl")})]
    write_project(root, connectors=conns, pipelines=[{"name": "demo", "tap": "leaky", "target": conns[1]["name"]}])


def everything_written(root: Path, done: Any) -> str:
    """The terminal, the run logs, `sluice runs` and the state store's tables as text."""
    logs = "".join(p.read_text() for p in (root / ".sluice" / "logs").rglob("*.log"))
    runs = sluice(["runs", "--json"], root).stdout
    with sqlite3.connect(root / ".sluice" / "state.db") as db:
        tables = [row for table in ("sluice_runs", "sluice_run_streams", "sluice_run_details")
                  for row in db.execute(f"select * from {table}")]
    return "\n".join([done.stdout, done.stderr, logs, runs, repr(tables)])


def test_dry_run_masks_the_secrets_of_args(tmp_path: Path) -> None:
    (tmp_path / "pw.txt").write_text("FilePassw0rd\n")
    tap = fixture_connector("tap-fix", "fixture_tap.py", {"records": 1})
    tap["args"] += ["--api-token", "${TOK}", "--quoted=it's ${TOK}"]
    target = fixture_connector("target-fix", "fixture_target.py", {"path": "out.jsonl"})
    target["args"] += ["--password=${file:pw.txt}"]
    write_project(tmp_path, connectors=[tap, target])
    done = sluice(["run", "demo", "--dry-run"], tmp_path, env=sluice_env(TOK="ArgTok3n99"))
    assert done.returncode == 0, done.stderr
    assert "ArgTok3n99" not in done.stdout and "FilePassw0rd" not in done.stdout, done.stdout
    assert "--api-token '********'" in done.stdout or "--api-token ********" in done.stdout, done.stdout
    assert "--password=********" in done.stdout and "it'\"'\"'s ********" in done.stdout, done.stdout


@pytest.mark.parametrize(("env", "libpq_says"), [
    ({"SLUICE_STATE_URL": "postgresql://postgres:Sup3r%zzSecret@127.0.0.1:1/none"}, "invalid percent-encoded token"),
    ({"SLUICE_STATE_URL": "postgresql://postgres:Sup3r Secret@127.0.0.1:1/none"}, "unexpected spaces"),
    # an "@" or "/" in the password: libpq reads a piece of it as the host or the port, and says so
    ({"SLUICE_STATE_URL": "postgresql://postgres:Xy@Sup3rSecretPart1:z@127.0.0.1:1/none"}, "resolve host"),
    ({"SLUICE_STATE_URL": "postgresql://postgres:Sup3rPart/xSecret@127.0.0.1:1/none"}, "port"),
    ({"PGPASS": "Sup3r Secret%zz"}, "Connection refused"),  # ${} values are encoded: read as given
    ({"SLUICE_STATE_URL": "postgres://postgres:Sup3rSecret@[::1/none"}, "IPv6"),
    ({"SLUICE_STATE_URL": "postgresql://postgres@127.0.0.1:1/none?sslpassword=Sup3rKeyPass&sslmode=require"},
     "127.0.0.1"),
])
def test_the_state_store_password_is_masked_in_its_connection_errors(tmp_path: Path, env: dict[str, str],
                                                                      libpq_says: str) -> None:
    """libpq quotes what it cannot parse; the URL's password is masked there too, and sslpassword."""
    write_project(tmp_path, state_store="postgresql://postgres:${PGPASS}@127.0.0.1:1/none")
    for args in (["runs"], ["run", "demo"]):
        done = sluice(args, tmp_path, env=sluice_env(**env))
        assert done.returncode != 0 and "cannot connect to the state store" in done.stderr, done.stderr
        assert libpq_says in done.stderr, done.stderr
        assert "Sup3r" not in done.stderr, done.stderr
    shown = json.loads(sluice(["config", "show", "demo"], tmp_path, env=sluice_env(**env)).stdout)
    assert "Sup3r" not in shown["state_store"] and "***" in shown["state_store"], shown


@pytest.mark.parametrize("password", ["Xy@VerySecretPart1:z", "a/b@c", "50%zz off ?#é"])
def test_a_state_store_password_with_url_characters_reaches_the_server_as_given(tmp_path: Path, pg_dsn: str,
                                                                                 password: str) -> None:
    """Found by a probe: an "@" in ``${STATE_PW}`` made libpq read the rest as the host (and say it);
    the values of references in the user-info are percent-encoded, so the URL reads back as written."""
    base, _, database = pg_dsn.rpartition("/")
    write_project(tmp_path, state_store=f"postgresql://${{STATE_USER}}:${{STATE_PW}}@{base.partition('@')[2]}/"
                                        f"{database}")
    env = sluice_env(STATE_USER="postgres", STATE_PW=password)
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the store is that database, not another
        assert conn.execute("select pipeline, status from sluice_runs").fetchall() == [("demo", "succeeded")]


def test_a_multi_line_secret_is_redacted_line_by_line(tmp_path: Path) -> None:
    body = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj", "q1w2e3r4"]
    pem = "\n".join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----"])
    (tmp_path / "key.pem").write_text(pem + "\n")
    project(tmp_path, {"secret": "${file:key.pem}", "exit": 1,
                       "lines": ["INFO loading @SECRET@", "ERROR could not load key: @SECRET@"]})
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == 1, done.stderr
    written = everything_written(tmp_path, done)
    for line in body:
        assert line not in written, line
    assert f"leaky | {MASK}" in done.stderr and "could not load key: ********" in done.stderr, done.stderr


def test_escaped_and_encoded_forms_of_a_secret_are_redacted(tmp_path: Path) -> None:
    secret, user = "p&ss<wd>/éxyz", "svc-loader"
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    lines = {  # each line as the tap writes it -> as the run must show it
        "INFO raw: @SECRET@ (redacted)": "INFO raw: ******** (redacted)",
        "INFO Authorization: Basic @BASIC@": "INFO Authorization: Basic ********",
        'INFO php-json: {"k":"p&ss<wd>\\/\\u00e9xyz"}': 'INFO php-json: {"k":"********"}',
        'INFO upper-hex: {"k":"p&ss<wd>/\\u00E9xyz"}': 'INFO upper-hex: {"k":"********"}',
        'INFO nested-json: {"msg":"{\\"k\\":\\"p&ss<wd>/\\\\u00e9xyz\\"}"}':
            'INFO nested-json: {"msg":"{\\"k\\":\\"********\\"}"}',
        "INFO requests-style: GET https://api.test/v1?key=p&ss%3Cwd%3E/%C3%A9xyz&n=1":
            "INFO requests-style: GET https://api.test/v1?key=********&n=1",
        "INFO lower-case: key=p%26ss%3cwd%3e%2f%c3%a9xyz;": "INFO lower-case: key=********;",
        "INFO plus: q=p%26ss%3Cwd%3E%2F%C3%A9xyz+x": "INFO plus: q=********+x",
        'ERROR auth failed, body {"api_key":"p\\u0026ss\\u003cwd\\u003e/\\u00e9xyz"}':
            'ERROR auth failed, body {"api_key":"********"}',
    }
    project(tmp_path, {"secret": "${TOK}", "user": user, "exit": 1, "lines": list(lines)})
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(TOK=secret))
    assert done.returncode == 1, done.stderr
    for shown in lines.values():
        assert f"leaky | {shown}" in done.stderr, (shown, done.stderr)
    written = everything_written(tmp_path, done)
    for leak in ("ss<wd>", "u0026ss", "%3Cwd", "%3cwd", basic[:16], "xyz"):
        assert leak not in written, leak
    [run] = [json.loads(line) for line in sluice(["runs", "--json"], tmp_path).stdout.splitlines()]
    assert run["error"] == "tap 'leaky' failed: auth failed, body {\"api_key\":\"********\"} (exit code 1)"


def test_a_secret_past_the_cut_of_a_long_stdout_line_is_redacted_first(tmp_path: Path) -> None:
    """A target's non-STATE stdout line was cut at 500 bytes before redaction: the first half of a
    secret straddling byte 500 leaked."""
    target = {"name": "leaky-target", "executable": PY, "args": [str(FIXTURES / "leaky_target.py")],
              "config": {"password": "${TPW}", "stdout_line": "debug: " + "x" * 475 + " password=@SECRET@ end"}}
    project(tmp_path, {"records": 2}, target=target)
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(TPW="TargetPassw0rd42"))
    assert done.returncode == 0, done.stderr
    written = everything_written(tmp_path, done)
    assert "TargetPa" not in written and "password=******** end" in written


def test_credential_like_env_names_are_secret_and_urls_lose_only_their_password(tmp_path: Path) -> None:
    env = {"GPG_PASSPHRASE": "${PASSPH}", "DATABASE_URL": "postgresql://loader:${PGPASS}@db.internal/wh",
           "SESSION_COOKIE": "${COOK}", "ORDERS_DSN": "host=db.internal password=${PGPASS2} user=loader"}
    said = "ERROR env: " + " | ".join(f"@ENV:{name}@" for name in env)
    project(tmp_path, {"exit": 1, "lines": [said]}, env=env)
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(PASSPH="CorrectHorse", PGPASS="WhPass123",
                                                            COOK="sid-7f3a9c", PGPASS2="DsnPass77"))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1].endswith(
        "failed: env: ******** | postgresql://loader:********@db.internal/wh | ******** | "
        "host=db.internal password=******** user=loader (exit code 1)"), done.stderr
    shown = json.loads(sluice(["config", "show", "demo"], tmp_path, env=sluice_env(
        PASSPH="CorrectHorse", PGPASS="WhPass123", COOK="sid-7f3a9c", PGPASS2="DsnPass77")).stdout)
    assert shown["tap"]["env"]["DATABASE_URL"] == "postgresql://loader:********@db.internal/wh"
    assert shown["tap"]["env"]["GPG_PASSPHRASE"] == shown["tap"]["env"]["SESSION_COOKIE"] == MASK


def test_stream_names_holding_a_secret_are_redacted_where_counts_are_kept(tmp_path: Path) -> None:
    metric = 'METRIC: {"type":"counter","metric":"record_count","value":%d,"tags":{"stream":"%s"}}'
    project(tmp_path, {"secret": "${TOK}", "lines": [metric % (3, "acct-@SECRET@"), metric % (4, "@SECRET@-b"),
                                                     metric % (5, "plain")]})
    done = sluice(["run", "demo", "--summary-json", "summary.json"], tmp_path, env=sluice_env(TOK="s3cr3tTOKEN"))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {k: v["emitted"] for k, v in summary["streams"].items()} == \
        {"acct-********": 3, "********-b": 4, "plain": 5, "items": 0}
    with sqlite3.connect(tmp_path / ".sluice" / "state.db") as db:
        stored = dict(db.execute("select stream, emitted from sluice_run_streams"))
    assert stored == {"acct-********": 3, "********-b": 4, "plain": 5, "items": None}
    assert "s3cr3t" not in everything_written(tmp_path, done)


def test_the_metrics_file_has_a_series_per_state_id(tmp_path: Path) -> None:
    project(tmp_path, {"exit": 1})
    path = tmp_path / "sluice.yml"
    data = yaml.safe_load(path.read_text())
    data["environments"] = {"prod": {}, "dev": {"connectors": {"leaky": {"config": {"exit": 0}}}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert sluice(["run", "demo", "-e", "prod", "--metrics-file", "m.prom"], tmp_path).returncode == 1
    assert sluice(["run", "demo", "-e", "dev", "--metrics-file", "m.prom"], tmp_path).returncode == 0
    text = (tmp_path / "m.prom").read_text()
    success = re.findall(r"^sluice_last_run_success\{(.*)\} (\d)$", text, re.MULTILINE)
    assert success == [('pipeline="demo",state_id="dev:demo"', "1"), ('pipeline="demo",state_id="prod:demo"', "0")]

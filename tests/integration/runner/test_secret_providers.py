"""Secret providers through real ``sluice`` runs: the connectors get the values of ``${file:...}``,
``${cmd:...}`` and ``.env``, and no provider value reaches the terminal, the run log, the run history
(the SQLite store's bytes) or an error message."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml

from protocol import ExitCode
from tests.integration.runner.helpers import PY, fixture_connector, sluice, sluice_env

# overlapping on purpose: redacting the shorter first would leave the longer one's tail in sight
FILE_SECRET = "fS3cr3t-Qx7"
CMD_SECRET = "fS3cr3t-Qx7-cmd-Lm2"
ENV_SECRET = "dotenv-Vw4-token"


def _write(root: Path, tap: dict[str, Any], **tap_extra: Any) -> None:
    (root / "secrets").mkdir(exist_ok=True)
    (root / "secrets" / "tap_key").write_text(FILE_SECRET + "\n")
    (root / "bin").mkdir(exist_ok=True)
    helper = root / "bin" / "vault-cli"
    # a password manager's stand-in: reads from the project directory (its working directory)
    helper.write_text(f"#!{PY}\nimport sys\nprint(open(f'secrets/{{sys.argv[1]}}_key').read().strip() + '-cmd-Lm2')\n")
    helper.chmod(0o755)
    (root / ".env").write_text(f"# local settings\nTAP_TOKEN='{ENV_SECRET}'\nRECORDS=7\n")
    project = {
        "connectors": [
            fixture_connector("tap-fix", "fixture_tap.py", tap, **tap_extra),
            fixture_connector("target-fix", "fixture_target.py", {"path": "out.jsonl"}),
        ],
        "pipelines": [{"name": "demo", "tap": "tap-fix", "target": "target-fix"}],
    }
    (root / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def _leaks(root: Path, *texts: str) -> list[str]:
    """Where a provider value is found: in ``texts`` or in any file under .sluice/ (store, logs)."""
    found = []
    places = [(f"output {i}", text.encode()) for i, text in enumerate(texts)]
    places += [(str(p.relative_to(root)), p.read_bytes()) for p in (root / ".sluice").rglob("*") if p.is_file()]
    for where, data in places:
        for secret in (FILE_SECRET, CMD_SECRET, ENV_SECRET, "Qx7", "Lm2", "Vw4"):
            if secret.encode() in data:
                found.append(f"{secret} in {where}")
    return found


def test_connectors_get_provider_values_and_none_is_written_anywhere(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    tap = {
        "records": "${RECORDS}",
        "host": "${cmd:./bin/vault-cli tap}",         # a setting the tap does not mark secret
        "log_secret": "key=${file:secrets/tap_key} cmd=${cmd:./bin/vault-cli tap} tok=${TAP_TOKEN}",
        "dump_env": str(dump),
    }
    _write(tmp_path, tap, env={"TOKEN_FROM_FILE": "${file:secrets/tap_key}", "TAP_TOKEN": "${TAP_TOKEN}"})
    env = sluice_env()
    env.pop("TAP_TOKEN", None)
    done = sluice(["run", "demo"], tmp_path, env=env)
    assert done.returncode == ExitCode.OK, done.stderr
    seen = json.loads(dump.read_text())["env"]
    assert (seen["TOKEN_FROM_FILE"], seen["TAP_TOKEN"]) == (FILE_SECRET, ENV_SECRET)
    assert [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == list(range(1, 8))
    assert "connecting with key key=******** cmd=******** tok=********" in done.stderr
    assert _leaks(tmp_path, done.stdout, done.stderr) == []

    # a failure whose message quotes the secrets: in the run history, redacted
    tap.update(fail_at=3, error_detail=f" (auth {FILE_SECRET} / {CMD_SECRET} / ${{TAP_TOKEN}})")
    _write(tmp_path, tap, env={"TAP_TOKEN": "${TAP_TOKEN}"})
    failed = sluice(["run", "demo", "--full-refresh"], tmp_path, env=env)
    assert failed.returncode == ExitCode.FAILED, failed.stderr
    runs = sluice(["runs", "demo"], tmp_path, env=env)
    database = tmp_path / ".sluice" / "state.db"
    with closing(sqlite3.connect(database)) as conn:
        errors = [row[0] for row in conn.execute("select error from sluice_runs order by id")]
    assert errors[0] is None and "source went away at record 3 (auth ******** / ******** / ********)" in errors[1]
    assert _leaks(tmp_path, failed.stdout, failed.stderr, runs.stdout, runs.stderr) == []


def test_the_real_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    _write(tmp_path, {"records": "${RECORDS}", "dump_env": str(dump)}, env={"TAP_TOKEN": "${TAP_TOKEN}"})
    done = sluice(["run", "demo"], tmp_path, env=sluice_env(TAP_TOKEN="from-the-shell", RECORDS="2"))
    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(dump.read_text())["env"]["TAP_TOKEN"] == "from-the-shell"
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_a_secret_that_cannot_be_had_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    started = tmp_path / "started"
    failing = f"{PY} -c 'print(\"{CMD_SECRET}\"); raise SystemExit(2)'"
    _write(tmp_path, {"records": 3, "started_file": str(started), "host": f"${{cmd:{failing}}}",
                      "api_key": "${file:secrets/missing}"})
    for args in (["run", "demo"], ["run", "demo", "--dry-run"], ["validate"], ["check", "tap-fix"]):
        done = sluice(args, tmp_path)
        assert done.returncode == ExitCode.USAGE, (args, done.stderr)
        assert f"connectors[0].config.host: ${{cmd:{failing}}}: the command exited with status 2" in done.stderr
        assert (f"connectors[0].config.api_key: ${{file:secrets/missing}}: secret file not found: "
                f"{tmp_path / 'secrets' / 'missing'}") in done.stderr
        assert not started.exists()
        assert _leaks(tmp_path, done.stdout, done.stderr.replace(failing, "")) == []


def test_a_provider_that_is_down_fails_the_run_with_exit_1_for_a_retry(tmp_path: Path) -> None:
    """Found by a probe: a command timing out (a password manager that is slow or down) exited 2, which
    Airflow's operator fails without retries; it is a run-time failure (exit 1), retried. Whatever a
    retry cannot fix stays 2, even beside it."""
    started = tmp_path / "started"
    slow = f"{PY} -c 'import time; time.sleep(30)'"
    _write(tmp_path, {"records": 3, "started_file": str(started), "host": f"${{cmd:{slow}}}"})
    project = yaml.safe_load((tmp_path / "sluice.yml").read_text())
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({"secret_timeout_seconds": 0.5, **project}))
    for args in (["run", "demo"], ["check", "tap-fix"]):
        done = sluice(args, tmp_path)
        assert done.returncode == ExitCode.FAILED, (args, done.stderr)
        assert (f"connectors[0].config.host: ${{cmd:{slow}}}: the command gave no answer in 0.5 s and was stopped "
                "(secret_timeout_seconds)") in done.stderr
        assert not started.exists()
    project["connectors"][0]["config"]["api_key"] = "${UNSET_KEY_X}"
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump({"secret_timeout_seconds": 0.5, **project}))
    done = sluice(["run", "demo"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "environment variable UNSET_KEY_X is not set" in done.stderr and "gave no answer" in done.stderr


def test_validate_lists_every_provider_that_is_down(tmp_path: Path) -> None:
    """``sluice validate`` went on past none of them: the first provider that was down ended it (exit 1,
    one problem). Every one is listed, with the target's problem beside them; exit 1 while every problem
    is one a retry may get past, else 2."""
    _write(tmp_path, {"records": 3, "host": "${cmd:false}", "api_key": f"${{cmd:{PY} -c 'raise SystemExit(3)'}}"})
    project = yaml.safe_load((tmp_path / "sluice.yml").read_text())
    project["connectors"].append(fixture_connector("target-down", "fixture_target.py", {"path": "${cmd:false}"}))
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.FAILED, done.stderr
    for where, status in (("connectors[0].config.host", 1), ("connectors[0].config.api_key", 3),
                          ("connectors[2].config.path", 1)):
        assert f"{where}: ${{cmd:" in done.stderr and f"the command exited with status {status}" in done.stderr
    project["connectors"][1]["config"]["path"] = "${UNSET_PATH_X}"
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    done = sluice(["validate"], tmp_path)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "environment variable UNSET_PATH_X is not set" in done.stderr
    assert "connectors[0].config.host: ${cmd:false}: the command exited with status 1" in done.stderr


def test_a_dollar_brace_sluice_does_not_know_stops_validate_and_run(tmp_path: Path) -> None:
    """Found by a probe: ``${DB_PASSWORD-}`` and other shell forms reached the connector as text; validate said ok."""
    started = tmp_path / "started"
    _write(tmp_path, {"records": 3, "started_file": str(started), "host": "${DB_HOST:=localhost}",
                      "api_key": "${ TAP_TOKEN }", "log_secret": "$${kept} ${FILE:kept}"})
    for args in (["validate"], ["run", "demo"]):
        done = sluice(args, tmp_path, env=sluice_env(DB_HOST="h"))
        assert done.returncode == ExitCode.USAGE, (args, done.stderr)
        assert "connectors[0].config.host: ${DB_HOST:=localhost}: not a reference sluice knows" in done.stderr
        assert "connectors[0].config.api_key: ${ TAP_TOKEN }: not a reference sluice knows" in done.stderr
        assert "config.log_secret:" not in done.stderr  # $${ and ${FILE:x} stay as written
        assert not started.exists()

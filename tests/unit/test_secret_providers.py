"""Secret providers in sluice.yml: ``${file:PATH}``, ``${cmd:...}``, unknown schemes, and what stays as it
was (``${VAR}``, ``${VAR:-default}``, ``$${``). Real files and real commands (docs/secrets.md)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from protocol import ConfigError, ExitCode
from runner.connectors import connector_secrets
from runner.interpolation import SecretUnavailable
from runner.project import Project, ResolvedConnector, load_project

PY = sys.executable
# a command that prints its arguments as JSON (to see how a reference was split, and that no shell ran)
ARGV = f"{PY} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"


def _project(tmp_path: Path, config: dict[str, Any], **top: Any) -> Project:
    data = {**top, "connectors": [{"name": "c", "executable": PY, "config": config}]}
    path = tmp_path / "sluice.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_project(path)


def _resolve(tmp_path: Path, config: dict[str, Any], environ: dict[str, str] | None = None,
             **top: Any) -> ResolvedConnector:
    project = _project(tmp_path, config, **top)
    return project.resolve(project.connector("c"), environ if environ is not None else {})


def _problems(tmp_path: Path, config: dict[str, Any], environ: dict[str, str] | None = None,
              error: type[ConfigError | SecretUnavailable] = ConfigError, **top: Any) -> list[str]:
    with pytest.raises(error) as info:
        _resolve(tmp_path, config, environ, **top)
    assert isinstance(info.value, ConfigError | SecretUnavailable)
    return info.value.problems


def test_file_reads_relative_to_the_project_and_drops_one_trailing_newline(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run" / "secrets").mkdir(parents=True)
    (tmp_path / "run" / "secrets" / "pg").write_text("pg-Pa55\n")
    (tmp_path / "two").write_bytes(b"two-lines\n\n")
    (tmp_path / "crlf").write_bytes(b"win-dows\r\n")
    (tmp_path / "bare").write_bytes(b" spaced \t")
    elsewhere = tmp_path / "abs"
    elsewhere.write_text("abs-olute\n")
    monkeypatch.chdir("/")  # not the project directory: relative paths still resolve from it
    conn = _resolve(tmp_path, {"a": "${file:run/secrets/pg}", "b": "${file:two}", "c": "${file:crlf}",
                               "d": "${file:bare}", "e": f"${{file:{elsewhere}}}",
                               "url": "postgresql://u:${file:run/secrets/pg}@h/db"})
    assert conn.config == {"a": "pg-Pa55", "b": "two-lines\n", "c": "win-dows", "d": " spaced \t",
                           "e": "abs-olute", "url": "postgresql://u:pg-Pa55@h/db"}


def test_a_missing_empty_or_unreadable_file_is_an_error_naming_the_reference(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "dir").mkdir()
    problems = _problems(tmp_path, {"a": "${file:nope/pw}", "b": {"deep": ["${file:empty}"]}, "c": "${file:dir}",
                                    "d": "${file:}"})
    assert problems == [
        f"connectors[0].config.a: ${{file:nope/pw}}: secret file not found: {tmp_path / 'nope' / 'pw'}",
        f"connectors[0].config.b.deep[0]: ${{file:empty}}: secret file {tmp_path / 'empty'} is empty",
        f"connectors[0].config.c: ${{file:dir}}: {tmp_path / 'dir'} is a directory, not a secret file",
        "connectors[0].config.d: ${file:}: no file named (write ${file:PATH})",
    ]


def test_cmd_splits_words_like_a_shell_but_runs_without_one(tmp_path: Path) -> None:
    conn = _resolve(tmp_path, {"argv": f"${{cmd:{ARGV} one 'two words' \"$HOME\" ';' '*' '|'}}"},
                    {"HOME": "/home/nobody"})
    assert json.loads(conn.config["argv"]) == ["one", "two words", "$HOME", ";", "*", "|"]


def test_cmd_output_runs_in_the_project_directory_with_the_environment_and_dotenv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("FROM_DOTENV=dot-value\nBOTH=dot-loses\n")
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "get-secret"
    script.write_text(f"#!{PY}\nimport os\nprint(os.getcwd(), os.environ['FROM_DOTENV'], os.environ['BOTH'],"
                      " os.environ['REAL'])\n")
    script.chmod(0o755)
    monkeypatch.chdir("/")
    project = _project(tmp_path, {"out": "${cmd:./bin/get-secret}"})
    conn = project.resolve(project.connector("c"), {"REAL": "real-value", "BOTH": "real-wins"})
    assert conn.config["out"] == f"{tmp_path} dot-value real-wins real-value"


def test_a_failing_command_is_an_error_that_never_shows_its_output(tmp_path: Path) -> None:
    fail = f"{PY} -c 'import sys; print(\"out-Zq81\"); print(\"err-Zq82\", file=sys.stderr); sys.exit(3)'"
    silent = f"{PY} -c 'pass'"
    problems = _problems(tmp_path, {"a": f"${{cmd:{fail}}}", "b": f"${{cmd:{silent}}}",
                                    "c": "${cmd:no-such-program-x9 --flag}", "d": "${cmd:'unclosed}",
                                    "e": "${cmd: }"})
    assert problems == [
        f"connectors[0].config.a: ${{cmd:{fail}}}: the command exited with status 3 (its output is not shown; "
        "run it yourself to see why)",
        f"connectors[0].config.b: ${{cmd:{silent}}}: the command printed nothing",
        "connectors[0].config.c: ${cmd:no-such-program-x9 --flag}: program 'no-such-program-x9' not found",
        "connectors[0].config.d: ${cmd:'unclosed}: cannot split the command into words: No closing quotation",
        "connectors[0].config.e: ${cmd: }: no command given (write ${cmd:PROGRAM ARGS...})",
    ]
    assert not any("Zq8" in p.replace(fail, "") for p in problems)


def test_a_command_past_its_timeout_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # the command starts a grandchild that would outlive it, then waits: both must be gone
    slow = (f"{PY} -c 'import subprocess,sys,time; p=subprocess.Popen([sys.executable, \"-c\", "
            f"\"import time; time.sleep(120)\"]); open(\"{pid_file}\", \"w\").write(str(p.pid)); time.sleep(120)'")
    started = time.monotonic()
    problems = _problems(tmp_path, {"slow": f"${{cmd:{slow}}}"}, error=SecretUnavailable, secret_timeout_seconds=1.5)
    elapsed = time.monotonic() - started
    assert problems == [f"connectors[0].config.slow: ${{cmd:{slow}}}: the command gave no answer in 1.5 s and was "
                        "stopped (secret_timeout_seconds)"]
    assert elapsed < 60  # not the 120 s the command would take
    grandchild = int(pid_file.read_text())
    for _ in range(100):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's own child outlived the timeout")


def test_each_reference_runs_once_per_command_failures_too(tmp_path: Path) -> None:
    count = tmp_path / "count"
    counting = f"{PY} -c 'open(\"{count}\", \"a\").write(\"x\"); print(\"v-1\")'"
    failing = f"{PY} -c 'open(\"{count}.f\", \"a\").write(\"x\"); raise SystemExit(1)'"
    project = _project(tmp_path, {"a": f"${{cmd:{counting}}}", "b": [f"${{cmd:{counting}}}"]})
    for _ in range(3):
        assert project.resolve(project.connector("c"), {}).config == {"a": "v-1", "b": ["v-1"]}
    assert count.read_text() == "x"
    project = _project(tmp_path, {"a": f"${{cmd:{failing}}}", "b": f"${{cmd:{failing}}}"})
    for _ in range(2):
        with pytest.raises(SecretUnavailable) as info:  # a failure remembered stays the kind it was
            project.resolve(project.connector("c"), {})
        assert len(info.value.problems) == 2
    assert Path(f"{count}.f").read_text() == "x"


def test_an_unknown_scheme_is_an_error_and_variables_and_escapes_stay_as_they_were(tmp_path: Path) -> None:
    problems = _problems(tmp_path, {"v": "${vault:secret/data/db#password}"})
    assert len(problems) == 1
    assert problems[0].startswith("connectors[0].config.v: ${vault:secret/data/db#password}: no secret provider "
                                  "for the scheme 'vault' (known: cmd, file")
    assert "sluice.secret_providers" in problems[0]
    assert _problems(tmp_path, {"n": "${cmd:echo ${file:x}}"}) == [
        "connectors[0].config.n: ${cmd:echo ${file:x}: a reference cannot hold another (they do not nest)"]
    # a variable's default holding a reference was cut at the inner brace: ${A:-${B}} gave "${B}" (A unset)
    # or A's value and a "}" (A set), without a word (found by a probe)
    for value in ("${UNSET_A:-${PGPORT}}", "pre${UNSET_A:-x${PGPORT}}post", "${PGPORT:-${PGPORT}}"):
        assert _problems(tmp_path, {"n": value}, {"PGPORT": "5432"}) == [
            f"connectors[0].config.n: {value[value.index('${'):value.index('}') + 1]}: a reference cannot hold "
            "another (they do not nest)"]
    conn = _resolve(tmp_path, {
        "escaped": "$${file:x} and $${cmd:y}",       # a literal ${
        "default": "${cmd:-fallback}",                # the variable cmd, or its default: as before
        "set": "${file:-unused}",
        "upper": "${FILE:x}",                         # not a scheme (lower case only): left as it is, as before
        "var": "${PGPORT}/${MISSING:-d}/${EMPTY:-e}",
    }, {"file": "file-var", "PGPORT": "5432", "EMPTY": ""})
    assert conn.config == {"escaped": "${file:x} and ${cmd:y}", "default": "fallback", "set": "file-var",
                           "upper": "${FILE:x}", "var": "5432/d/"}


def test_provider_values_are_secret_wherever_they_go_env_values_only_where_secret(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("file-Kx7a\n")
    project = _project(tmp_path, {"host": "${file:k}", "port": "${PGPORT}", "note": f"${{cmd:{PY} -c 'print(42)'}}"})
    project.connectors["c"].env = {"PLAIN": "${cmd:echo env-Kx7b}"}
    project.connectors["c"].args = ["--x=${file:k}"]
    conn = project.resolve(project.connector("c"), {"PGPORT": "5432"})
    info = {"settings": {"type": "object", "properties": {"host": {"type": "string"}, "port": {"type": "string"},
                                                          "note": {"type": "string"}}}}
    assert connector_secrets(conn, info) == {"file-Kx7a", "42", "env-Kx7b"}
    url, secrets = _project(tmp_path, {}, state_store="postgresql://u:${file:k}@h:${PGPORT}/db").state_store_url(
        {"PGPORT": "6543"})
    assert url == "postgresql://u:file-Kx7a@h:6543/db"
    assert secrets == {"file-Kx7a", "6543"}


def test_a_state_store_secret_that_cannot_be_had_names_the_reference(tmp_path: Path) -> None:
    project = _project(tmp_path, {}, state_store="postgresql://u:${file:pg.pw}@h/db")
    with pytest.raises(ConfigError) as info:
        project.state_store_url({})
    assert info.value.problems == [f"state_store: ${{file:pg.pw}}: secret file not found: {tmp_path / 'pg.pw'}"]


def test_a_tenant_reads_its_own_secret_file(tmp_path: Path) -> None:
    """``${tenant.x}`` is filled first, so a provider reference can name each tenant's own secret."""
    (tmp_path / "secrets").mkdir()
    for tenant in ("acme", "globex"):
        (tmp_path / "secrets" / f"{tenant}.pw").write_text(f"pw-of-{tenant}\n")
    data = {
        "connectors": [{"name": "c", "executable": PY, "config": {"password": "${file:secrets/${tenant.id}.pw}"}},
                       {"name": "t", "executable": PY}],
        "pipelines": [{"name": "p", "tap": "c", "target": "t", "for_each": [{"id": "acme"}, {"id": "globex"}]}],
    }
    (tmp_path / "sluice.yml").write_text(yaml.safe_dump(data))
    project = load_project(tmp_path / "sluice.yml")
    got = {name: project.resolve(project.connector_for(project.pipeline(name), "c"), {}).config["password"]
           for name in ("p@acme", "p@globex")}
    assert got == {"p@acme": "pw-of-acme", "p@globex": "pw-of-globex"}


def test_values_in_a_state_store_urls_user_info_are_percent_encoded(tmp_path: Path) -> None:
    """Found by a probe: a password holding "@" made libpq read its tail as the host (and quote it in
    its error), "/" made it read the user as the host. The values of the references in the user-info
    are encoded, so that libpq's own parser gives back each value as it was."""
    from psycopg.conninfo import conninfo_to_dict

    environ = {"STATE_USER": "svc@corp", "STATE_PW": "Xy@VerySecretPart1:z/?#%zz é", "CREDS": "loader:pw:1"}
    project = _project(tmp_path, {}, state_store="postgresql://${STATE_USER}:${STATE_PW}@127.0.0.1:5432/db"
                       "?application_name=${CREDS}")
    url, secrets = project.state_store_url(environ)
    assert url is not None and conninfo_to_dict(url) == {
        "user": "svc@corp", "password": "Xy@VerySecretPart1:z/?#%zz é", "host": "127.0.0.1", "port": "5432",
        "dbname": "db", "application_name": "loader:pw:1"}  # a value outside the user-info is inserted as it is
    assert {"svc@corp", "Xy@VerySecretPart1:z/?#%zz é"} <= secrets
    # one variable holding user:password stays two parts; text written in the file is not encoded again
    for template, expected in (("postgresql://${CREDS}@h/db", ("loader", "pw:1")),
                               ("postgresql://u%40x:${STATE_PW}@h/db", ("u@x", environ["STATE_PW"]))):
        url, _ = _project(tmp_path, {}, state_store=template).state_store_url(environ)
        assert url is not None
        parsed = conninfo_to_dict(url)
        assert (parsed["user"], parsed["password"]) == expected
    # an "@" written as it is in the user-info: libpq would read another user-info; said, quoting nothing
    project = _project(tmp_path, {}, state_store="postgresql://me@corp:${STATE_PW}@h/db")
    with pytest.raises(ConfigError) as info:
        project.state_store_url(environ)
    assert info.value.problems == ["state_store: the URL's user name or password does not read back as written: "
                                   "percent-encode an '@', '/', '?', '#' or '%' written as it is there (%40, %2F, "
                                   "%3F, %23, %25); the values of ${...} references there are encoded by sluice"]
    # SLUICE_STATE_URL is the user's own URL: used as it is
    assert project.state_store_url({"SLUICE_STATE_URL": "postgresql://u:a%40b@h/d"})[0] == "postgresql://u:a%40b@h/d"


FORMS = "(the forms are ${NAME}, ${NAME:-default} and ${scheme:reference}; $${ is a literal ${)"


@pytest.mark.parametrize(("text", "problem"), [
    (f"pre {form} post", f"{form}: not a reference sluice knows {FORMS}")
    for form in ("${DB_PASSWORD-}", "${DB_USER:=loader}", "${API_TOKEN:?must be set}", "${API_TOKEN:+set}",
                 "${ DB_HOST }", "${CLÉ}", "${}", "${#PATH}")
] + [
    ("pre ${UNCLOSED post", f"${{UNCLOSED post: not a reference sluice knows {FORMS}"),
    ("${tenant.a.b.c}", "${tenant.a.b.c}: not a tenant reference (${tenant.FIELD}, ${tenant.FIELD:-default} "
                        "or ${tenant.env.NAME})"),
])
def test_a_dollar_brace_that_is_no_reference_is_a_problem_not_text(tmp_path: Path, text: str, problem: str) -> None:
    """Found by a probe: shell forms sluice does not have reached the connector as they were written,
    and validate said ok. ``$${`` and ``${WORD:x}`` (no lower-case scheme, docs/secrets.md) stay text."""
    environ = {"DB_PASSWORD": "pw-1", "DB_USER": "u", "API_TOKEN": "t-1", "DB_HOST": "h", "PATH": "/bin"}
    assert _problems(tmp_path, {"v": text, "ok": "${FILE:x}"}, environ) == [f"connectors[0].config.v: {problem}"]


def test_the_documented_literal_forms_stay_as_written(tmp_path: Path) -> None:
    conn = _resolve(tmp_path, {"ok": "$${DB_USER:=x} ${FILE:x} ${Vault:y} $${ A } $${"})
    assert conn.config == {"ok": "${DB_USER:=x} ${FILE:x} ${Vault:y} ${ A } ${"}


def test_a_command_printing_more_than_1_mib_is_stopped_and_refused(tmp_path: Path) -> None:
    """Found by a probe: ${cmd:} had no size cap (30 MB of output: a MemoryError traceback)."""
    big = f"{PY} -c 'import sys; sys.stdout.write(\"a\" * (3 << 20))'"
    fits = f"{PY} -c 'import sys; sys.stdout.write(\"b\" * (1 << 20))'"
    problems = _problems(tmp_path, {"big": f"${{cmd:{big}}}"})
    assert problems == [f"connectors[0].config.big: ${{cmd:{big}}}: the command printed more than 1 MiB (its "
                        "output is not shown; a secret is not that large)"]
    assert _resolve(tmp_path, {"fits": f"${{cmd:{fits}}}"}).config["fits"] == "b" * (1 << 20)


@pytest.mark.timeout(20)  # the old ${file:FIFO} blocked in open() for ever
def test_a_secret_file_must_be_a_regular_file(tmp_path: Path) -> None:
    """Found by a probe: ${file:} naming a FIFO hung the command (secret_timeout_seconds does not bound it)."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    (tmp_path / "real").write_text("real-Pw1\n")
    (tmp_path / "to-real").symlink_to(tmp_path / "real")
    problems = _problems(tmp_path, {"a": "${file:pipe}", "b": "${file:link}", "c": "${file:/dev/zero}"})
    assert problems == [f"connectors[0].config.{key}: ${{file:{ref}}}: {path} is not a regular file (a FIFO, "
                        "socket or device is not a secret file)"
                        for key, ref, path in (("a", "pipe", tmp_path / "pipe"), ("b", "link", tmp_path / "link"),
                                               ("c", "/dev/zero", "/dev/zero"))]
    assert _resolve(tmp_path, {"d": "${file:to-real}"}).config == {"d": "real-Pw1"}  # a link to a file is fine


def test_a_provider_unavailable_now_is_a_run_time_failure(tmp_path: Path) -> None:
    """Found by a probe: a command that failed or timed out exited 2 (invalid config), which orchestrators
    do not retry. Alone, such failures are a SecretUnavailable (exit 1); with a problem a retry cannot
    fix (an unset variable, an empty value), a ConfigError (exit 2) listing both."""
    fail = f"{PY} -c 'raise SystemExit(3)'"
    killed = f"{PY} -c 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'"
    with pytest.raises(SecretUnavailable) as info:
        _resolve(tmp_path, {"a": f"${{cmd:{fail}}}", "b": f"${{cmd:{killed}}}"})
    assert info.value.exit_code == ExitCode.FAILED and len(info.value.problems) == 2
    assert "killed by signal 9" in info.value.problems[1]
    mixed = _problems(tmp_path, {"a": f"${{cmd:{fail}}}", "b": "${UNSET_X}", "c": f"${{cmd:{PY} -c 'pass'}}"})
    assert [p.split(": ")[-1] for p in mixed] == [
        "the command exited with status 3 (its output is not shown; run it yourself to see why)",
        "environment variable UNSET_X is not set", "the command printed nothing"]
    assert ConfigError("x").exit_code == ExitCode.USAGE
    project = _project(tmp_path, {}, state_store=f"postgresql://u:${{cmd:{fail}}}@h/db")
    with pytest.raises(SecretUnavailable):
        project.state_store_url({})

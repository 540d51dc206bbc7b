"""The ``.env`` file beside sluice.yml: its syntax, that it never overrides the real environment, and that a
project whose variables are all set neither reads it nor imports the secret providers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from protocol import ConfigError
from runner.project import load_project
from runner.secrets.dotenv import parse_dotenv

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = textwrap.dedent("""\
    # a comment, then a blank line

    PLAIN=value-1
      SPACED  =   two words   # a comment after a blank
    export EXPORTED=exp
    HASH=#not-a-comment
    EMPTY=
    SINGLE='keeps $HOME and \\n and " as they are'  # ok
    DOUBLE="tab\\there \\"q\\" \\$x \\\\ \\q"
    MULTI="-----BEGIN KEY-----
    abc
    -----END KEY-----"
    SINGLE_MULTI='a
    b'
    URL=postgresql://u:p@h/db?x=1
    PLAIN=value-2
    """)

EXPECTED = {
    "PLAIN": "value-2",
    "SPACED": "two words",
    "EXPORTED": "exp",
    "HASH": "#not-a-comment",
    "EMPTY": "",
    "SINGLE": 'keeps $HOME and \\n and " as they are',
    "DOUBLE": 'tab\there "q" $x \\ \\q',
    "MULTI": "-----BEGIN KEY-----\nabc\n-----END KEY-----",
    "SINGLE_MULTI": "a\nb",
    "URL": "postgresql://u:p@h/db?x=1",
}


def test_the_documented_syntax() -> None:
    assert parse_dotenv(SAMPLE, ".env") == EXPECTED


def test_bad_lines_are_errors_naming_the_line_never_its_text() -> None:
    text = "OK=1\nthis-Pw9 is no assignment\n1BAD=x\nQ='tail-Pw9' extra\nOPEN=\"never closed-Pw9\n"
    with pytest.raises(ConfigError) as info:
        parse_dotenv(text, "/p/.env")
    assert info.value.problems == [
        "/p/.env:2: not a NAME=value line",
        "/p/.env:3: not a NAME=value line",
        "/p/.env:4: Q: text after the closing quote",
        "/p/.env:5: OPEN: the quote is never closed",
    ]
    assert "Pw9" not in str(info.value)


def _project(tmp_path: Path, config: dict[str, str]) -> Path:
    path = tmp_path / "sluice.yml"
    path.write_text(yaml.safe_dump({"connectors": [{"name": "c", "executable": sys.executable, "config": config}]}))
    return path


def test_dotenv_fills_what_the_environment_lacks_and_never_overrides_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(SAMPLE)
    project = load_project(_project(tmp_path, {k.lower(): f"${{{k}}}" for k in EXPECTED} | {"d": "${NOPE:-dflt}"}))
    real = {"PLAIN": "from-the-shell", "EMPTY": "", "HASH": ""}  # set to "" in the shell: stays ""
    conn = project.resolve(project.connector("c"), real)
    assert conn.config == {k.lower(): real.get(k, v) for k, v in EXPECTED.items()} | {"d": "dflt"}
    missing = load_project(_project(tmp_path, {"x": "${NOT_ANYWHERE}"}))
    with pytest.raises(ConfigError) as info:
        missing.resolve(missing.connector("c"), {})
    assert info.value.problems == ["connectors[0].config.x: environment variable NOT_ANYWHERE is not set"]


def test_no_dotenv_without_a_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ONLY_IN_DOTENV=x\n")
    monkeypatch.chdir(tmp_path)
    project = load_project(None)
    assert "ONLY_IN_DOTENV" not in project.scope({})


def test_an_env_only_project_reads_no_dotenv_and_imports_no_provider(tmp_path: Path) -> None:
    """A broken .env shows whether it was read: not while the environment has every variable."""
    (tmp_path / ".env").write_text("not an assignment\n")
    path = _project(tmp_path, {"a": "${SET_VAR}", "b": "x-${SET_VAR:-d}", "c": "$${file:literal}"})
    probe = textwrap.dedent(f"""\
        import json, sys
        from pathlib import Path
        from runner.project import load_project
        project = load_project(Path({str(path)!r}))
        conn = project.resolve(project.connector("c"), {{"SET_VAR": "v"}})
        state, _ = project.state_store_url({{}})
        print(json.dumps({{"config": conn.config,
                          "secrets": sorted(m for m in sys.modules if m.startswith("runner.secrets"))}}))
        try:
            project.resolve(project.connector("c"), {{}})
        except Exception as exc:
            print(type(exc).__name__, exc.block())
        """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    first, *rest = done.stdout.splitlines()
    seen = json.loads(first)
    assert seen["config"] == {"a": "v", "b": "x-v", "c": "${file:literal}"}
    assert seen["secrets"] == []
    # a variable the environment lacks: now .env is read, and its bad line reported
    dotenv = tmp_path / '.env'
    assert rest == [f"ConfigError {dotenv}: invalid .env file:", f"  {dotenv}:1: not a NAME=value line"]


def test_built_in_schemes_never_look_for_plugins(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("p\n")
    path = _project(tmp_path, {"a": "${file:pw}", "b": "${cmd:echo hi}"})
    probe = textwrap.dedent(f"""\
        import sys
        import runner.secrets.registry as registry
        def fail():
            raise SystemExit("entry points were scanned")
        registry._entry_points = fail
        from pathlib import Path
        from runner.project import load_project
        project = load_project(Path({str(path)!r}))
        print(project.resolve(project.connector("c"), {{"PATH": "/usr/bin:/bin"}}).config)
        """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "{'a': 'p', 'b': 'hi'}"), done.stderr

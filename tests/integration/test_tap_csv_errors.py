"""tap-csv on bad files: one clear stderr line naming the stream, the file and the line; no traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run


def sync(tmp_path: Path, cfg: dict[str, Any], *args: str) -> tuple[int, bytes, str]:
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc = run([exe("tap-csv"), "--config", str(tmp_path / "config.json"), *args])
    return proc.returncode, proc.stdout, proc.stderr.decode()


def the_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, stderr
    return errors[0]


def file_config(tmp_path: Path, name: str, data: bytes, **item: Any) -> tuple[dict[str, Any], str]:
    path = tmp_path / name
    path.write_bytes(data)
    return {"files": [{"entity": "people", "path": str(path), **item}]}, str(path)


CASES = [
    ("ragged.csv", b"id,name\n1,a\n2,b,extra\n", {}, "line 3: expected 2 fields as in the header, found 3"),
    ("short.csv", b"id,name\n1,a\n2\n", {}, "line 3: expected 2 fields as in the header, found 1"),
    ("latin.csv", "id,name\n1,a\n2,b\n3,café\n".encode("latin-1"), {}, "line 4: cannot decode the bytes as utf-8"),
    ("latin.csv.gz", gzip.compress("id,name\n1,é\n".encode("latin-1")), {}, "line 2: cannot decode the bytes"),
    ("empty.csv", b"", {}, "line 1: no header row (the file is empty)"),
    ("twice.csv", b"id,name,id\n1,a,1\n", {}, "line 1: header names column 'id' twice"),
    ("unnamed.csv", b"id,,name\n1,2,3\n", {}, "line 1: header column 2 has no name"),
    ("quotes.csv", b'id,name\n1,"a"b\n', {"strict": True}, "line 2: malformed CSV"),
    ("late.csv", b"id,n\n1,1\n2,2\n3,abc\n", {"sample_size": 2},
     "line 4, field 'n': value 'abc' is not a valid integer (the type 'integer' was inferred from the first 2 rows"),
    ("gap.csv", b"id,n\n1,1\n2,2\n3,\n", {"sample_size": 2},
     "line 4, field 'n': empty cell in a column that is not nullable"),
    ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage-not-deflate", {}, "cannot read"),
    ("truncated.csv.gz", gzip.compress(b"id\n" + b"1\n" * 50_000)[:-40], {}, "cannot read past line"),
]


@pytest.mark.parametrize(("name", "data", "item", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_file_gives_one_clear_line(tmp_path: Path, name: str, data: bytes, item: dict[str, Any],
                                         expected: str) -> None:
    cfg, path = file_config(tmp_path, name, data, **item)
    code, _, stderr = sync(tmp_path, cfg)
    assert code == 1
    line = the_error(stderr)
    assert f"stream 'people': {path}" in line
    assert expected in line


@pytest.mark.parametrize("args", [(), ("--discover",), ("--test",)])
def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "nowhere" / "people.csv"
    code, stdout, stderr = sync(tmp_path, {"files": [{"entity": "people", "path": str(missing)}]}, *args)
    assert code == 2 and stdout == b""
    assert the_error(stderr).endswith(f"files entry 'people': {missing} does not exist")


def test_every_missing_path_is_listed_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "here.csv").write_text("id\n1\n")
    files = [{"entity": "here", "path": str(tmp_path / "here.csv")},
             {"entity": "gone", "path": str(tmp_path / "gone.csv")},
             {"entity": "dir", "path": str(tmp_path / "no-dir"), "glob": "*.csv"},
             {"entity": "pattern", "path": str(tmp_path / "none-*.csv")}]  # a glob may match nothing yet
    code, stdout, stderr = sync(tmp_path, {"files": files})
    assert code == 2 and stdout == b""
    line = the_error(stderr)
    assert f"files entry 'gone': {tmp_path / 'gone.csv'} does not exist" in line
    assert f"files entry 'dir': {tmp_path / 'no-dir'} does not exist" in line
    assert "'here'" not in line and "'pattern'" not in line


def test_an_empty_directory_cannot_be_discovered(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    code, _, stderr = sync(tmp_path, {"files": [{"entity": "people", "path": str(tmp_path / "drop")}]})
    assert code == 1
    assert "no CSV files found" in the_error(stderr)


def test_a_bad_setting_exits_2(tmp_path: Path) -> None:
    cfg, _ = file_config(tmp_path, "ok.csv", b"id\n1\n", keys=["uid"])
    code, stdout, stderr = sync(tmp_path, cfg)
    assert code == 2 and stdout == b""
    assert "files entry 'people': key 'uid' is not a column of the stream" in the_error(stderr)


def test_a_type_override_fixes_a_value_past_the_sample(tmp_path: Path) -> None:
    cfg, _ = file_config(tmp_path, "late.csv", b"id,n\n1,1\n2,2\n3,abc\n", sample_size=2, types={"n": "string"})
    code, stdout, stderr = sync(tmp_path, cfg)
    assert code == 0, stderr
    assert b'"record":{"id":3,"n":"abc"}' in stdout


def test_what_came_before_the_last_state_is_on_stdout(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1, 25_001)))
    (tmp_path / "bad.csv").write_text("id\n1\n2,3\n")
    cfg = {"files": [{"entity": "good", "path": str(tmp_path / "good.csv")},
                     {"entity": "bad", "path": str(tmp_path / "bad.csv"), "sample_size": 1}]}
    code, stdout, stderr = sync(tmp_path, cfg)
    assert code == 1
    assert "stream 'bad'" in the_error(stderr)
    messages = [json.loads(line) for line in stdout.splitlines()]  # every line whole
    last_state = max(i for i, m in enumerate(messages) if m["type"] == "STATE")
    good = [m for m in messages[:last_state] if m["type"] == "RECORD" and m["stream"] == "good"]
    assert len(good) == 25_000
    assert "good" in messages[last_state]["value"]["bookmarks"]


def test_the_connection_check_names_a_bad_header(tmp_path: Path) -> None:
    cfg, path = file_config(tmp_path, "twice.csv", b"a,a\n")
    code, stdout, stderr = sync(tmp_path, cfg, "--test")
    assert code == 1 and stdout == b""
    assert f"stream 'people': {path}, line 1: header names column 'a' twice" in the_error(stderr)


@pytest.mark.parametrize("flag", ["--catalog", "--properties"])
def test_a_catalog_file_that_is_no_catalog_is_named(tmp_path: Path, flag: str) -> None:
    cfg, _ = file_config(tmp_path, "ok.csv", b"id\n1\n")
    config = tmp_path / "config.json"  # written by sync(): given as the catalog by mistake
    code, stdout, stderr = sync(tmp_path, cfg, flag, str(config))
    assert code == 2 and stdout == b""
    assert the_error(stderr).endswith(f"catalog file {config}: catalog must be a JSON object with a 'streams' list")
    schemaless = tmp_path / "schemaless.json"
    schemaless.write_text(json.dumps({"streams": [{"tap_stream_id": "people", "stream": "people"}]}))
    code, stdout, stderr = sync(tmp_path, cfg, flag, str(schemaless))
    assert code == 2 and stdout == b""
    assert the_error(stderr).endswith(f"catalog file {schemaless}: catalog stream 'people' has no 'schema' object")

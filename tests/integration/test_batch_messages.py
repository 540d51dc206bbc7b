"""BATCH messages in the targets (protocol/_batchfiles.py): the files a manifest names, exactly those,
local only; errors naming the file and its line; batch_size_rows inside a BATCH too."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe

SCHEMA = {"type": "SCHEMA", "stream": "s", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "n": {"type": ["string", "null"]}}}}


def _batch(manifest: list[Any], compression: str = "none") -> dict[str, Any]:
    return {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl", "compression": compression},
            "manifest": manifest}


def _load(tmp_path: Path, *messages: dict[str, Any], target: str = "target-jsonl",
          config: dict[str, Any] | None = None) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    out = tmp_path / "out"
    cfg = tmp_path / "target.json"
    cfg.write_text(json.dumps(config or {"destination_path": str(out), "do_timestamp_file": False}))
    data = b"".join(json.dumps(m).encode() + b"\n" for m in (SCHEMA, *messages, {"type": "STATE", "value": {}}))
    done = subprocess.run([exe(target), "--config", str(cfg)], input=data, capture_output=True, timeout=120)
    return done, out


def _rows(path: Path, *rows: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _errors(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [ln for ln in done.stderr.decode().splitlines() if "| ERROR" in ln]


def test_a_name_with_hash_question_mark_or_percent_is_the_files_own(tmp_path: Path) -> None:
    """singer-sdk writes a URI's path as it is: ``part#2`` is a name, not ``part`` and a fragment."""
    _rows(tmp_path / "part", {"id": 9, "n": "the wrong file"})
    files = [_rows(tmp_path / name, {"id": i, "n": name}) for i, name in enumerate(["part#2", "part?3", "rows%41"])]
    encoded = _rows(tmp_path / "my file.jsonl", {"id": 7, "n": "percent-encoded URI"})
    manifest = [f"file://{f}" for f in files] + [encoded.as_uri()]
    done, out = _load(tmp_path, _batch(manifest))
    assert done.returncode == 0, done.stderr.decode()
    got = [json.loads(ln)["n"] for ln in (out / "s.jsonl").read_text().splitlines()]
    assert got == ["part#2", "part?3", "rows%41", "percent-encoded URI"]


@pytest.mark.parametrize(("uri", "words"), [
    ("s3://bucket/data.jsonl", "only local files (file:// URIs or paths) are read"),
    ("https://example.com/data.jsonl", "only local files (file:// URIs or paths) are read"),
    ("file://otherhost/tmp/data.jsonl", "names the host 'otherhost': only local files are read"),
])
def test_a_file_that_is_not_local_is_refused(tmp_path: Path, uri: str, words: str) -> None:
    local = tmp_path / "s3:" / "bucket"
    local.mkdir(parents=True)
    _rows(local / "data.jsonl", {"id": 1, "n": "a local file of that name"})  # never read for s3://
    done, out = _load(tmp_path, _batch([uri]))
    assert done.returncode != 0
    [error] = _errors(done)
    assert "line 2" in error and words in error and "field 'manifest'" in error
    assert not (out / "s.jsonl").exists() or (out / "s.jsonl").read_text() == ""


def test_a_bad_record_names_its_file_and_line(tmp_path: Path) -> None:
    good = _rows(tmp_path / "a.jsonl", *({"id": i} for i in range(5)))
    bad = _rows(tmp_path / "b.jsonl", {"id": 5}, {"id": 6}, {"id": "oops"})
    done, _ = _load(tmp_path, _batch([good.as_uri(), bad.as_uri()]))
    [error] = _errors(done)
    assert done.returncode == 1
    assert f"BATCH file {bad} line 3" in error and "field 'id'" in error and "stream 's'" in error


@pytest.mark.parametrize("case", ["truncated", "not gzip", "bz2", "manifest entry 5"])
def test_unreadable_files_and_bad_encodings_are_one_clear_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / "b.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1}\n' * 200)[:-20] if case == "truncated" else b'{"id": 1}\n')
    message = _batch([path.as_uri()], "bz2" if case == "bz2" else "gzip")
    if case == "manifest entry 5":
        message["manifest"] = [5]
    done, _ = _load(tmp_path, message)
    assert done.returncode != 0
    [error] = _errors(done)
    assert "internal error" not in error and "None" not in error and "line 2" in error
    expected = {"truncated": f"BATCH file {path} cannot be read: Compressed file ended",
                "not gzip": f"BATCH file {path} cannot be read: Not a gzipped file",
                "bz2": "BATCH compression 'bz2' is not supported (none, gzip)",
                "manifest entry 5": "BATCH 'manifest' must list file URIs (strings)"}[case]
    assert expected in error, error


def test_batch_size_rows_holds_inside_a_batch(tmp_path: Path) -> None:
    """1,000 rows in one BATCH with batch_size_rows 100 are written in ten commits, as 1,000 RECORDs
    are (target-sqlite counts each commit's rows in a METRIC line): the BATCH is not held whole."""
    rows = _rows(tmp_path / "b.jsonl", *({"id": i, "n": "x"} for i in range(1000)))
    config = {"database": str(tmp_path / "db.sqlite"), "batch_size_rows": 100}
    done, _ = _load(tmp_path, _batch([rows.as_uri()]), target="target-sqlite", config=config)
    assert done.returncode == 0, done.stderr.decode()
    commits = [ln for ln in done.stderr.decode().splitlines() if '"record_count"' in ln]
    assert len(commits) == 10, commits

"""The durable file layer shared by target-jsonl and target-csv, on real files."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from protocol import Committed
from targets.files import DurableFile, safe_name
from targets.files.durable import staged_path
from targets.files.marker import Marker


def _written(path: Path, before: bytes, data: bytes, *, sync: bool = False, **options: bool) -> bytes:
    """The file's bytes once it held ``before`` and a DurableFile on it wrote ``data`` (synced or not) and closed."""
    path.write_bytes(before)
    f = DurableFile(path, **options)
    f.write(data)
    if sync:
        f.sync()
    f.close()
    return path.read_bytes()


def test_append_keeps_existing_content_and_overwrite_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    assert _written(path, b"old\n", b"new\n", sync=True) == b"old\nnew\n"
    assert _written(path, b"old\nnew\n", b"only\n", overwrite=True) == b"only\n"


def test_overwrite_leaves_the_old_file_alone_until_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"previous run\n")
    unused = DurableFile(path, overwrite=True)
    unused.abort()
    unused.close()
    assert path.read_bytes() == b"previous run\n"


def test_abort_truncates_to_the_last_checkpoint_not_the_last_sync(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "s.jsonl"  # parents are created
    f = DurableFile(path)
    f.write(b"1\n2\n")
    f.sync()
    f.checkpoint()          # a STATE covering 1, 2 is emitted
    f.write(b"3\n")
    f.sync()                # flushed by a full batch, but no STATE covers it yet
    f.write(b"4\n")         # spilled, not even synced
    assert path.read_bytes() == b"1\n2\n3\n4\n"
    f.abort()
    assert path.read_bytes() == b"1\n2\n"
    f.close()


def test_abort_in_append_mode_without_checkpoint_restores_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"kept\n")
    f = DurableFile(path)
    f.write(b"lost\n")
    f.sync()
    f.abort()
    f.close()
    assert path.read_bytes() == b"kept\n"


def test_gzip_members_concatenate_and_abort_cuts_on_a_member_boundary(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    f = DurableFile(path, compress=True)
    f.write(b"a\n")
    f.write(b"b\n")
    f.sync()
    f.checkpoint()
    f.write(b"c\n")
    f.sync()
    f.checkpoint()
    f.write(b"d\n" * 1000)
    f.sync()
    assert gzip.decompress(path.read_bytes()) == b"a\nb\nc\n" + b"d\n" * 1000
    f.abort()
    f.close()
    assert gzip.decompress(path.read_bytes()) == b"a\nb\nc\n"
    again = DurableFile(path, compress=True)  # append a member to an existing gzip file
    again.write(b"e\n")
    again.close()
    with gzip.open(path, "rb") as fh:
        assert fh.read() == b"a\nb\nc\ne\n"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_rewrite_transforms_both_parts_and_keeps_the_rollback_point(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "s.txt"
    f = DurableFile(path, compress=compress)
    f.write(b"h\nr1\n")
    f.sync()
    f.checkpoint()
    f.write(b"r2\n")
    seen: list[tuple[bool, bytes]] = []

    def upper(part: IO[bytes], first: bool) -> Iterator[bytes]:
        data = part.read()
        seen.append((first, data))
        yield data.upper()

    f.rewrite(upper)
    assert seen == [(True, b"h\nr1\n"), (False, b"r2\n")]
    f.sync()
    f.abort()  # removes only what came after the checkpoint, in the new file's coordinates
    f.write(b"r3\n")
    f.close()
    raw = path.read_bytes()
    assert (gzip.decompress(raw) if compress else raw) == b"H\nR1\nr3\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.txt"]  # no temporary file left


def test_a_failed_rewrite_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    f = DurableFile(path)
    f.write(b"h\nr1\n")
    f.sync()

    def broken(part: IO[bytes], first: bool) -> Iterator[bytes]:
        yield b"partial"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        f.rewrite(broken)
    f.close()
    assert path.read_bytes() == b"h\nr1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.txt"]


@pytest.mark.parametrize(("stream", "name"), [
    ("orders", "orders"),
    ("public/orders", "public_orders"),
    ("a\\b", "a_b"),
    ("test:SpecialChars!in?attributes", "test:SpecialChars!in?attributes"),
    ("..", "_.."),
])
def test_safe_name_never_leaves_the_directory(stream: str, name: str) -> None:
    assert safe_name(stream) == name


def test_a_torn_last_line_from_a_killed_run_is_cut_when_appending(tmp_path: Path) -> None:
    torn = b'{"id":1}\n{"id":2}\n{"id":'
    assert _written(tmp_path / "s.jsonl", torn, b'{"id":3}\n', line_based=True) == b'{"id":1}\n{"id":2}\n{"id":3}\n'


def test_whole_lines_and_other_formats_are_left_alone(tmp_path: Path) -> None:
    whole = _written(tmp_path / "whole.jsonl", b'{"id":1}\n', b'{"id":2}\n', line_based=True)
    assert whole == b'{"id":1}\n{"id":2}\n'
    assert _written(tmp_path / "s.csv", b"id\r\n1", b"\r\n2\r\n") == b"id\r\n1\r\n2\r\n"


def test_an_overwrite_that_fails_before_its_first_state_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"previous run\n")
    f = DurableFile(path, overwrite=True)
    f.write(b"new 1\n")
    f.sync()  # a full batch went out, no STATE yet
    assert path.read_bytes() == b"previous run\n"
    f.abort()
    f.close()
    assert path.read_bytes() == b"previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]


def test_an_overwrite_replaces_the_file_at_its_first_state_and_rolls_back_from_there(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"previous run\n")
    f = DurableFile(path, overwrite=True)
    f.write(b"new 1\n")
    f.sync()
    f.checkpoint()  # the first STATE: the new file replaces the old one
    assert path.read_bytes() == b"new 1\n"
    f.write(b"new 2\n")
    f.sync()
    f.abort()
    assert path.read_bytes() == b"new 1\n"
    f.close()
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_staged_file_of_a_killed_overwrite_run_is_removed_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"previous run\n")
    stale = staged_path(path, _dead_pid())
    stale.write_bytes(b"half of a killed run's file\n")
    kept = tmp_path / ".other.jsonl.1.overwrite"  # another file's: not this one's to remove
    kept.write_bytes(b"x\n")
    f = DurableFile(path, overwrite=True)
    f.write(b"new\n")
    f.close()
    assert path.read_bytes() == b"new\n"
    assert not stale.exists() and kept.exists()


def test_the_marker_completes_a_committed_rename_that_a_killed_run_did_not_do(tmp_path: Path) -> None:
    path, staged = tmp_path / "s.jsonl", staged_path(tmp_path / "s.jsonl", 4242)
    path.write_bytes(b"previous run\n")
    staged.write_bytes(b"new 1\nnew 2 (after the commit)\n")
    marker = Marker(tmp_path, "demo")
    committed = Committed(1, 3, False, {"position": 1})
    marker.write(committed, {str(path): [(staged.stat().st_ino, 6)]}, renames={str(path): str(staged)})
    # the run died here, before its rename
    again = Marker(tmp_path, "demo")
    assert again.load() == committed
    again.recover()
    assert path.read_bytes() == b"new 1\n" and not staged.exists()


def test_the_marker_leaves_a_staged_file_it_did_not_commit(tmp_path: Path) -> None:
    path, staged = tmp_path / "s.jsonl", staged_path(tmp_path / "s.jsonl", 4242)
    path.write_bytes(b"previous run\n")
    staged.write_bytes(b"another file\n")
    marker = Marker(tmp_path, "demo")
    marker.write(Committed(1, 3, False, None), {str(path): [(path.stat().st_ino, 13)]},
                 renames={str(path): str(staged)})
    again = Marker(tmp_path, "demo")
    again.load()
    again.recover()
    assert path.read_bytes() == b"previous run\n"


def test_a_rewrite_copy_of_a_killed_run_is_removed_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"a\n1\n")
    stale = tmp_path / f".s.csv.{_dead_pid()}.rewrite"  # target-csv widened its header, killed before the rename
    stale.write_bytes(b"a,b\n1,\n")
    f = DurableFile(path)  # append mode
    f.write(b"2\n")
    f.close()
    assert path.read_bytes() == b"a\n1\n2\n" and not stale.exists()


def test_a_second_writer_of_one_file_is_refused_before_it_writes(tmp_path: Path) -> None:
    """Two runs appending to one file at once (tenants sharing a destination_path under -j N): the
    failing one's rollback truncated the file to its own last checkpoint, cutting the rows the other
    had committed since, whose stored state still said they were delivered (found by a probe). The
    second writer now fails before writing a byte, and the first's rollback cuts only its own tail."""
    from protocol import TargetError

    path = tmp_path / "shared.jsonl"
    first = DurableFile(path)
    first.write(b'{"a":1}\n')
    first.sync()
    first.checkpoint()
    first.write(b'{"a":2}\n')  # after the last STATE: rolled back below
    second = DurableFile(path)
    with pytest.raises(TargetError, match="is being written by another run"):
        second.write(b'{"b":1}\n')
    first.abort()
    assert path.read_bytes() == b'{"a":1}\n'
    first.close()
    second.write(b'{"b":1}\n')  # in turn: once the first is done
    second.sync()
    second.checkpoint()
    second.close()
    assert path.read_bytes() == b'{"a":1}\n{"b":1}\n'

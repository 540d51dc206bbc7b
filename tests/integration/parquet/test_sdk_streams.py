"""singer-sdk's canned target streams through target-parquet: the valid ones load every record
(counted per stream over all its file sets), the invalid ones stop with one error line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from targets.files import safe_name
from tests.conftest import sdk_target_streams, target_states
from tests.integration.parquet.support import parquet_files, run_target

INVALID = {"invalid_schema", "record_before_schema", "record_missing_key_property",
           "record_missing_required_property"}


def _streams() -> list[str]:
    try:
        return sorted(p.stem for p in sdk_target_streams().glob("*.singer"))
    except ImportError:
        return []


@pytest.mark.parametrize("name", _streams())
def test_canned_stream(tmp_path: Path, name: str) -> None:
    import pyarrow.parquet as pq

    data = (sdk_target_streams() / f"{name}.singer").read_bytes()
    done = run_target(tmp_path, data)
    if name in INVALID:
        assert done.returncode != 0
        assert len([ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]) == 1
        return
    assert done.returncode == 0, done.stderr.decode()
    messages = [orjson.loads(ln) for ln in data.splitlines() if ln.strip()]
    sent = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    written = Counter({stream: sum(pq.ParquetFile(f).metadata.num_rows
                                   for f in parquet_files(tmp_path / "out" / safe_name(stream)))
                       for stream in sent})
    assert written == sent
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert target_states(done.stdout)[-1:] == states[-1:]  # the last STATE is echoed, after its records

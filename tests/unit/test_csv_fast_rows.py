"""target-csv's fast row path writes exactly what csv.writer would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import loads
from targets.csv.target import main as target_csv
from tests.conftest import exe

cells = st.one_of(
    st.none(), st.integers(), st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from(list('ab ,"\n\r\'é;|\t')), max_size=6),
)


def expected_csv(rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=8))
def test_rows_match_csv_writer(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[object, object, object]]
) -> None:
    tmp = tmp_path_factory.mktemp("csv")
    schema = {"type": "object", "properties": {
        "a": {"type": ["null", "integer", "number", "string"]},
        "b": {"type": ["null", "integer", "number", "string"]},
        "c": {"type": ["null", "integer", "number", "string"]},
    }}
    lines = [orjson.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": []})]
    for a, b, c in rows:
        rec = {"a": a, "b": b, "c": c}
        lines.append(json.dumps({"type": "RECORD", "stream": "s", "record": rec},
                                default=lambda d: float(d) if isinstance(d, Decimal) else d).encode())
    config = tmp / "c.json"
    config.write_text(json.dumps({"output_path": str(tmp)}))
    done = CliRunner().invoke(target_csv, ["--config", str(config)], input=b"\n".join(lines) + b"\n")
    assert done.exit_code == 0, done.stderr
    # The expected rows come from the values as the target parsed them back (exactly) from JSON.
    parsed = [loads(line)["record"] for line in lines[1:]]
    want = expected_csv([["a", "b", "c"]] + [[r["a"], r["b"], r["c"]] for r in parsed])
    with (tmp / "s.csv").open(newline="") as fh:
        assert fh.read() == want


def test_tricky_cells_round_trip(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": ["null", "string"]}}}
    values = ['plain', 'with,comma', 'with "quote"', 'multi\nline', 'cr\rhere', ' lead', '', 'é']
    lines = [orjson.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": []})]
    lines += [orjson.dumps({"type": "RECORD", "stream": "s", "record": {"a": v, "b": None}}) for v in values]
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"output_path": str(tmp_path)}))
    done = subprocess.run([exe("target-csv"), "--config", str(config)], input=b"\n".join(lines) + b"\n",
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    with (tmp_path / "s.csv").open(newline="") as fh:
        back = list(csv.reader(fh))
    assert back == [["a", "b"]] + [[v, ""] for v in values]

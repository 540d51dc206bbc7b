"""The real console scripts joined by an OS pipe, as in a shell: tap-csv | target-jsonl."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson

from protocol import loads
from tests.conftest import exe, run, target_states

CUSTOMERS = "id,name,amount\n1,Ada,1.25\n2,Grace,12345678901234567.891\n3,Alan,\n"


def tap_config(tmp_path: Path, csv_text: str, entity: str = "customers") -> Path:
    data = tmp_path / f"{entity}.csv"
    data.write_text(csv_text)
    cfg = tmp_path / "tap.json"
    cfg.write_text(json.dumps({"files": [{"entity": entity, "path": str(data), "keys": ["id"]}]}))
    return cfg


def test_tap_csv_piped_into_target_jsonl(tmp_path: Path) -> None:
    tap_cfg = tap_config(tmp_path, CUSTOMERS)
    target_cfg = tmp_path / "target.json"
    target_cfg.write_text(json.dumps({"destination_path": str(tmp_path / "out")}))

    alone = run([exe("tap-csv"), "--config", str(tap_cfg)])
    assert alone.returncode == 0, alone.stderr
    tap_states = [m["value"] for m in map(orjson.loads, alone.stdout.splitlines()) if m["type"] == "STATE"]
    assert tap_states, "tap-csv emits a STATE"

    with open(tmp_path / "tap.err", "wb") as tap_err, open(tmp_path / "target.err", "wb") as target_err:
        tap = subprocess.Popen([exe("tap-csv"), "--config", str(tap_cfg)], stdout=subprocess.PIPE, stderr=tap_err)
        assert tap.stdout is not None
        target = subprocess.Popen([exe("target-jsonl"), "--config", str(target_cfg)], stdin=tap.stdout,
                                  stdout=subprocess.PIPE, stderr=target_err)
        tap.stdout.close()  # only the target holds the read end now
        out, _ = target.communicate(timeout=120)
        assert tap.wait(timeout=60) == 0, (tmp_path / "tap.err").read_text()
    assert target.returncode == 0, (tmp_path / "target.err").read_text()

    rows = [loads(r) for r in (tmp_path / "out" / "customers.jsonl").read_bytes().splitlines()]
    assert rows == [
        {"id": 1, "name": "Ada", "amount": 1.25},
        {"id": 2, "name": "Grace", "amount": Decimal("12345678901234567.891")},
        {"id": 3, "name": "Alan", "amount": None},
    ]
    assert target_states(out)[-1] == tap_states[-1]


def test_a_reader_that_closes_early_stops_the_tap_with_one_clear_line(tmp_path: Path) -> None:
    rows = "".join(f"{i},name {i},{i}.5\n" for i in range(1, 100_001))  # far more than a pipe buffer
    tap_cfg = tap_config(tmp_path, "id,name,amount\n" + rows)
    with open(tmp_path / "tap.err", "wb") as tap_err:
        tap = subprocess.Popen([exe("tap-csv"), "--config", str(tap_cfg)], stdout=subprocess.PIPE, stderr=tap_err)
        assert tap.stdout is not None
        head = subprocess.Popen(["head", "-c", "100"], stdin=tap.stdout, stdout=subprocess.DEVNULL)
        tap.stdout.close()
        assert head.wait(timeout=60) == 0
        code = tap.wait(timeout=60)
    stderr = (tmp_path / "tap.err").read_text()
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, stderr
    assert "closed the pipe" in errors[0]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr

r"""Deterministic benchmark inputs, cached under bench/.data/ keyed by the record count.

For N records this writes, once:

    stream-N.singer   SCHEMA (key_properties ["id"]), N RECORDs, a STATE every 10,000 records
    bench-N.csv       the same records as CSV, header first (input of tap-csv)
    tap-csv-N.json    the tap-csv config that reads bench-N.csv as stream "bench"

Every record has 10 fields: int id, name, email, an exact decimal amount written as a JSON
number with two decimals, int quantity, bool, two ISO 8601 date-times ending in Z, category,
and a 60-character note. The same N always gives byte-identical files.

The ``escaped`` variant (files ``stream-escaped-N.singer`` and so on) is the same records with
text as real taps write it: every record's name holds non-ASCII letters and its note a double
quote, a newline and non-ASCII text, and the stream file writes every non-ASCII character as a
``\uXXXX`` escape, as singer-python (``json.dumps`` with ``ensure_ascii``) does.
"""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = ["STREAM", "VARIANTS", "Dataset", "dataset", "read_lines", "stream_lines"]

VARIANTS = ("plain", "escaped")

STREAM = "bench"
STATE_EVERY = 10_000
SEED = 20240601
DATA_DIR = Path(__file__).resolve().parent / ".data"

FIELDS = ["id", "name", "email", "amount", "quantity", "active", "created_at", "updated_at", "category", "note"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
        "quantity": {"type": ["integer", "null"]},
        "active": {"type": ["boolean", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "category": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]},
    },
    "required": ["id"],
}
# tap-csv reads every column as a string unless told otherwise; these overrides give it the
# stream's real types (used only when our tap-csv accepts them, see _tap_csv_config).
CSV_TYPES: dict[str, str] = {
    "id": "integer", "amount": "number", "quantity": "integer", "active": "boolean",
    "created_at": "date-time", "updated_at": "date-time",
}

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Linus",
          "Margaret", "Dennis", "Sophie", "Tony", "Ingrid", "Niklaus"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman",
         "Torvalds", "Hamilton", "Ritchie", "Wilson", "Hoare", "Daubechies", "Wirth"]
_CATEGORIES = ["books", "garden", "tools", "music", "games", "kitchen", "outdoor", "office"]
_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
          "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
NOTE_LEN = 60


@dataclass(frozen=True)
class Dataset:
    records: int
    stream_path: Path   # Singer messages, one per line
    csv_path: Path      # the same records as CSV
    tap_csv_config: Path
    variant: str = "plain"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _note(rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < NOTE_LEN:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:NOTE_LEN].ljust(NOTE_LEN, ".")


_ACCENTED = {"Ada": "Adé", "Grace": "Grâce", "Alan": "Alañ", "Edsger": "Edsgër", "Barbara": "Bárbara",
             "Donald": "Dönald", "Frances": "Françes", "Ken": "Kén", "Radia": "Rádia", "Linus": "Linüs",
             "Margaret": "Margarét", "Dennis": "Dénnis", "Sophie": "Søphie", "Tony": "Tøny", "Ingrid": "Íngrid",
             "Niklaus": "Niklåus"}


def _escaped_note(note: str) -> str:
    """The note, kept at its length, with a quoted word, a line break and non-ASCII text."""
    tail = ' "Zürich" señor\n☃ — naïve'
    return note[:NOTE_LEN - len(tail)] + tail


def _rows(n: int, variant: str = "plain") -> Iterator[tuple[dict[str, Any], str]]:
    """(record, amount text) pairs; the amount is kept as text so it stays exact."""
    rng = random.Random(SEED)
    for i in range(1, n + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        shown = _ACCENTED[first] if variant == "escaped" else first
        cents = rng.randrange(1, 10_000_000)
        created = _EPOCH + timedelta(seconds=rng.randrange(0, 365 * 86400))
        amount = f"{cents // 100}.{cents % 100:02d}"
        yield {
            "id": i,
            "name": f"{shown} {last}",
            "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "amount": amount,
            "quantity": rng.randrange(1, 500),
            "active": rng.random() < 0.8,
            "created_at": _iso(created),
            "updated_at": _iso(created + timedelta(seconds=rng.randrange(0, 30 * 86400))),
            "category": rng.choice(_CATEGORIES),
            "note": _escaped_note(_note(rng)) if variant == "escaped" else _note(rng),
        }, amount


_NON_ASCII = re.compile(rb"[\x80-\xff]+")


def _ascii_escaped(line: bytes) -> bytes:
    """JSON text with every non-ASCII character written as ``\\uXXXX`` (surrogate pairs beyond the BMP)."""
    def escape(match: re.Match[bytes]) -> bytes:
        units = match.group().decode("utf-8").encode("utf-16-be")
        return b"".join(b"\\u%04x" % int.from_bytes(units[i:i + 2], "big") for i in range(0, len(units), 2))
    return _NON_ASCII.sub(escape, line)


def _write_stream(n: int, path: Path, variant: str = "plain") -> None:
    schema = {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]}
    with path.open("wb") as out:
        out.write(orjson.dumps(schema) + b"\n")
        buf: list[bytes] = []
        for record, amount in _rows(n, variant):
            record["amount"] = orjson.Fragment(amount.encode())
            line = orjson.dumps({"type": "RECORD", "stream": STREAM, "record": record})
            buf.append(_ascii_escaped(line) if variant == "escaped" else line)
            if record["id"] % STATE_EVERY == 0:
                value = {"bookmarks": {STREAM: {"replication_key": "id", "replication_key_value": record["id"]}}}
                buf.append(orjson.dumps({"type": "STATE", "value": value}))
                out.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
        if n % STATE_EVERY:
            value = {"bookmarks": {STREAM: {"replication_key": "id", "replication_key_value": n}}}
            out.write(orjson.dumps({"type": "STATE", "value": value}) + b"\n")


def _write_csv(n: int, path: Path, variant: str = "plain") -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for record, _amount in _rows(n, variant):
            record["active"] = "true" if record["active"] else "false"
            writer.writerow([record[f] for f in FIELDS])


def _tap_csv_accepts_types(tap_csv: Path) -> bool:
    """Whether our tap-csv's settings schema declares per-file type overrides (key ``types``)."""
    if not tap_csv.exists():
        return False
    about = subprocess.run([str(tap_csv), "--about", "--format", "json"], capture_output=True, check=False)
    if about.returncode != 0:
        return False
    try:
        settings = orjson.loads(about.stdout).get("settings", {})
    except orjson.JSONDecodeError:
        return False
    files = settings.get("properties", {}).get("files", {})
    return "types" in files.get("items", {}).get("properties", {})


def _tap_csv_config(csv_path: Path, tap_csv: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"entity": STREAM, "path": str(csv_path), "keys": ["id"]}
    if _tap_csv_accepts_types(tap_csv):
        entry["types"] = CSV_TYPES
    return {"files": [entry]}


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def dataset(n: int, tap_csv: Path, data_dir: Path = DATA_DIR, variant: str = "plain") -> Dataset:
    """The cached inputs for ``n`` records, generated on first use (``tap_csv``: our executable)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown data set variant {variant!r}; known: {', '.join(VARIANTS)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    tag = "" if variant == "plain" else f"{variant}-"
    ds = Dataset(n, data_dir / f"stream-{tag}{n}.singer", data_dir / f"bench-{tag}{n}.csv",
                 data_dir / f"tap-csv-{tag}{n}.json", variant)
    if not ds.stream_path.exists():
        _atomic(ds.stream_path, lambda p: _write_stream(n, p, variant))
    if not ds.csv_path.exists():
        _atomic(ds.csv_path, lambda p: _write_csv(n, p, variant))
    # Always rewritten: cheap, and follows tap-csv's settings as they change.
    ds.tap_csv_config.write_bytes(orjson.dumps(_tap_csv_config(ds.csv_path, tap_csv), option=orjson.OPT_INDENT_2))
    return ds


def read_lines(path: Path) -> list[bytes]:
    with path.open("rb") as fh:
        return fh.readlines()


def stream_lines(ds: Dataset) -> int:
    """Lines of the stream file: the SCHEMA, the RECORDs, a STATE per 10,000 and one at the end."""
    return 1 + ds.records + ds.records // STATE_EVERY + (1 if ds.records % STATE_EVERY else 0)

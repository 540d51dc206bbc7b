"""What a run tells at its end: the summary of records and state, and the line of a stopped run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from protocol import plural
from runner.counts import nothing_moved
from runner.outcome import Outcome, StopCause
from runner.output import RunOutput

__all__ = ["stopped_line", "summary", "summary_record", "write_summary_json"]

_STOPPED_BY = {StopCause.SIGINT: "interrupted by SIGINT (Ctrl-C)", StopCause.SIGTERM: "interrupted by SIGTERM"}


def stopped_line(pipeline: str, timeout: float | None, cause: StopCause, saved: int, had_state: bool) -> str:
    """The last line of a run the runner stopped: by whom, and what is kept. Never the data's fault."""
    how = _STOPPED_BY.get(cause) or f"timed out after {timeout:g} s (--timeout)"
    if saved:
        kept = (f"the data is committed up to the last STATE the target sent ({saved} stored this run); "
                f"the next run resumes from there")
    else:
        kept = "the target sent no STATE, so no new state was stored; the next run starts from " + (
            "the stored state again" if had_state else "the beginning again")
    return f"sluice: run of pipeline '{pipeline}' {how}; {kept}"


def summary(output: RunOutput, state_id: str, outcome: Outcome, saved: int, had_state: bool,
            keyed: dict[str, bool]) -> None:
    """The run's summary: its status, records per stream (emitted, committed, mismatches), state kept."""
    emitted, committed = outcome.tap.stats, outcome.target.stats
    streams = sorted(set(emitted.counts) | set(committed.counts))
    width = max([len("stream"), *(len(s) for s in streams)])
    lines = [f"summary: {outcome.status} in {outcome.elapsed:.2f} s"]
    if outcome.ok and nothing_moved(emitted, committed):
        lines.append("  0 records: nothing new since the last run" if had_state else
                     "  0 records: the tap emitted none")
    elif not streams:
        lines.append("  no record counts reported (no METRIC record_count lines from either side)")
    else:
        lines.append(f"  {'stream':<{width}}  {'tap emitted':>12}  {'target committed':>16}")
        # a mapper between may filter, rename, copy or drop streams: the two counts then differ by design
        both = emitted.reported and committed.reported and not outcome.mappers
        for stream in streams:
            e = emitted.counts.get(stream, 0) if emitted.reported else None
            c = committed.counts.get(stream, 0) if committed.reported else None
            flag = ""
            if both and e != c:
                assert e is not None and c is not None
                flag = f"  <- MISMATCH: {c - e:,} more committed than emitted"
                if e > c:
                    flag = _shortfall_flag(e - c, keyed.get(stream))
            lines.append(f"  {stream:<{width}}  {_n(e):>12}  {_n(c):>16}{flag}")
        for side, stats in (("tap", emitted), ("target", committed)):
            if not stats.reported:
                lines.append(f"  note: the {side} reported no record counts (no METRIC record_count lines)")
        if outcome.mappers:
            lines.append("  note: the counts are not compared: the maps between may filter, rename or copy streams")
    if outcome.state_overlong is not None:
        lines.append(f"  state: a line too long to read for a STATE was not stored ({plural(saved, 'STATE value')} "
                     f"stored under '{state_id}')")
    elif saved:
        lines.append(f"  state: {plural(saved, 'STATE value')} stored under '{state_id}'")
    else:
        kept = "the stored bookmarks are unchanged" if had_state else "nothing stored"
        lines.append(f"  state: the target sent no STATE; {kept}")
    for line in lines:
        output.runner_line(line)


def _shortfall_flag(gap: int, has_keys: bool | None) -> str:
    if has_keys is False:
        return f"  <- MISMATCH: {gap:,} not committed (no key properties)"
    why = "keys unknown: not in the catalog" if has_keys is None else "has key properties: may be merged duplicates"
    return f"  <- MISMATCH: {gap:,} not committed ({why})"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def summary_record(pipeline: str, state_id: str, run: tuple[int, int], outcome: Outcome, saved: int,
                   last_line: str) -> dict[str, Any]:
    """The run's summary as data (``sluice run --summary-json``): what orchestrators read. ``run`` is
    (the run's number, as ``sluice runs`` shows it; the store's id of the run)."""
    emitted, committed = outcome.tap.stats, outcome.target.stats
    none_moved = outcome.ok and nothing_moved(emitted, committed)  # the target may then report no counts
    committed_total = 0 if none_moved else (committed.total if committed.reported else None)
    streams = {
        stream: {"emitted": emitted.counts.get(stream, 0) if emitted.reported else None,
                 "committed": committed.counts.get(stream, 0) if committed.reported or none_moved else None}
        for stream in sorted(set(emitted.counts) | set(committed.counts))
    }
    return {
        "pipeline": pipeline, "state_id": state_id, "run": run[0], "run_id": run[1],
        "status": str(outcome.status), "exit_code": int(outcome.exit_code), "duration_s": round(outcome.elapsed, 3),
        "records_emitted": emitted.total if emitted.reported else None, "records_committed": committed_total,
        "streams": streams, "states_stored": saved, "message": last_line.removeprefix("sluice: "),
    }


def write_summary_json(path: Path, record: dict[str, Any]) -> None:
    """Write the summary atomically (a temporary file beside it, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # the summary file only: not imported by every run

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

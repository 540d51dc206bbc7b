"""Checks that turn a run that looked fine into a failed one, after its processes ended.

A run recorded as succeeded promises two things the next run relies on: every record of a
keyless stream the tap emitted was committed, and every STATE the target committed is in the
store. The second one lets an exactly-once run skip asking the target for its committed state
(runner/run.py); a STATE the target committed but the runner did not store would then be
forgotten, and the next run would load its records again.
"""

from __future__ import annotations

from runner.counts import keyless_shortfalls
from runner.outcome import Outcome
from runner.pumps import MAX_STATE_LINE

__all__ = ["fail_on_lost_records", "fail_on_unstored_state"]


def fail_on_lost_records(outcome: Outcome, keyed: dict[str, bool]) -> None:
    """A run that committed fewer records of a keyless stream than the tap emitted failed. Not
    with mappers between: they may filter, rename, copy and key streams (see run_summary)."""
    if outcome.mappers:
        return
    lost = keyless_shortfalls(outcome.tap.stats, outcome.target.stats, keyed)
    if lost and outcome.ok:
        outcome.fail("target", "; ".join(shortfall.describe() for shortfall in lost), outcome.target.spec.name)


def fail_on_unstored_state(outcome: Outcome, lock_lost: bool) -> None:
    """A run whose target sent a STATE the runner could not store failed: a line too long to read
    (runner/pumps.py, MAX_STATE_LINE), or a STATE that came after the pipeline lock was lost."""
    if not outcome.ok:
        return
    if outcome.state_overlong is not None:
        outcome.fail("runner", f"target '{outcome.target.spec.name}' wrote a line of {_mib(outcome.state_overlong)} "
                               f"on stdout, longer than the {_mib(MAX_STATE_LINE)} the runner reads for a STATE: "
                               "the state it carried was not stored")
    elif lock_lost:
        outcome.fail("runner", "lost the pipeline lock (its state store session ended or stopped answering): "
                               "the target's last STATE was not stored")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size % (1 << 20) else f"{size >> 20} MiB"

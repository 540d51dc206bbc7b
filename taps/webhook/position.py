"""tap-webhook's STATE, ``{"seq": N, "spool": "<id>", "reader": "<id>"}``, and the checks that keep a
state from pruning what it never read.

``seq`` is the spool position a target committed; ``spool`` the id of the spool it was taken from
(:mod:`taps.webhook.ledger`), so a state is never applied to another spool (a spool recreated under
an old state would otherwise lose its first N deliveries to the prune); ``reader`` the pipeline's
id in the spool's list of readers, so a run prunes only what every pipeline reading the spool has
passed, and a pipeline that comes back after others pruned past it fails instead of missing them.

A state from before the ids (``{"seq": N}``) still works on the spool it came from: that spool got
its id when this version first opened it, at a position the state cannot be past. A spool created
with its id (at position 0) cannot be the one such a state came from, so it is refused there.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError

__all__ = ["SpoolState", "check_spool", "check_unpruned"]


@dataclass(frozen=True)
class SpoolState:
    seq: int
    spool: str | None  # the spool's id; None in a state from before ids
    reader: str | None  # the pipeline's reader id; None before its first run

    @classmethod
    def parse(cls, state: dict[str, Any]) -> SpoolState:
        seq = state.get("seq", 0)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ConfigError(f"state: 'seq' must be a spool position (an integer >= 0), not {seq!r}")
        ids = {key: state.get(key) for key in ("spool", "reader")}
        for key, value in ids.items():
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"state: '{key}' must be an id (a string), not {value!r}")
        return cls(seq, ids["spool"], ids["reader"])

    def at(self, seq: int) -> dict[str, Any]:
        """The state a run writes once a target has every delivery up to ``seq``."""
        value: dict[str, Any] = {"seq": seq}
        if self.spool is not None:
            value["spool"] = self.spool
        if self.reader is not None:
            value["reader"] = self.reader
        return value

    def on(self, spool: str) -> SpoolState:
        """This state for ``spool`` ("": a PostgreSQL spool table not created yet), with a reader id (a new
        one on a pipeline's first run)."""
        return SpoolState(self.seq, spool or self.spool, self.reader or secrets.token_hex(8))


def check_spool(state: SpoolState, spool: str, identified_at: int, horizon: int, where: str) -> None:
    """Refuse a state taken from another spool (exit 2): its prune would delete unread deliveries."""
    clear = "nothing was pruned; clear the state to read this spool from its start"
    if state.spool is not None and state.spool != spool:
        raise ConfigError(f"state: taken from spool {state.spool}, but {where} is spool {spool} (recreated?): {clear}")
    if state.spool is None and state.seq > identified_at:
        confirmed = json.dumps(state.at(state.seq) | {"spool": spool})
        raise ConfigError(f"state: position {state.seq} names no spool, but {where} is spool {spool}, which got "
                          f"its id at position {identified_at}, before any such state could be taken from it "
                          f"(recreated?): {clear} (or, if the state is from this spool, set it to {confirmed})")
    if state.seq > horizon:
        raise ConfigError(f"the state's position {state.seq} is past the last position of spool {where} "
                          f"({horizon}): it is not the spool the state was taken from (recreated?); {clear}")


def check_unpruned(state: SpoolState, pruned: int, where: str) -> None:
    """Refuse a state behind what the spool has pruned: the deliveries between are gone for it."""
    if state.seq >= pruned or (state.seq == 0 and state.reader is None):
        return  # a pipeline's first run reads what the spool holds (check_spool saw the rest)
    skip = json.dumps(state.at(pruned))
    raise ConfigError(f"state: position {state.seq} is behind what {where} has pruned (up to {pruned}): another "
                      "pipeline reading the spool pruned them, or this one was idle longer than "
                      f"spool.reader_idle_days; the deliveries after {state.seq} up to {pruned} are gone for it. "
                      f"To go on without them, set the state to {skip}")

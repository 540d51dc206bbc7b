"""``sluice locks``, and what ``sluice run --all`` asks the store before it starts a pipeline.

Both matter most when several hosts share one PostgreSQL store (docs/scaling.md, "Many
hosts, one store"), and work the same with SQLite. Also: is a name given to ``sluice state`` or
``sluice runs`` one the project or the store knows (else, most likely, a typo)?
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import click

from protocol import ExitCode
from runner.cli_context import Ctx, when
from runner.cli_environment import environment_option
from runner.hints import did_you_mean
from runner.stores import StateStore, StoreError, ran_since

__all__ = ["Batch", "locks", "run_names", "state_ids", "stray_name"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (since: seconds since the epoch).")
@environment_option
@click.pass_obj
def locks(obj: Ctx, as_json: bool) -> int:
    """The pipeline locks held now, by any runner on any host sharing the store: state id,
    pipeline, host, pid, since when, and the run (its number in `sluice runs`)."""
    with obj.open_store() as store:
        held = store.locks()
    if as_json:
        for info in held:
            click.echo(json.dumps(info.to_dict()))
        return ExitCode.OK
    click.echo("STATE ID\tPIPELINE\tHOST\tPID\tSINCE\tRUN")
    for info in held:
        run = "-" if info.run is None else str(info.run)
        click.echo(f"{info.state_id}\t{info.pipeline or '-'}\t{info.host}\t{info.pid}\t{when(info.since)}\t{run}")
    return ExitCode.OK


class Batch:
    """Asked by ``sluice run --all`` before it starts a pipeline: is it running already (its lock
    held, here or on another host), or did a run of it that began since this batch began
    succeed (another host's batch did it)? Either way the pipeline is skipped."""

    def __init__(self, obj: Ctx, active: bool) -> None:
        self._obj = obj
        self._store: StateStore | None = None
        self.began: float | None = None  # on the store's clock
        if active:
            try:
                self._store = obj.open_store()
                self.began = self._store.clock()
            except StoreError:
                self.close()  # each runner will say what is wrong with the store

    def skip(self, name: str) -> str | None:
        if self._store is None or self.began is None:
            return None
        try:
            state_id = self._obj.state_id(name)
            holder = self._store.lock_holder(state_id)
            if holder is not None:
                return f"already running: {holder}"
            done = self._store.succeeded_since(name, state_id, self.began)
        except StoreError:
            return None
        return None if done is None else ran_since(done)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def stray_name(obj: Ctx, name: str, stored: Callable[[], Iterable[str]]) -> str | None:
    """None for a pipeline, a pipeline's state id or a name in ``stored()``; for any other name the hint
    "; did you mean 'x'?" naming the closest of the first two, else the closest stored name, or "" when
    none is close."""
    project = obj.project
    declared = [*project.pipelines.values(), *project.disabled.values()]
    pipes = dict.fromkeys([*project.templates, *(p.name for p in declared), *(p.state_id for p in declared)])
    names = {} if name in pipes else dict.fromkeys(stored())
    return None if name in pipes or name in names else did_you_mean(name, pipes) or did_you_mean(name, names)


def state_ids(store: StateStore) -> Callable[[], Iterable[str]]:
    """The state ids ``store`` holds, when asked."""
    return lambda: (state_id for state_id, _ in store.list_states())


def run_names(store: StateStore, recent: int = 500) -> Callable[[], Iterable[str]]:
    """The pipelines of the ``recent`` last runs ``store`` recorded, when asked."""
    return lambda: (record.pipeline for record in store.runs(None, recent))

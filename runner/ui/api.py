"""The JSON API under /api/: everything the pages show, for other tools (documented in docs/ui.md)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from protocol import dumps
from runner.ui.app import Reader
from runner.ui.data import DashboardData

__all__ = ["ENDPOINTS", "MAX_LIMIT", "int_param", "json_response", "routes"]

MAX_LIMIT = 1000
ENDPOINTS = {
    "/api/pipelines": "every pipeline (and tenant): last run, schedule, next due, running now on which host",
    "/api/runs?pipeline=NAME[&limit=N][&before=ID]": "a pipeline's runs, newest first (limit 1..1000, default 200; "
                                                     "before: only runs with an id below ID, as next_before says)",
    "/api/runs/ID": "one run: per-stream emitted and committed, error, commands (redacted), log tail",
    "/api/runs/ID/progress": "a run's live progress: records per stream, rate, when last updated",
    "/api/states": "every stored state: its JSON value, generation, when written",
    "/api/locks": "the pipeline locks held now: host, pid, since, run",
}


def json_response(value: Any, status: int = 200) -> Response:
    return Response(dumps(value), status, media_type="application/json")  # stored states: exact numbers


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer query parameter within [low, high]; 400 otherwise."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be a whole number from {low} to {high}")
    return value


def routes(read: Reader) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return json_response({"endpoints": ENDPOINTS})

    async def pipelines(request: Request) -> Response:
        rows = await read(lambda d: [p.to_dict() for p in d.pipelines()])
        return json_response({"pipelines": rows})

    async def runs(request: Request) -> Response:
        pipeline = request.query_params.get("pipeline")
        if not pipeline:
            raise HTTPException(400, "name the pipeline: /api/runs?pipeline=NAME")
        limit = int_param(request, "limit", 200, 1, MAX_LIMIT)
        before = int_param(request, "before", None, 1, 2**62)
        found = await read(lambda d: [r.to_dict() for r in d.history(pipeline, limit or 200, before)])
        more = found[-1]["id"] if len(found) == limit else None
        return json_response({"pipeline": pipeline, "runs": found, "next_before": more})

    async def run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        detail = await read(lambda d: d.run(run_id))
        if detail is None:
            raise HTTPException(404, f"no run {run_id}")
        return json_response(detail.to_dict())

    async def progress(request: Request) -> Response:
        run_id = request.path_params["run_id"]

        def both(d: DashboardData) -> dict[str, Any] | None:
            detail = d.run(run_id)
            if detail is None:
                return None
            streams = [p.to_dict() for p in d.progress(run_id)]
            return {"run_id": run_id, "status": detail.run.status, "streams": streams,
                    "records_emitted": detail.run.records_emitted, "records_committed": detail.run.records_committed}

        found = await read(both)
        if found is None:
            raise HTTPException(404, f"no run {run_id}")
        return json_response(found)

    async def states(request: Request) -> Response:
        return json_response({"states": await read(lambda d: [s.to_dict() for s in d.states()])})

    async def locks(request: Request) -> Response:
        return json_response({"locks": await read(lambda d: [lock.to_dict() for lock in d.locks()])})

    return [
        Route("/api/", index), Route("/api/pipelines", pipelines), Route("/api/runs", runs),
        Route("/api/runs/{run_id:int}", run), Route("/api/runs/{run_id:int}/progress", progress),
        Route("/api/states", states), Route("/api/locks", locks),
    ]

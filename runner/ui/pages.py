"""The dashboard's HTML pages: pipelines, a pipeline's history, a run, state and locks."""

from __future__ import annotations

from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from runner.ui.api import int_param
from runner.ui.app import Reader
from runner.ui.charts import duration_chart, rows_chart
from runner.ui.data import DashboardData

__all__ = ["HISTORY_RUNS", "routes"]

HISTORY_RUNS = 200  # runs per history page (and per chart)


def routes(read: Reader, env: jinja2.Environment) -> list[BaseRoute]:
    def page(name: str, **values: Any) -> str:
        return env.get_template(name).render(**values)

    async def pipelines(request: Request) -> Response:
        return HTMLResponse(await read(lambda d: page("pipelines.html", pipelines=d.pipelines())))

    async def history(request: Request) -> Response:
        name = request.path_params["name"]
        before = int_param(request, "before", None, 1, 2**62)

        def render(d: DashboardData) -> str | None:
            runs = d.history(name, HISTORY_RUNS, before)
            if not runs and before is None and all(p.pipeline != name for p in d.pipelines()):
                return None
            older = runs[-1].id if len(runs) == HISTORY_RUNS else None
            return page("history.html", pipeline=name, runs=runs, rows=rows_chart(runs),
                        duration=duration_chart(runs), older=older, paged=before is not None)

        html = await read(render)
        if html is None:
            raise HTTPException(404, f"no pipeline '{name}' in the project or the store")
        return HTMLResponse(html)

    async def run(request: Request) -> Response:
        run_id = request.path_params["run_id"]

        def render(d: DashboardData) -> str | None:
            detail = d.run(run_id)
            if detail is None:
                return None
            live = d.progress(run_id) if detail.run.status == "running" else []
            return page("run.html", detail=detail, run=detail.run, live=live)

        html = await read(render)
        if html is None:
            raise HTTPException(404, f"no run with id {run_id}")
        return HTMLResponse(html)

    async def state(request: Request) -> Response:
        return HTMLResponse(await read(lambda d: page("state.html", states=d.states(), locks=d.locks())))

    return [Route("/", pipelines), Route("/pipelines/{name:path}", history), Route("/runs/{run_id:int}", run),
            Route("/state", state)]

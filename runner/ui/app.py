"""The dashboard's web application: Starlette routes over :class:`runner.ui.data.DashboardData`.

Pages (runner/ui/pages.py) and the JSON API (runner/ui/api.py, documented in docs/ui.md) read the
store through one worker thread that owns the store's connection (SQLite connections belong to the
thread that opened them; one reader also keeps a PostgreSQL store at one session). Every template is
autoescaped; the pages use one stylesheet and one script served from /static (no CDN, no inline
script), and :class:`runner.ui.security.Guard` wraps it all.

Needs the extra ``sluice[ui]``; imported only by ``sluice ui`` and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from protocol import ConfigError
from runner.stores import StoreError
from runner.ui.data import DashboardData
from runner.ui.format import FILTERS
from runner.ui.security import Guard, is_loopback

MISSING = "sluice ui needs the extra, which is not installed: pip install 'sluice[ui]'"

try:
    import jinja2
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles
except ImportError as exc:  # the extra is not installed

    class UIMissing(ConfigError, ImportError):
        """``runner.ui.app`` imported without the extra."""

    raise UIMissing(MISSING) from exc


__all__ = ["MISSING", "Reader", "create_app", "require_token"]

HERE = Path(__file__).parent
T = TypeVar("T")


class Reader:
    """Runs reads of the store on its one worker thread, which opens the store on first use."""

    def __init__(self, open_data: Callable[[], DashboardData]) -> None:
        self._open = open_data
        self._data: DashboardData | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluice-ui-store")

    def _call(self, fn: Callable[[DashboardData], T]) -> T:
        if self._data is None:
            self._data = self._open()
        try:
            return fn(self._data)
        except StoreError:  # the next request opens the store again (a PostgreSQL session may be gone)
            self._drop()
            raise

    def _drop(self) -> None:
        data, self._data = self._data, None
        if data is not None:
            with contextlib.suppress(StoreError):
                data.close()

    async def __call__(self, fn: Callable[[DashboardData], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def close(self) -> None:
        self._pool.submit(self._drop).result()
        self._pool.shutdown()


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


MIN_TOKEN = 16  # characters: a token is guessed by asking, one 401 at a time


def require_token(host: str, token: str | None) -> str | None:
    """The token the server asks for: ``SLUICE_UI_TOKEN`` (``token``), required off loopback; a set
    token shorter than :data:`MIN_TOKEN` characters (or blank) is refused wherever it listens."""
    if token is not None and token != "":
        if len(token.strip()) < MIN_TOKEN:
            raise ConfigError(f"SLUICE_UI_TOKEN is too short ({len(token.strip())} characters): use at least "
                              f"{MIN_TOKEN} random ones, as: "
                              "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return token
    if not is_loopback(host):
        raise ConfigError(f"sluice ui --host {host} listens beyond the loopback: set SLUICE_UI_TOKEN to a secret "
                          "every visitor must give (or listen on 127.0.0.1)")
    return None


def create_app(open_data: Callable[[], DashboardData], token: str | None = None) -> Any:
    """The whole application, guarded. ``token`` None: loopback only (see :func:`require_token`)."""
    from runner.ui import api, pages

    reader = Reader(open_data)
    env = templates()

    async def store_down(request: Any, exc: Exception) -> Response:
        text = f"the state store cannot be read: {exc}"
        if request.url.path.startswith("/api/"):
            return api.json_response({"error": text}, 503)
        return Response(env.get_template("error.html").render(title="State store unavailable", message=text),
                        503, media_type="text/html")

    async def http_error(request: Any, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = str(getattr(exc, "detail", "") or exc)
        if request.url.path.startswith("/api/"):
            return api.json_response({"error": detail}, status)
        title = "Not found" if status == 404 else f"Error {status}"
        return Response(env.get_template("error.html").render(title=title, message=detail), status,
                        media_type="text/html")

    routes = [*pages.routes(reader, env), *api.routes(reader),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        reader.close()

    handlers = {StoreError: store_down, HTTPException: http_error}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    return Guard(app, token)


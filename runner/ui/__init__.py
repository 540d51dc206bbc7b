"""``sluice ui``: a read-only dashboard over the project's state store.

:mod:`runner.ui.data` reads the store (no third-party import); :mod:`runner.ui.app` builds the web
application on the extra ``sluice[ui]`` (Starlette, Uvicorn, Jinja2) and is imported only by
``sluice ui``.
"""

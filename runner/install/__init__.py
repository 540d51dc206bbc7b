"""Connector installs: one virtual environment per connector with a ``pip_url``, and ``sluice.lock``.

- ``envs``: where a connector's environment lives (``.sluice/venvs/<name>``), the key that says
  whether it is current (its ``pip_url`` and interpreter), and what is installed in it.
- ``lockfile``: ``sluice.lock``, the resolved distributions of every connector.
- ``builder``: making one environment with uv (when available) or ``python -m venv`` + pip.
- ``startcheck``: after a build, the connector's program is there and starts (``--help``).
- ``jobs``: installing many connectors at once, with progress, a failure kept to its connector.
"""

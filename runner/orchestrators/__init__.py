"""Sluice pipelines under orchestrators. ``runner.orchestrators.dagster`` needs ``sluice[dagster]``,
``runner.orchestrators.airflow`` needs ``sluice[airflow]``; ``runner.orchestrators.sluice_run``
(``sluice run`` as a subprocess, its outcome as data) needs nothing."""

"""Issue 3: the runner. ``sluice run`` against a shell pipe and against ``meltano run``.

runner-overhead: tap-csv | target-jsonl through ``sluice run`` vs ``sh -c 'tap-csv | target-jsonl'``.
runner-ceiling: tools/cat_tap.py | tools/count_target.py (a file copied into a line counter)
through ``sluice run``, ``meltano run`` and ``sh -c``, on 5 x N records; every side also runs on
an empty input, which gives each its start-up time and a net rate (lines / (wall - start-up)).
Both measure the peak RSS of the sluice process alone (sampled VmHWM, children excluded).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from checks import lines_check
from datagen import DATA_DIR, Dataset, stream_lines
from model import Comparison, Goal, Program, Venv
from runnerbench import MELTANO_ENV, meltano_argv, meltano_setup, shell_pipe_argv, sluice_argv, tool

__all__ = ["MELTANO", "RUNNER_COMPARISONS", "warm"]

MELTANO = Venv("meltano", ("meltano",),
               note="a throwaway project in bench/.data/meltano-project: both bench tools as custom plugins with an "
                    "absolute `executable` and no pip_url (`meltano install` skips them), run with --full-refresh")

Argv = Callable[[Path, Path, Dataset], list[str]]


def warm(argv: Argv, before: Callable[[Path, Dataset], None] | None = None) -> Callable[[Path, Dataset], None]:
    """A setup that runs the program once, unmeasured: fills the runner's ``--about`` cache, Meltano's db."""
    def setup(bin_dir: Path, ds: Dataset) -> None:
        if before is not None:
            before(bin_dir, ds)
        out = DATA_DIR / "out" / "warm-up"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        subprocess.run(argv(bin_dir, out, ds), cwd=out, stdin=subprocess.DEVNULL, capture_output=True,
                       env={**os.environ, **MELTANO_ENV}, check=False)
        shutil.rmtree(out, ignore_errors=True)
    return setup


# -- runner-overhead: tap-csv | target-jsonl ----------------------------------------------

def _csv_config(ds: Dataset) -> dict[str, Any]:
    config: dict[str, Any] = orjson.loads(ds.tap_csv_config.read_bytes())
    return config


def _jsonl_config(out: Path) -> dict[str, Any]:
    return {"destination_path": str(out), "do_timestamp_file": False}


def _sluice_csv_jsonl(bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    return sluice_argv(bin_dir, "overhead", [
        {"name": "tap-csv", "executable": str(bin_dir / "tap-csv"), "config": _csv_config(ds)},
        {"name": "target-jsonl", "executable": str(bin_dir / "target-jsonl"), "config": _jsonl_config(out)},
    ])


def _sh_csv_jsonl(bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    return shell_pipe_argv(out.parent, str(bin_dir / "tap-csv"), _csv_config(ds), str(bin_dir / "target-jsonl"),
                           _jsonl_config(out))


# -- runner-ceiling: cat-tap | count-target ------------------------------------------------

def _count_check(out: Path, _stderr: Path, ds: Dataset) -> str:
    path = out / "count.txt"
    if not path.exists():
        return f"count-target wrote no {path}"
    counted, expected = int(path.read_text().strip() or 0), stream_lines(ds)
    return "" if counted == expected else f"count-target counted {counted} lines, expected {expected}"


def _sluice_cat_count(bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    return sluice_argv(bin_dir, "ceiling", [
        {"name": "cat-tap", "executable": str(tool("cat_tap")), "config": {"path": str(ds.stream_path)}},
        {"name": "count-target", "executable": str(tool("count_target")),
         "config": {"count_path": str(out / "count.txt")}},
    ])


def _sh_cat_count(_bin_dir: Path, out: Path, ds: Dataset) -> list[str]:
    return shell_pipe_argv(out.parent, str(tool("cat_tap")), {"path": str(ds.stream_path)}, str(tool("count_target")),
                           {"count_path": str(out / "count.txt")})


SLUICE_OVERHEAD = "sluice run tap-csv target-jsonl"
SH_OVERHEAD = "sh -c 'tap-csv | target-jsonl'"
SLUICE_CEILING = "sluice run cat-tap count-target"
MELTANO_CEILING = "meltano run cat-tap count-target"
SH_CEILING = "sh -c 'cat-tap | count-target'"

RUNNER_COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "runner-overhead",
        ours=Program(SLUICE_OVERHEAD, "sluice", "command", None, lines_check("*.jsonl", header=False),
                     argv=_sluice_csv_jsonl, setup=warm(_sluice_csv_jsonl), rss="self"),
        peer=Program(SH_OVERHEAD, "sh", "command", None, lines_check("*.jsonl", header=False), argv=_sh_csv_jsonl),
        goals=(Goal("overhead", 3, SH_OVERHEAD, "sh pipe"), Goal("mb", 60)),
    ),
    Comparison(
        "runner-ceiling",
        ours=Program(SLUICE_CEILING, "sluice", "command", None, _count_check, argv=_sluice_cat_count,
                     setup=warm(_sluice_cat_count), rss="self"),
        peer=Program(MELTANO_CEILING, "meltano", "command", None, _count_check, venv=MELTANO, argv=meltano_argv,
                     setup=warm(meltano_argv, meltano_setup), env=MELTANO_ENV),
        others=(Program(SH_CEILING, "sh", "command", None, _count_check, argv=_sh_cat_count),),
        goals=(Goal("peer", 10), Goal("startup", 0.3, SH_CEILING, "sh pipe"), Goal("mb", 60)),
        startup=True,
        count=stream_lines,
        scale=5,
    ),
)

"""The streams an orchestrator reads for one asset per stream (runner/orchestrators/streams.py): a
tap whose --discover fails quoting its credentials must not put them in the definitions' log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from protocol import SluiceError
from runner.orchestrators.streams import selected_streams
from runner.project import load_project

_TAP = """#!{python}
import json, sys
args = sys.argv[1:]
if "--about" in args:
    print(json.dumps({{"name": "tap-leaky", "capabilities": ["discover"], "settings": {{"type": "object",
        "properties": {{"api_key": {{"type": "string", "secret": True}}, "port": {{"type": "integer"}}}}}}}}))
    sys.exit(0)
config = json.load(open(args[args.index("--config") + 1]))
if not isinstance(config["port"], int):
    sys.exit("port is no integer: " + repr(config["port"]))
sys.exit("login failed for api_key=" + config["api_key"])
"""


def test_a_failed_discover_is_redacted_and_gets_the_config_a_run_gets(tmp_path: Path) -> None:
    tap = tmp_path / "tap-leaky"
    tap.write_text(_TAP.format(python=sys.executable))
    tap.chmod(0o755)
    (tmp_path / "sluice.yml").write_text(json.dumps({
        "connectors": [{"name": "leaky", "executable": str(tap), "config": {"api_key": "sk_live_51Hq", "port": "5432"},
                        "metadata": {"*": {"selected": True}}},
                       {"name": "out", "executable": sys.executable}],
        "pipelines": [{"name": "p", "tap": "leaky", "target": "out"}],
    }))
    project = load_project(tmp_path / "sluice.yml")
    with pytest.raises(SluiceError) as info:
        selected_streams(project, project.pipelines["p"])
    text = str(info.value)
    assert "login failed for api_key=********" in text and "sk_live_51Hq" not in text  # and the port was coerced

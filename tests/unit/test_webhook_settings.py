"""tap-webhook's settings: validated by the schema, parsed once into a frozen object with the
defaults stated in the schema, mistakes named (with a did-you-mean), secrets findable for redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, load_config, secret_values
from taps.webhook.settings import SETTINGS, WebhookSettings


def parse(tmp_path: Path, config: dict[str, Any]) -> WebhookSettings:
    import json

    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    return WebhookSettings.from_config(load_config([str(path)], connector_name="tap-webhook",
                                                   settings_schema=SETTINGS, environ={}))


def test_defaults(tmp_path: Path) -> None:
    s = parse(tmp_path, {"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]},
                                     "sl": {"provider": "slack", "secrets": ["b"], "streams": "event_type",
                                            "keep_headers": ["X-Tenant", "x-tenant"],
                                            "content_types": ["Application/JSON; charset=utf-8"]}}})
    assert (s.spool.backend, s.spool.path, s.spool.table) == ("sqlite", "webhooks.db", "sluice_webhook_deliveries")
    assert (s.server.host, s.server.port, s.server.max_body_bytes, s.server.commit_window_ms,
            s.server.shutdown_grace_seconds) == ("127.0.0.1", 8787, 1_048_576, 2, 30)
    gh, sl = s.sources["gh"], s.sources["sl"]
    assert list(s.sources) == ["gh", "sl"]
    assert (gh.streams, gh.content_types, gh.keep_headers[:2]) == (
        "source", frozenset({"application/json", "application/x-www-form-urlencoded"}),
        ("x-github-event", "x-github-delivery"))
    assert (sl.streams, sl.content_types, sl.keep_headers) == ("event_type", frozenset({"application/json"}),
                                                                ("x-tenant",))
    assert gh.options["tolerance_seconds"] == 300 and "timestamp_header" not in gh.options  # None: unset


@pytest.mark.parametrize(("config", "problem"), [
    ({"sources": {}}, "sources"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"], "secret": "b"}}},
     "'sources.gh.secret' is not known (did you mean 'secrets'?)"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}}, "spool": {"backend": "postgres"}},
     "spool.dsn' is required"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}}, "spool": {"table": "x; drop table y"}},
     "is not a table name"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}}, "server": {"prot": 1}},
     "'server.prot' is not known (did you mean 'port'?)"),
    ({"sources": {"bad name": {"provider": "github", "secrets": ["sec-aaa"]}}}, "bad name"),
    ({"sources": {"gh": {"provider": "gitbucket", "secrets": ["sec-aaa"]}}}, "gitbucket"),
])
def test_mistakes_are_named(tmp_path: Path, config: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(tmp_path, config)
    assert problem in str(caught.value)


def test_every_secret_is_found_for_redaction() -> None:
    config = {"spool": {"backend": "postgres", "dsn": "postgresql://u:pw-1@h/db"},
              "sources": {"a": {"provider": "github", "secrets": ["s-1", "s-2"]},
                          "b": {"provider": "stripe", "secrets": ["s-3"]}}}
    assert sorted(secret_values(config, SETTINGS)) == ["postgresql://u:pw-1@h/db", "s-1", "s-2", "s-3"]

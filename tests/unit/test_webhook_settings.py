"""tap-webhook's settings: validated by the schema, parsed once into a frozen object with the
defaults stated in the schema, mistakes named (with a did-you-mean), secrets findable for redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, load_config, secret_values
from taps.webhook.settings import SETTINGS, WebhookSettings
from taps.webhook.tap import TapWebhook


def parse(tmp_path: Path, config: dict[str, Any]) -> WebhookSettings:
    import json

    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    return WebhookSettings.from_config(load_config([str(path)], connector_name="tap-webhook",
                                                   settings_schema=TapWebhook.settings_schema, environ={}))


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
    ({"strict_settings": True, "sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"], "secret": "b"}}},
     "unknown setting 'sources.gh.secret' (did you mean 'secrets'?)"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}}, "spool": {"backend": "postgres"}},
     "spool.dsn' is required"),
    ({"sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}}, "spool": {"table": "x; drop table y"}},
     "is not a table name"),
    ({"strict_settings": True, "sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"]}},
      "server": {"prot": 1}}, "unknown setting 'server.prot' (did you mean 'port'?)"),
    ({"sources": {"bad name": {"provider": "github", "secrets": ["sec-aaa"]}}}, "bad name"),
    ({"sources": {"gh": {"provider": "gitbucket", "secrets": ["sec-aaa"]}}}, "gitbucket"),
    # one stream for two sources: deliveries of both with one id were one key, one of them lost
    ({"sources": {"gen__ping": {"provider": "github", "secrets": ["sec-aaa"]},
                  "gen": {"provider": "github", "secrets": ["sec-aaa"], "streams": "event_type"}}},
     "source 'gen__ping' would write into the streams of source 'gen', which are named 'gen__<event type>'"),
])
def test_mistakes_are_named(tmp_path: Path, config: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(tmp_path, config)
    assert problem in str(caught.value)


def test_sources_named_alike_are_fine_when_no_stream_is_shared(tmp_path: Path) -> None:
    s = parse(tmp_path, {"sources": {"gen__ping": {"provider": "github", "secrets": ["sec-aaa"]},
                                     "gen": {"provider": "github", "secrets": ["sec-aaa"]}}})
    assert list(s.sources) == ["gen__ping", "gen"]


def test_unknown_settings_at_any_depth_are_warnings_and_ignored_unless_strict(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """docs/unknown-settings.md: a typo is a warning ("it is ignored") unless strict_settings is on;
    tap-webhook's own parser must not turn it into an error after the kit has warned."""
    config: dict[str, Any] = {"spool": {"path": "s.db", "dedup_days": 3}, "server": {"prot": 1},
                              "sources": {"gh": {"provider": "github", "secrets": ["sec-aaa"], "keep_header": ["a"]}}}
    with caplog.at_level("WARNING", logger="sluice.config"):
        s = parse(tmp_path, config)
    warned = caplog.text
    for path, hint in (("spool.dedup_days", "dedupe_days"), ("server.prot", "port"),
                       ("sources.gh.keep_header", "keep_headers")):
        assert f"unknown setting '{path}' (did you mean '{hint}'?); it is ignored" in warned
    assert (s.spool.path, s.spool.dedupe_days, s.server.port) == ("s.db", 7, 8787)
    assert s.sources["gh"].keep_headers[0] == "x-github-event" and "keep_header" not in s.sources["gh"].options
    with pytest.raises(ConfigError) as caught:
        parse(tmp_path, {**config, "strict_settings": True})
    assert all(f"unknown setting '{p}'" in str(caught.value)
               for p in ("spool.dedup_days", "server.prot", "sources.gh.keep_header"))


def test_every_secret_is_found_for_redaction() -> None:
    config = {"spool": {"backend": "postgres", "dsn": "postgresql://u:pw-1@h/db"},
              "sources": {"a": {"provider": "github", "secrets": ["s-1", "s-2"]},
                          "b": {"provider": "stripe", "secrets": ["s-3"]}}}
    assert sorted(secret_values(config, SETTINGS)) == ["postgresql://u:pw-1@h/db", "s-1", "s-2", "s-3"]

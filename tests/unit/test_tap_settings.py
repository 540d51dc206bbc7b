"""The frozen settings of tap-csv, tap-github, tap-rest and the HTTP kit: built once from the
validated config, every field a setting declared in the connector's schema (or derived from
declared ones), every unset setting taking the default its schema states, and nowhere else."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from protocol import ConfigError, load_config
from protocol.http import HTTP_SETTINGS, HttpSettings, PaginationSettings, RetryPolicy
from protocol.http._paginators import PAGINATION_SCHEMA
from protocol.maps import MAP_SETTINGS
from taps.csv.settings import FILE_SCHEMA, CsvSettings, FileSpec
from taps.csv.settings import SETTINGS as CSV_SETTINGS
from taps.csv.tap import TapCsv
from taps.github.settings import SETTINGS as GITHUB_SETTINGS
from taps.github.settings import GitHubSettings
from taps.github.tap import TapGitHub
from taps.rest.settings import AUTH_SETTINGS, STREAM_SCHEMA, AuthSettings, RestSettings, StreamSettings
from taps.rest.settings import SETTINGS as REST_SETTINGS
from taps.rest.tap import TapRest

#: each settings dataclass, its schema, and its fields that are not settings of that name
#: (derived from declared settings, or nested settings objects)
CASES: list[tuple[type, Mapping[str, Any], set[str]]] = [
    (HttpSettings, {"properties": HTTP_SETTINGS}, {"retry"}),
    (PaginationSettings, PAGINATION_SCHEMA, set()),
    (GitHubSettings, GITHUB_SETTINGS, {"http"}),
    (RestSettings, REST_SETTINGS, {"http", "auth"}),
    (StreamSettings, STREAM_SCHEMA, {"auth"}),
    (AuthSettings, {"properties": AUTH_SETTINGS}, set()),
    (CsvSettings, CSV_SETTINGS, set()),
    (FileSpec, FILE_SCHEMA, {"dialect"}),
]
IDS = [case[0].__name__ for case in CASES]


@pytest.mark.parametrize(("cls", "schema", "derived"), CASES, ids=IDS)
def test_every_field_is_a_declared_setting_and_frozen(cls: type, schema: Mapping[str, Any], derived: set[str]) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    assert derived <= fields
    undeclared = fields - derived - set(schema["properties"])
    assert not undeclared, f"{cls.__name__} holds settings its schema does not declare: {sorted(undeclared)}"
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_the_taps_publish_the_schemas_their_settings_are_read_against() -> None:
    for tap, schema in ((TapCsv, CSV_SETTINGS), (TapGitHub, GITHUB_SETTINGS), (TapRest, REST_SETTINGS)):
        kit = {"strict_settings", *MAP_SETTINGS}  # added to every connector's schema by the kit
        assert {k: v for k, v in tap.settings_schema["properties"].items() if k not in kit} == schema["properties"]
    assert REST_SETTINGS["properties"]["streams"]["items"] is STREAM_SCHEMA
    assert CSV_SETTINGS["properties"]["files"]["items"] is FILE_SCHEMA


def _defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v["default"] for k, v in schema["properties"].items() if "default" in v}


@pytest.fixture
def loaded(tmp_path: Path) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """The config as the CLI hands it to the tap: validated, top-level defaults applied."""

    def load(tap: Any, config: dict[str, Any]) -> dict[str, Any]:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        return load_config([str(path)], connector_name=tap.name, settings_schema=tap.settings_schema, environ={})

    return load


Load = Callable[[Any, dict[str, Any]], dict[str, Any]]


def test_http_defaults_come_from_the_schema() -> None:
    defaults = _defaults({"properties": HTTP_SETTINGS})
    for built in (HttpSettings(), HttpSettings.from_config({})):
        assert {f: getattr(built, f) for f in defaults if hasattr(built, f)} == {
            f: v for f, v in defaults.items() if f not in ("max_retries", "backoff_base", "backoff_max")}
        assert built.retry == RetryPolicy(defaults["max_retries"] + 1, defaults["backoff_base"],
                                          defaults["backoff_max"])
        assert built.requests_per_minute is None
    assert HttpSettings.from_config({"max_retries": 0, "backoff_base": 0.5, "burst": 4}).retry.max_tries == 1
    assert HttpSettings.from_config({"burst": 4, "requests_per_minute": 30}).burst == 4


def test_each_tap_states_its_user_agent_once_in_its_schema(loaded: Load) -> None:
    for tap, agent in ((TapGitHub, "sluice-tap-github"), (TapRest, "sluice-tap-rest")):
        assert tap.settings_schema["properties"]["user_agent"]["default"] == agent
    config = loaded(TapGitHub, {"repositories": ["o/r"]})
    assert GitHubSettings.from_config(config).http.user_agent == "sluice-tap-github"
    assert GitHubSettings.from_config({"repositories": ["o/r"]}).http.user_agent == "sluice-tap-github"  # unloaded
    assert GitHubSettings.from_config({**config, "user_agent": "me/1"}).http.user_agent == "me/1"


def test_github_settings_from_the_schema_defaults() -> None:
    settings = GitHubSettings.from_config({"repositories": ["o/r", "o/s", "o/r"], "api_url": "https://ghe/api/v3/",
                                           "start_date": "2024-01-01T01:00:00+01:00"})
    assert settings.repositories == ("o/r", "o/s")
    assert settings.api_url == "https://ghe/api/v3"
    assert settings.start_date == "2024-01-01T00:00:00Z"
    assert settings.per_page == GITHUB_SETTINGS["properties"]["per_page"]["default"]
    bare = GitHubSettings.from_config({"repositories": ["o/r"]})
    assert bare.api_url == GITHUB_SETTINGS["properties"]["api_url"]["default"]
    assert bare.auth_token is None and bare.start_date is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.per_page = 5  # type: ignore[misc]


def test_csv_entries_take_schema_and_top_level_defaults(loaded: Load) -> None:
    config = loaded(TapCsv, {"files": [{"entity": "a", "path": "a.csv"},
                                        {"entity": "b", "path": "b.csv", "sample_size": 7, "delimiter": ";"}]})
    settings = CsvSettings.from_config(config)
    a, b = settings.files
    assert settings.add_metadata_columns is CSV_SETTINGS["properties"]["add_metadata_columns"]["default"]
    top = _defaults(CSV_SETTINGS)
    assert (a.sample_size, a.infer_types, a.empty_as_null) == (top["sample_size"], top["infer_types"],
                                                               top["empty_as_null"])
    entry = _defaults(FILE_SCHEMA)
    assert a.encoding == entry["encoding"] and a.keys == tuple(entry["keys"])
    assert dict(a.dialect) == {k: entry[k] for k in ("delimiter", "quotechar", "doublequote", "skipinitialspace",
                                                     "strict")}
    assert b.sample_size == 7 and dict(b.dialect)["delimiter"] == ";"


def test_rest_streams_take_schema_and_top_level_defaults(loaded: Load) -> None:
    config = loaded(TapRest, {"api_url": "https://api.example/v1/", "params": {"a": "1"}, "streams": [
        {"name": "s", "path": "/s"},
        {"name": "t", "path": "/t", "records_path": "$.data", "params": {"b": "2"}, "num_inference_records": 3,
         "pagination": {"style": "page"}},
    ], "pagination": {"style": "offset"}})
    settings = RestSettings.from_config(config)
    s, t = settings.streams
    assert settings.api_url == "https://api.example/v1"
    assert s.records_path == REST_SETTINGS["properties"]["records_path"]["default"] and t.records_path == "$.data"
    assert s.num_inference_records == REST_SETTINGS["properties"]["num_inference_records"]["default"]
    assert t.num_inference_records == 3
    assert s.primary_keys == () and dict(t.params) == {"a": "1", "b": "2"}
    assert (s.pagination.style, s.pagination.param, s.pagination.page_size) == ("offset", "offset", 100)
    assert (t.pagination.style, t.pagination.param, t.pagination.start) == (
        "page", "page", PAGINATION_SCHEMA["properties"]["start"]["default"])
    assert settings.auth.auth_method == AUTH_SETTINGS["auth_method"]["default"] and s.auth is None
    with pytest.raises(TypeError):
        t.params["c"] = "3"  # type: ignore[index]


def test_no_pagination_is_one_page() -> None:
    assert PaginationSettings.from_config(None).style == PAGINATION_SCHEMA["properties"]["style"]["default"] == "none"
    assert PaginationSettings.from_config({"style": "cursor"}).next_token_path == "$.next"


@pytest.mark.parametrize(("pagination", "unused"), [
    ({"page_size": 50}, "'page_size'"),  # no style: one request, the page size was never sent
    ({"style": "link", "param": "p"}, "'param'"),
    ({"style": "cursor", "total_path": "$.total"}, "'total_path'"),
    ({"style": "offset", "start": 0, "next_token_path": "$.n"}, "'next_token_path'"),
])
def test_a_pagination_setting_its_style_does_not_read_is_refused(pagination: dict[str, Any], unused: str) -> None:
    with pytest.raises(ConfigError, match="does not read") as info:
        PaginationSettings.from_config(pagination)
    assert any(unused in p for p in info.value.problems)


def test_replication_param_without_replication_key_is_refused(loaded: Load) -> None:
    config = loaded(TapRest, {"api_url": "https://api.example", "streams": [
        {"name": "s", "path": "/s", "replication_param": "since"}]})
    with pytest.raises(ConfigError, match="replication_param 'since' has no effect without a replication_key"):
        RestSettings.from_config(config)


def test_a_stream_with_any_own_credential_authenticates_with_it(loaded: Load) -> None:
    config = loaded(TapRest, {"api_url": "https://api.example", "auth_method": "bearer_token",
                               "bearer_token": "top", "streams": [
                                   {"name": "s", "path": "/s"}, {"name": "t", "path": "/t", "bearer_token": "own"}]})
    s, t = RestSettings.from_config(config).streams
    assert s.auth is None
    assert t.auth is not None and (t.auth.auth_method, t.auth.bearer_token) == ("bearer_token", "own")

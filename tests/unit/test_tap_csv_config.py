"""tap-csv: settings handling (MeltanoLabs names, our additions, every problem reported)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import Bookmarks, ConfigError, FatalSourceError, load_config
from taps.csv.client import iso_to_ns, list_files, ns_to_iso
from taps.csv.settings import FileSpec, file_specs
from taps.csv.tap import TapCsv


def config(**settings: object) -> dict:
    return load_config([], connector_name="tap-csv", settings_schema=TapCsv.settings_schema,
                       environ={}) | settings


def test_meltanolabs_settings_are_accepted_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("Id,Name\n1,x\n")
    cfg = {"files": [{"entity": "leads", "path": str(tmp_path / "leads.csv"), "keys": ["Id"], "delimiter": ";",
                      "encoding": "latin1", "quotechar": "'", "doublequote": False, "escapechar": "\\",
                      "skipinitialspace": True, "strict": True}],
           "add_metadata_columns": True}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    loaded = load_config([str(path)], connector_name="tap-csv", settings_schema=TapCsv.settings_schema)
    [spec] = file_specs(loaded)
    assert spec.entity == "leads" and spec.keys == ("Id",) and spec.encoding == "latin1"
    assert dict(spec.dialect) == {"delimiter": ";", "quotechar": "'", "doublequote": False, "escapechar": "\\",
                                  "skipinitialspace": True, "strict": True}
    assert loaded["add_metadata_columns"] is True


def test_settings_schema_publishes_meltanolabs_names_and_our_additions() -> None:
    props = TapCsv.settings_schema["properties"]
    assert {"files", "csv_files_definition", "add_metadata_columns", "sample_size", "infer_types"} <= set(props)
    item = props["files"]["items"]["properties"]
    assert {"entity", "path", "keys", "encoding", "delimiter", "quotechar", "doublequote", "escapechar",
            "skipinitialspace", "strict", "replication_key", "schema", "types", "glob", "sample_size"} <= set(item)
    assert props["files"]["items"]["required"] == ["entity", "path"]


def test_every_settings_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"files": [{"entity": "a", "delimiter": ";;"}, {"path": "x"}], "sample_size": -1}))
    with pytest.raises(ConfigError) as info:
        load_config([str(path)], connector_name="tap-csv", settings_schema=TapCsv.settings_schema)
    problems = info.value.problems
    assert any("files/0" in p and "'path' is a required property" in p for p in problems)
    assert any("files/0/delimiter" in p for p in problems)
    assert any("files/1" in p and "'entity'" in p for p in problems)
    assert any("sample_size" in p for p in problems)


def test_csv_files_definition_replaces_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    definition = tmp_path / "files_def.json"
    definition.write_text(json.dumps([{"entity": "opportunities", "path": "o.csv", "keys": ["Id"]}]))
    specs = file_specs(config(files=[{"entity": "ignored", "path": "x.csv"}], csv_files_definition=str(definition)))
    assert [s.entity for s in specs] == ["opportunities"]
    assert [r.getMessage() for r in caplog.records] == [
        f"setting 'files' is ignored: csv_files_definition {definition} replaces it"]  # said, not silent
    caplog.clear()
    file_specs(config(csv_files_definition=str(definition)))
    assert not caplog.records


def test_csv_files_definition_is_validated_like_files(tmp_path: Path) -> None:
    definition = tmp_path / "files_def.json"
    definition.write_text(json.dumps([{"entity": "a"}, {"entity": "b", "path": "b.csv", "keys": "id"}]))
    with pytest.raises(ConfigError) as info:
        file_specs(config(csv_files_definition=str(definition)))
    assert any(p.startswith("entry 0") and "'path'" in p for p in info.value.problems)
    assert any(p.startswith("entry 1 'keys'") for p in info.value.problems)
    with pytest.raises(ConfigError, match="not found"):
        file_specs(config(csv_files_definition=str(tmp_path / "missing.json")))
    definition.write_text('{"files": []}')
    with pytest.raises(ConfigError, match="JSON array"):
        file_specs(config(csv_files_definition=str(definition)))


def test_no_files_and_duplicate_entities_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no CSV files configured"):
        file_specs(config())
    with pytest.raises(ConfigError, match="'a' is used twice"):
        file_specs(config(files=[{"entity": "a", "path": "x.csv"}, {"entity": "a", "path": "y.csv"}]))


def test_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        file_specs(config(files=[{"entity": "a", "path": "x.csv", "encoding": "klingon"}]))


def test_defaults_and_per_file_overrides() -> None:
    cfg = config(sample_size=50, infer_types=False,
                 files=[{"entity": "a", "path": "a.csv"}, {"entity": "b", "path": "b.csv", "sample_size": 5,
                                                           "infer_types": True}])
    a, b = file_specs(cfg)
    assert (a.sample_size, a.infer_types, a.encoding) == (50, False, "utf-8")
    assert (b.sample_size, b.infer_types) == (5, True)
    assert config()["sample_size"] == 1000 and config()["add_metadata_columns"] is False


def test_keys_replication_key_and_types_must_name_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,updated_at\n1,2024-01-01T00:00:00Z\n")
    for extra, message in [({"keys": ["uid"]}, "key 'uid' is not a column"),
                           ({"replication_key": "changed"}, "replication_key 'changed' is not a column"),
                           ({"types": {"nope": "string"}}, "'types' names 'nope'")]:
        tap = TapCsv(config(files=[{"entity": "a", "path": str(tmp_path / "a.csv"), **extra}]))
        with pytest.raises(ConfigError, match=message):
            tap.discover()


def test_type_overrides_and_configured_schema(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,code,amount\n1,10,\n2,20,3.5\n")
    tap = TapCsv(config(files=[
        {"entity": "a", "path": str(tmp_path / "a.csv"), "types": {"code": "string", "amount": {"type": "string"}}},
        {"entity": "b", "path": str(tmp_path / "a.csv"),
         "schema": {"type": "object", "properties": {"id": {"type": "string"}}}},
    ]))
    a, b = (s.schema["properties"] for s in tap.streams())
    assert a == {"id": {"type": ["integer"]}, "code": {"type": ["string"]}, "amount": {"type": "string"}}
    assert b == {"id": {"type": "string"}}


def test_metadata_columns_join_the_schema(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    [stream] = TapCsv(config(add_metadata_columns=True, files=[{"entity": "a", "path": str(tmp_path / "a.csv")}]
                             )).streams()
    props = stream.schema["properties"]
    assert props["_sdc_source_file"] == {"type": ["string"]}
    assert props["_sdc_source_file_mtime"] == {"type": ["string"], "format": "date-time"}
    assert props["_sdc_source_lineno"] == {"type": ["integer"]}


def test_files_of_a_directory_a_glob_and_a_glob_setting(tmp_path: Path) -> None:
    for name in ("b.csv", "a.CSV", "c.csv.gz", "notes.txt", "sub/d.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    def names(**item: str) -> list[str]:
        spec = FileSpec.from_config({"entity": "e", **item}, sample_size=10, infer_types=True, empty_as_null=False)
        return [Path(f.path).relative_to(tmp_path).as_posix() for f in list_files(spec)]
    assert names(path=str(tmp_path)) == ["a.CSV", "b.csv", "c.csv.gz", "sub/d.csv"]
    assert names(path=str(tmp_path / "*.csv")) == ["b.csv"]
    assert names(path=str(tmp_path), glob="**/*.csv") == ["b.csv", "sub/d.csv"]
    assert names(path=str(tmp_path / "nothing-*.csv")) == []
    with pytest.raises(FatalSourceError, match=r"stream 'e': .*missing\.csv: file not found"):
        names(path=str(tmp_path / "missing.csv"))


def test_mtime_bookmarks_round_trip_at_microseconds() -> None:
    ns = 1_715_251_234_123_456_789
    text = ns_to_iso(ns)
    assert text == "2024-05-09T10:40:34.123456+00:00"
    assert iso_to_ns(text) == ns // 1000 * 1000
    assert iso_to_ns("2024-05-09T10:40:34.123456") == ns // 1000 * 1000  # naive means UTC


def test_a_bad_bookmark_in_the_state_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    [stream] = TapCsv(config(files=[{"entity": "a", "path": str(tmp_path / "a.csv"), "replication_key": "id"}]
                             )).streams()
    state = Bookmarks({"bookmarks": {"a": {"replication_key": "id", "replication_key_value": "soon"}}})
    with pytest.raises(ConfigError, match="bookmark 'soon' is not a valid integer"):
        list(stream.get_records(state))
    state = Bookmarks({"bookmarks": {"a": {"max_file_mtime": "last tuesday"}}})
    with pytest.raises(ConfigError, match="max_file_mtime 'last tuesday' is not an ISO 8601"):
        list(stream.get_records(state))

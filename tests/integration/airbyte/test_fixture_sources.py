"""tap-airbyte against small Airbyte source programs (tests/integration/airbyte/sources/): catalogs,
state kept byte for byte, logs, TRACE errors and a source dying mid-stream."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from protocol import ExitCode
from tests.conftest import exe, run
from tests.integration.airbyte.conftest import fixture_config, messages, records, states, tap


def _discovered(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    done = tap(tmp_path, config, "--discover")
    assert done.returncode == 0, done.stderr.decode()
    catalog: dict[str, Any] = json.loads(done.stdout)
    return catalog


def _stream_md(entry: dict[str, Any]) -> dict[str, Any]:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def test_discover_translates_keys_cursors_sync_modes_and_namespaces(tmp_path: Path) -> None:
    catalog = _discovered(tmp_path, fixture_config("stateful.py", records=1))
    by_id = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert list(by_id) == ["orders", "app-events"]
    orders, events = by_id["orders"], by_id["app-events"]
    assert orders["key_properties"] == ["id"]
    md = _stream_md(orders)
    assert md["valid-replication-keys"] == ["updated"] and md["replication-method"] == "INCREMENTAL"
    assert md["replication-key"] == "updated"
    assert "forced-replication-method" not in md  # both sync modes: the catalog may choose
    assert md["airbyte-stream"]["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert "json_schema" not in md["airbyte-stream"]
    props = orders["schema"]["properties"]
    assert props["id"]["type"] == "integer" and props["note"]["type"] == ["null", "string"]
    fields = {tuple(m["breadcrumb"]): m["metadata"] for m in orders["metadata"]}
    assert fields[("properties", "id")]["inclusion"] == "automatic"
    assert fields[("properties", "updated")]["inclusion"] == "automatic"
    assert fields[("properties", "note")] == {"inclusion": "available", "selected-by-default": True}
    assert events["key_properties"] == [] and "replication_key" not in events
    assert _stream_md(events)["forced-replication-method"] == "FULL_TABLE"
    assert _stream_md(events)["airbyte-stream"]["namespace"] == "app"


def test_state_is_handed_back_byte_for_byte_and_the_source_resumes(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    config = fixture_config("stateful.py", records=5, record_dir=str(tmp_path / "rec"))
    first = tap(tmp_path, config)
    assert first.returncode == 0, first.stderr.decode()
    out = messages(first.stdout)
    assert [r["id"] for r in records(out, "orders")] == [1, 2, 3, 4, 5]
    assert records(out, "app-events")[0] == {"seq": 1, "kind": None}
    assert not (tmp_path / "rec" / "given_state.json").exists()
    # the source's own state text, blanks and escapes as it wrote them, kept as a string
    last = states(out)[-1]
    orders_state = last["bookmarks"]["orders"]["airbyte_state"]
    assert orders_state == ('{"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, '
                            '"stream_state": {"updated": 5, "ratio": 1.0, "label": "\\u00e9t\\u00e9"}}}')
    assert last["airbyte_global_state"] == ('{"type":"GLOBAL","global":{"shared_state":{"runs":1},'
                                            '"stream_states":[]}}')
    # SCHEMA before each stream's first record, a STATE after the records it covers, one STATE at the end
    kinds = [(m["type"], m.get("stream")) for m in out]
    assert kinds.index(("SCHEMA", "orders")) < kinds.index(("RECORD", "orders"))
    assert kinds.index(("SCHEMA", "app-events")) < kinds.index(("RECORD", "app-events"))
    assert out[-1]["type"] == "STATE" and out[-2]["type"] != "STATE"
    assert states(out)[0]["bookmarks"]["orders"]["airbyte_state"].endswith('"sourceStats": {"recordCount": 3.0}}')

    second = tap(tmp_path, config, state={"type": "STATE", "value": last})
    assert second.returncode == 0, second.stderr.decode()
    given = (tmp_path / "rec" / "given_state.json").read_bytes()
    assert given == f"[{orders_state},{last['airbyte_global_state']}]".encode()
    again = messages(second.stdout)
    assert [r["id"] for r in records(again, "orders")] == [6, 7, 8, 9, 10]
    assert json.loads(states(again)[-1]["airbyte_global_state"])["global"]["shared_state"] == {"runs": 2}


def test_logs_go_to_stderr_with_their_levels(tmp_path: Path) -> None:
    done = tap(tmp_path, fixture_config("stateful.py", records=1))
    assert done.returncode == 0
    err = done.stderr.decode()
    for level, ours in (("INFO", "INFO"), ("WARN", "WARNING"), ("ERROR", "ERROR")):
        assert any(f"| {ours}" in line and f"a {level} line" in line for line in err.splitlines()), err
    assert "a DEBUG line" not in err and "a TRACE line" not in err  # below the default level
    assert "stream 'orders': COMPLETE" in err
    assert "not an Airbyte message, as some sources print" in err  # a stray stdout line is logged, not passed
    messages(done.stdout)


def test_secrets_of_the_source_config_stay_out_of_the_logs(tmp_path: Path, _spec_cache: Path) -> None:
    # secrets are known by the source's spec (airbyte_secret, cached per program) and by their key names
    credentials = {"auth_type": "oauth", "client_id": "client-42", "client_secret": "cs-Very-Secret-77",
                   "refresh_token": "rt-Also-Secret-88"}
    config = fixture_config("stateful.py", records=1, api_key="ak-Secret-Value-99", mode="incremental-plus",
                            credentials=credentials, account_sid="AC-plainly-named-55")
    shutil.rmtree(_spec_cache / "sluice" / "airbyte-specs", ignore_errors=True)
    for run_no in (1, 2):  # the first run asks the source for its spec and caches it, the second reads it
        done = tap(tmp_path, config)
        assert done.returncode == 0, done.stderr.decode()
        err = done.stderr.decode()
        assert "GET https://api.example.test/v1/orders?api_key=" in err and "refreshing the token with" in err
        assert "stateful.py | account " in err
        # what the source writes to its stderr is relayed through the same redacting log
        assert "stateful.py (stderr): urllib3 retrying https://api.example.test/v1/orders?api_key=" in err
        for secret in ("ak-Secret-Value-99", "cs-Very-Secret-77", "rt-Also-Secret-88", "client-42",
                       "AC-plainly-named-55"):
            assert secret not in err, (run_no, secret)
        assert "mode=incremental-plus" in err  # not named like a secret, not marked: kept
        assert "'auth_type': 'oauth'" in err  # under "credentials", but too short to be a secret
        assert len(list((_spec_cache / "sluice" / "airbyte-specs").glob("*.json"))) == 1


def test_selection_filters_fields_and_configures_the_source(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    config = fixture_config("stateful.py", records=2, record_dir=str(tmp_path / "rec"))
    catalog = _discovered(tmp_path, config)
    orders = catalog["streams"][0]
    for m in orders["metadata"]:
        if m["breadcrumb"] == ["properties", "note"]:
            m["metadata"]["selected"] = False
        if m["breadcrumb"] == []:
            m["metadata"]["replication-method"] = "FULL_TABLE"
    catalog["streams"][1]["metadata"][0]["metadata"]["selected"] = False
    done = tap(tmp_path, config, catalog=catalog)
    assert done.returncode == 0, done.stderr.decode()
    out = messages(done.stdout)
    assert records(out, "orders") == [{"id": 1, "updated": 1}, {"id": 2, "updated": 2}]
    assert records(out, "app-events") == []
    schema = next(m for m in out if m["type"] == "SCHEMA")
    assert set(schema["schema"]["properties"]) == {"id", "updated"} and "bookmark_properties" not in schema
    given = json.loads((tmp_path / "rec" / "given_catalog.json").read_text())
    assert [(s["stream"]["name"], s["sync_mode"], s["destination_sync_mode"]) for s in given["streams"]] == [
        ("orders", "full_refresh", "overwrite")]
    assert given["streams"][0]["primary_key"] == [["id"]]

    incremental = tap(tmp_path, config)  # no catalog: every stream, its default method
    given = json.loads((tmp_path / "rec" / "given_catalog.json").read_text())
    assert incremental.returncode == 0
    assert [(s["sync_mode"], s["destination_sync_mode"], s.get("cursor_field")) for s in given["streams"]] == [
        ("incremental", "append_dedup", ["updated"]), ("full_refresh", "overwrite", None)]
    assert given["streams"][1]["stream"]["namespace"] == "app"


def test_a_run_without_a_catalog_is_the_run_given_its_own_discovery(tmp_path: Path) -> None:
    """``users`` has a default cursor the source does not define (no ``source_defined_cursor``): its
    replication key and method live in the stream metadata only, which a run without a catalog reads too."""
    (tmp_path / "rec").mkdir()
    users = {"name": "users", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
             "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_primary_key": [["id"]],
             "default_cursor_field": ["id"]}
    config = fixture_config("stateful.py", records=4, record_dir=str(tmp_path / "rec"), extra_streams=[users])
    catalog = _discovered(tmp_path, config)
    assert _stream_md(catalog["streams"][2])["replication-key"] == "id"
    runs = []
    for given in (None, catalog):
        done = tap(tmp_path, config, catalog=given)
        assert done.returncode == 0, done.stderr.decode()
        runs.append((messages(done.stdout), json.loads((tmp_path / "rec" / "given_catalog.json").read_text())))
    (without, configured), (with_catalog, configured_too) = runs
    assert without == with_catalog and configured == configured_too
    assert [(s["stream"]["name"], s["sync_mode"], s.get("cursor_field")) for s in configured["streams"]] == [
        ("orders", "incremental", ["updated"]), ("events", "full_refresh", None), ("users", "incremental", ["id"])]
    assert [r["id"] for r in records(without, "orders")] == [1, 2, 3, 4]


def test_a_method_the_source_does_not_support_is_a_config_error(tmp_path: Path) -> None:
    config = fixture_config("stateful.py", records=1)
    catalog = _discovered(tmp_path, config)
    _stream_md(catalog["streams"][1])["replication-method"] = "INCREMENTAL"
    done = tap(tmp_path, config, catalog=catalog)
    assert done.returncode == ExitCode.USAGE
    assert done.stdout == b""
    assert "stream 'app-events': replication method INCREMENTAL is not supported by the source" in done.stderr.decode()


def test_two_airbyte_streams_of_one_singer_name_are_refused(tmp_path: Path) -> None:
    """``events`` of namespace ``app`` and a stream named ``app-events`` would share one table and
    one bookmark (records merged, a state lost): discovery and a run say so instead."""
    clash = {"name": "app-events", "json_schema": {"type": "object", "properties": {"seq": {"type": "integer"}}},
             "supported_sync_modes": ["full_refresh"]}
    config = fixture_config("stateful.py", records=1, extra_streams=[clash])
    for args in (("--discover",), ()):
        done = tap(tmp_path, config, *args)
        assert done.returncode == ExitCode.FAILED, done.stderr.decode()
        assert done.stdout == b""
        assert ("the Airbyte streams 'events' (namespace 'app') and 'app-events' are both Singer stream "
                "'app-events'") in done.stderr.decode()


def test_a_catalog_selecting_one_stream_twice_is_refused(tmp_path: Path) -> None:
    config = fixture_config("stateful.py", records=1)
    catalog = _discovered(tmp_path, config)
    catalog["streams"].append(catalog["streams"][0])
    done = tap(tmp_path, config, catalog=catalog)
    assert done.returncode == ExitCode.USAGE and done.stdout == b""
    assert "the catalog selects stream 'orders' twice" in done.stderr.decode()


def test_about_shows_the_source_spec_and_test_runs_check(tmp_path: Path) -> None:
    config = fixture_config("stateful.py", records=1)
    about = tap(tmp_path, config, "--about", "--format", "json")
    assert about.returncode == 0, about.stderr.decode()
    settings = json.loads(about.stdout)["settings"]["properties"]["airbyte_config"]
    assert settings["required"] == ["records"]
    assert settings["properties"]["api_key"]["secret"] is True
    without = tap(tmp_path, {"executable": "/nonexistent/source-x"}, "--about", "--format", "json")
    assert without.returncode == 0
    described = json.loads(without.stdout)["settings"]["properties"]["airbyte_config"]
    assert "properties" not in described and "/nonexistent/source-x is not an executable file" in described[
        "description"]

    ok = tap(tmp_path, config, "--test")
    assert ok.returncode == 0 and "check SUCCEEDED" in ok.stderr.decode()
    failed = tap(tmp_path, fixture_config("stateful.py", records="many"), "--test")
    assert failed.returncode == ExitCode.FAILED
    last = failed.stderr.decode().strip().splitlines()[-1]
    assert last.endswith("the Airbyte source stateful.py check FAILED: 'records' must be an integer")


def test_a_trace_error_is_one_line_naming_the_stream_after_its_last_state(tmp_path: Path) -> None:
    done = tap(tmp_path, fixture_config("trace_error.py", records=4))
    assert done.returncode == ExitCode.FAILED
    err = done.stderr.decode().strip().splitlines()
    assert err[-1].endswith("stream 'orders': the Airbyte source trace_error.py failed: "
                            "The API answered 403 Forbidden for /orders"), err
    out = messages(done.stdout)
    assert [r["id"] for r in records(out, "orders")] == [1, 2, 3, 4]  # 999 came after the last STATE
    assert out[-1]["type"] == "STATE" and len(states(out)) == 1
    assert json.loads(out[-1]["value"]["bookmarks"]["orders"]["airbyte_state"])["stream"]["stream_state"] == {
        "updated": 4}

    config_error = tap(tmp_path, fixture_config("trace_error.py", records=1, failure_type="config_error"))
    assert config_error.returncode == ExitCode.USAGE
    assert "stream 'orders': the Airbyte source trace_error.py failed" in config_error.stderr.decode()


def test_a_source_dying_mid_stream_fails_with_one_line_and_no_state_after_its_last(tmp_path: Path) -> None:
    for death, how in (("signal", "was killed by SIGKILL"), ("exit", "exited with code 3")):
        done = tap(tmp_path, fixture_config("dies.py", records=5, death=death))
        assert done.returncode == ExitCode.FAILED, death
        last = done.stderr.decode().strip().splitlines()[-1]
        assert f"the Airbyte source dies.py {how} during `read`" in last, last
        out = messages(done.stdout)
        assert out[-1]["type"] == "STATE" and len(states(out)) == 1, death
        assert [r["id"] for r in records(out, "orders")] == [1, 2, 3, 4, 5]

    cut = tap(tmp_path, fixture_config("dies.py", records=5, death="cut"))
    assert cut.returncode == ExitCode.FAILED
    last = cut.stderr.decode().strip().splitlines()[-1]
    assert "line 10: a RECORD message of the Airbyte source dies.py that cannot be read" in last, last
    assert messages(cut.stdout)[-1]["type"] == "STATE" and len(states(messages(cut.stdout))) == 1


def test_sigterm_stops_the_source_too_and_nothing_follows_its_last_state(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    config = fixture_config("slow.py", records=3, record_dir=str(tmp_path / "rec"))
    (tmp_path / "tap.json").write_text(json.dumps(config))
    proc = subprocess.Popen([exe("tap-airbyte"), "--config", str(tmp_path / "tap.json")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or json.loads(lines[-1])["type"] != "STATE":
            line = proc.stdout.readline()
            assert line, "tap-airbyte ended before the source's STATE"
            lines.append(line)
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == ExitCode.TERMINATED, err.decode()
    assert rest == b""
    assert [m["record"]["id"] for m in messages(b"".join(lines)) if m["type"] == "RECORD"] == [1, 2, 3]
    pid = int((tmp_path / "rec" / "pid").read_text())
    with pytest.raises(ProcessLookupError):  # the source was stopped (and reaped) before tap-airbyte exited
        os.kill(pid, 0)


def _raw_lines_run(tmp_path: Path, *lines: bytes) -> tuple[list[dict[str, Any]], str]:
    """tap-airbyte over a source writing a RECORD, a STATE, then ``lines``, a RECORD and a STATE: the run must
    fail with nothing written after the first STATE; its Singer messages and last stderr line."""
    def rec(i: int) -> bytes:
        return b'{"type":"RECORD","record":{"stream":"orders","data":{"id":%d,"updated":%d}}}' % (i, i)

    def st(i: int) -> bytes:
        return (b'{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"orders"},'
                b'"stream_state":{"updated":%d}}}}' % i)

    every = [rec(1), st(1), *lines, rec(9), st(9)]
    done = tap(tmp_path, fixture_config("raw_lines.py", records=0, lines=[line.hex() for line in every]))
    assert done.returncode == ExitCode.FAILED, done.stderr.decode()
    out = messages(done.stdout)
    assert [r["id"] for r in records(out, "orders")] == [1] and len(states(out)) == 1, out
    assert out[-1]["type"] == "STATE"
    return out, done.stderr.decode(errors="replace").strip().splitlines()[-1]


@pytest.mark.parametrize("bad", [
    b'{"record":{"stream":"orders","data":{"id":2,"updated":NaN,"note":"a note long enough"}},"type":"RECORD"}',
    b'{"type":\t"RECORD","record":{"stream":"orders","data":{"id":2,"updated":NaN}}}',
    b'{"type" :\r"RECORD","record":{"stream":"orders","data":{"id":2,"updated":NaN}}}',
], ids=["type-after-the-record", "tab-after-the-colon", "cr-after-the-colon"])
def test_an_unreadable_record_line_anywhere_fails_the_run_and_log_text_does_not(tmp_path: Path, bad: bytes) -> None:
    _, last = _raw_lines_run(tmp_path, b"plain log text", b"{not json either", bad)
    assert "line 5: a RECORD message of the Airbyte source raw_lines.py that cannot be read" in last, last


@pytest.mark.parametrize(("bad", "what"), [
    (b'{"type":"RECORD","record":{"stream":"orders","data":null}}', "with data that is not a JSON object"),
    (b'{"type":"RECORD","record":{"stream":"orders","data":[1,2]}}', "with data that is not a JSON object"),
    (b'{"type":"RECORD","record":{"stream":"orders"}}', "with no data"),
    (b'{"type":"RECORD","record":{"stream":"orders","data":{"id":2,"note":"\xff\xfe"}}}',
     "with data that is not valid UTF-8"),
    (b'{"type":"RECORD","record":null}', "without a record"),
    (b'{"type":"RECORD"}', "without a record"),
], ids=["null", "array", "missing", "not-utf8", "record-null", "record-missing"])
def test_a_record_whose_data_is_not_a_json_object_fails_the_run_at_its_line(tmp_path: Path, bad: bytes,
                                                                           what: str) -> None:
    ok = b'{"type":"RECORD","record":{"stream":"orders","data":{"id":2,"updated":2}}}'
    _, last = _raw_lines_run(tmp_path, ok, b"plain log text", bad)  # joined with record 2: found at its line
    where = "line 5" if what == "without a record" else "line 5, stream 'orders'"
    assert f"{where}: a RECORD" in last, last
    assert f"of the Airbyte source raw_lines.py {what}" in last, last


def test_records_without_their_streams_namespace_go_to_it(tmp_path: Path) -> None:
    """Some sources write a stream's records without the namespace their catalog gives it: they were
    skipped as a stream not selected (a WARNING, exit 0) while the STATE after them moved past them."""
    lines = [b'{"type":"RECORD","record":{"stream":"events","data":{"seq":1,"kind":"a"}}}',
             b'{"type":"RECORD","record":{"stream":"events","namespace":"app","data":{"seq":2,"kind":"b"}}}',
             b'{"type":"RECORD","record":{"stream":"events","data":{"seq":3,"kind":"c"}}}',
             b'{"type":"RECORD","record":{"stream":"elsewhere","data":{"seq":4}}}',
             b'{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"events",'
             b'"namespace":"app"},"stream_state":{"seq":3}}}}']
    done = tap(tmp_path, fixture_config("raw_lines.py", records=0, lines=[line.hex() for line in lines]))
    assert done.returncode == ExitCode.OK, done.stderr.decode()
    out = messages(done.stdout)
    assert [r["seq"] for r in records(out, "app-events")] == [1, 2, 3]
    assert "records of stream 'elsewhere', which is not selected; skipped" in done.stderr.decode()


def test_the_source_gets_its_configs_numbers_as_written(tmp_path: Path) -> None:
    """tap-airbyte's own config was read with floats: the source got 1.2345678901234568e+22 for
    12345678901234567890123, and 0.1 for 0.1000000000000000055511151231257827."""
    rec = tmp_path / "rec"
    rec.mkdir()
    config = json.dumps(fixture_config("stateful.py", records=1, record_dir=str(rec)))
    config = config.replace('"records": 1', '"records": 1, "big": 12345678901234567890123, '
                                             '"dec": 0.1000000000000000055511151231257827')
    (tmp_path / "exact.json").write_text(config)
    done = run([exe("tap-airbyte"), "--config", str(tmp_path / "exact.json")], timeout=180)
    assert done.returncode == ExitCode.OK, done.stderr.decode()
    given = (rec / "given_config.json").read_text()
    assert '"big":12345678901234567890123' in given and '"dec":0.1000000000000000055511151231257827' in given, given


@pytest.mark.parametrize("bad", [
    b'{"type":"STATE","state":{"type":"STREAM","stream":{"stream_state":{"updated":2}}}}',
    b'{"type":"STATE","state":5}',
    b'{"type":"STATE","state":{"type":null}}',
], ids=["no-descriptor", "not-an-object", "type-null"])
def test_a_state_that_cannot_be_read_fails_the_run_at_its_line(tmp_path: Path, bad: bytes) -> None:
    """It was "internal error: ValidationError: ...", naming no source and no line."""
    _, last = _raw_lines_run(tmp_path, bad)
    assert "line 3: a STATE message of the Airbyte source raw_lines.py that cannot be read: " in last, last

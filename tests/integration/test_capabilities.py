"""Honest --about (issue 14): every capability a connector advertises is shown to work by a test.

:data:`EVIDENCE` names, for each connector and each capability it should list, the test that runs
that connector (or the kit code every connector shares, where the behaviour lives there) and checks
the behaviour. The test below runs each connector's ``--about`` and requires its capabilities to be
exactly the ones with evidence: a capability listed without a test fails, and so does a test whose
capability is not listed (or that no longer exists). ``stream-maps`` and ``schema-flattening`` are
shown per connector by tests/integration/test_stream_maps_connectors.py and
tests/integration/postgres_tap/test_maps.py, which also check the behaviour against --about.
"""

from __future__ import annotations

import ast
import json
from functools import cache

import pytest

from tests.conftest import ROOT, exe, run

MAPS = "tests/integration/test_stream_maps_connectors.py"
KIT = "tests/unit/test_cli_contract.py"
CSV = "tests/integration/test_tap_csv.py"
REST = "tests/integration/http/test_tap_rest.py"
GITHUB = "tests/integration/http/test_tap_github.py"
SLACK = "tests/integration/saas/test_tap_slack.py"
JIRA = "tests/integration/saas/test_tap_jira.py"
GITLAB = "tests/integration/saas/test_tap_gitlab.py"
LINEAR = "tests/integration/saas/test_tap_linear.py"
HUBSPOT = "tests/integration/saas/test_tap_hubspot.py"
WEBHOOK = "tests/integration/webhook_tap/test_tap_webhook.py"
PG_TAP = "tests/integration/postgres_tap"
SQL = "tests/integration/sql"
EXACTLY_ONCE = "tests/faults/test_exactly_once.py::test_target_killed_after_commits"  # every target
SQL_VERSIONS = f"{SQL}/test_versions_settings.py::test_activate_version_retires_older_rows"  # hard and soft


def _tap(own: dict[str, str], maps: str) -> dict[str, str]:
    return {"about": f"{KIT}::test_about_json_has_sdk_shape", "stream-maps": maps, "schema-flattening": maps, **own}


def _target(kind: str, own: dict[str, str]) -> dict[str, str]:
    maps = f"{MAPS}::test_target_applies_maps_and_flattening"
    return {"about": f"{KIT}::test_about_json_has_sdk_shape", "stream-maps": maps, "schema-flattening": maps,
            "sluice-exactly-once": EXACTLY_ONCE, **own}


EVIDENCE: dict[str, dict[str, str]] = {
    "tap-csv": _tap({
        "catalog": f"{CSV}::test_catalog_selection_and_types_are_honoured",
        "discover": f"{CSV}::test_discover_output_is_the_committed_catalog",
        "state": f"{CSV}::test_second_run_with_the_state_emits_only_new_and_changed_rows",
        "test": f"{CSV}::test_connection_check",
    }, f"{MAPS}::test_tap_csv_applies_maps"),
    "tap-rest": _tap({
        "catalog": f"{REST}::test_catalog_selects_streams",
        "discover": f"{REST}::test_schema_is_inferred_from_a_sample",
        "state": f"{REST}::test_incremental_by_replication_param",
        "test": f"{REST}::test_test_flag",
    }, f"{MAPS}::test_tap_rest_applies_maps"),
    "tap-github": _tap({
        "catalog": f"{GITHUB}::test_start_date_is_the_first_since",
        "discover": f"{GITHUB}::test_start_date_is_the_first_since",
        "state": f"{GITHUB}::test_incremental_run_fetches_only_what_changed",
        "test": f"{GITHUB}::test_test_flag_checks_the_token",
    }, f"{MAPS}::test_tap_github_applies_maps_and_flattens_nested_objects"),
    "tap-slack": _tap({
        "catalog": f"{SLACK}::test_channel_selection_types_and_start_date",
        "discover": f"{SLACK}::test_admin_streams_only_when_asked",
        "state": f"{SLACK}::test_incremental_run_fetches_only_what_changed",
        "test": f"{SLACK}::test_test_flag_checks_the_token",
    }, f"{SLACK}::test_tap_slack_applies_maps_and_flattens_nested_objects"),
    "tap-jira": _tap({
        "catalog": f"{JIRA}::test_legacy_search_pages_by_start_at",
        "discover": f"{JIRA}::test_legacy_search_pages_by_start_at",
        "state": f"{JIRA}::test_incremental_rereads_the_boundary_minute_without_doubles",
        "test": f"{JIRA}::test_test_flag_and_oauth_bearer",
    }, f"{JIRA}::test_stream_maps_and_flattening_apply_to_jira_records"),
    "tap-gitlab": _tap({
        "catalog": f"{GITLAB}::test_start_date_is_the_first_updated_after",
        "discover": f"{GITLAB}::test_opt_in_streams",
        "state": f"{GITLAB}::test_incremental_run_fetches_only_what_changed",
        "test": f"{GITLAB}::test_test_flag_checks_the_token",
    }, f"{GITLAB}::test_tap_gitlab_applies_maps_and_flattens_nested_objects"),
    "tap-linear": _tap({
        "catalog": f"{LINEAR}::test_only_selected_fields_are_queried",
        "discover": f"{LINEAR}::test_only_selected_fields_are_queried",
        "state": f"{LINEAR}::test_incremental_run_fetches_only_what_changed",
        "test": f"{LINEAR}::test_test_flag_makes_one_cheap_query",
    }, f"{LINEAR}::test_stream_maps_and_flattening_apply_to_linear_records"),
    "tap-hubspot": _tap({
        "catalog": f"{HUBSPOT}::test_start_and_end_date_bound_the_search",
        "discover": f"{HUBSPOT}::test_start_and_end_date_bound_the_search",
        "state": f"{HUBSPOT}::test_incremental_run_fetches_only_what_changed",
        "test": f"{HUBSPOT}::test_test_flag_checks_the_token_with_one_call",
    }, f"{HUBSPOT}::test_tap_hubspot_applies_maps_and_flattens_nested_objects"),
    "tap-webhook": _tap({
        "catalog": f"{WEBHOOK}::test_catalog_drops_deselected_streams_and_fields",
        "discover": f"{WEBHOOK}::test_discover_lists_each_source_and_the_event_types_spooled",
        "state": f"{WEBHOOK}::test_state_resumes_after_its_position_and_prunes_only_up_to_it",
        "test": f"{WEBHOOK}::test_test_flag_reports_the_spool_or_its_absence",
    }, f"{WEBHOOK}::test_stream_maps_and_flattening_apply_to_webhook_records"),
    "tap-postgres": _tap({
        "catalog": f"{PG_TAP}/test_read.py::test_incremental_reads_at_or_after_the_bookmark_in_key_order",
        "properties": f"{PG_TAP}/test_maps.py::test_properties_is_the_legacy_name_of_catalog",
        "discover": f"{PG_TAP}/test_read.py::test_discovery_types_keys_views_and_schema_filter",
        "state": f"{PG_TAP}/test_read.py::test_full_table_resumes_after_the_last_key_of_a_killed_run",
        "test": f"{PG_TAP}/test_read.py::test_test_flag_reports_missing_privileges_in_one_line",
        "activate-version": f"{PG_TAP}/test_read.py::test_full_table_exact_values_and_activate_version",
        "log-based": f"{PG_TAP}/test_hostile_names.py::test_log_based_snapshot_and_changes",
    }, f"{PG_TAP}/test_maps.py::test_full_table_rows_are_mapped_before_writing"),
    "target-jsonl": _target("jsonl", {}),
    "target-csv": _target("csv", {}),
    "target-sqlite": _target("sqlite", {
        "activate-version": SQL_VERSIONS,
        "hard-delete": SQL_VERSIONS,
        "validate-records": f"{SQL}/test_types_and_names.py::test_invalid_record_names_line_stream_and_field",
    }),
    "target-postgres": _target("postgres", {
        "activate-version": SQL_VERSIONS,
        "hard-delete": SQL_VERSIONS,
        "validate-records": f"{SQL}/test_types_and_names.py::test_invalid_record_names_line_stream_and_field",
        "target-schema": f"{SQL}/test_versions_settings.py::test_postgres_separate_fields_schema_and_driver_url",
    }),
}


@cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text())
    return frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                     and node.name.startswith("test_"))


@pytest.mark.parametrize("connector", sorted(EVIDENCE))
def test_about_lists_exactly_the_capabilities_shown_to_work(connector: str) -> None:
    done = run([exe(connector), "--about", "--format", "json"])
    assert done.returncode == 0, done.stderr.decode()
    listed = json.loads(done.stdout)["capabilities"]
    assert len(listed) == len(set(listed)), f"{connector} lists a capability twice: {listed}"
    evidence = EVIDENCE[connector]
    assert set(listed) - set(evidence) == set(), f"{connector} advertises capabilities no test shows to work"
    assert set(evidence) - set(listed) == set(), f"{connector} does not list capabilities its tests show"
    for capability, node in evidence.items():
        path, name = node.split("::")
        assert name in _tests_in(path), f"{connector} {capability}: the test {node} does not exist"


def test_the_check_catches_an_unproven_capability() -> None:
    evidence = EVIDENCE["target-jsonl"]
    assert "hard-delete" not in evidence and "target-schema" not in EVIDENCE["target-sqlite"]
    assert "test_no_such_test" not in _tests_in(KIT)

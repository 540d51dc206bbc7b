"""The connector registry shipped in the package: valid, big enough, and true to our connectors."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

import pytest

from protocol._errors import ConfigError
from runner.registry import BUILTIN, load_registry, registry_paths
from tests.conftest import ROOT
from tests.unit.test_docs import CONNECTORS


def test_shipped_registry_loads_with_ours_first_and_at_least_20_public_connectors() -> None:
    registry = load_registry([BUILTIN])
    public = [e for e in registry.entries() if e.pip_url]
    assert len({e.name for e in public}) >= 20
    assert {e.kind for e in public} == {"tap", "target"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    ours = sorted(name for name in scripts if name.startswith(("tap-", "target-")))  # mappers have no entry yet
    for name in ours:
        default = registry.get(name)
        assert (default.variant, default.pip_url, default.executable) == ("sluice", None, name)
    assert sorted(e.name for e in registry.entries() if not e.pip_url) == ours
    # a public variant of one of our names is there, but not the default
    github = registry.by_name["tap-github"]
    assert [e.variant for e in github] == ["sluice", "meltanolabs"]
    assert registry.get("tap-github", "meltanolabs").pip_url == "meltanolabs-tap-github"


def test_no_secret_setting_carries_a_value() -> None:
    for entry in load_registry([BUILTIN]).entries():
        for setting in entry.settings:
            assert not (setting.secret and setting.value is not None), (entry.name, setting.name)
        skeleton = entry.skeleton(entry.name)
        for setting in entry.settings:
            if setting.secret and "." not in setting.name:
                assert skeleton[setting.name] == "${" + f"{entry.name}_{setting.name}".upper().replace("-", "_") + "}"


TAPS_AND_TARGETS = [doc for doc in CONNECTORS if doc.name.startswith(("tap-", "target-"))]


@pytest.mark.parametrize("doc", TAPS_AND_TARGETS, ids=[doc.name for doc in TAPS_AND_TARGETS])
def test_our_entries_agree_with_the_settings_schema(doc: Any) -> None:
    entry = load_registry([BUILTIN]).get(doc.name)
    props = doc.settings_schema["properties"]
    for setting in entry.settings:
        assert setting.name in props, f"{doc.name}: registry setting {setting.name} is not in --about"
        secret = bool(props[setting.name].get("secret") or props[setting.name].get("writeOnly"))
        assert setting.secret == secret, f"{doc.name}.{setting.name}: secret in the registry is {setting.secret}"
    required = {s.name for s in entry.settings if s.required}
    assert set(doc.settings_schema.get("required") or []) <= required
    assert entry.description and entry.kind == doc.name.split("-")[0]


def test_the_registry_file_is_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    rel = BUILTIN.relative_to(ROOT / "runner")
    assert any(fnmatch.fnmatch(str(rel), pattern) for pattern in data.get("runner", []) + data.get("*", []))


def test_sluice_registry_is_a_path_list_with_builtin(tmp_path: Path) -> None:
    assert registry_paths({}) == [BUILTIN]
    assert registry_paths({"SLUICE_REGISTRY": f"builtin:{tmp_path}/a.yml"}) == [BUILTIN, tmp_path / "a.yml"]


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "team.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_registry([path])
    assert info.value.summary == "invalid connector registry"
    return info.value.problems


def test_bad_entries_are_all_named_with_file_line_and_entry(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """\
version: 1
connectors:
  - {name: tap-ok, kind: tap, variant: team, description: fine}
  - name: tap-x
    kind: source
    variant: team
    description: wrong kind
  - name: tap-y
    variant: team
    description: no kind
    settings:
      - {name: token, secret: true, value: hunter2}
""")
    where = f"{tmp_path / 'team.yml'}:"
    assert problems == [
        f"{where}5: connectors[1] (tap-x).kind: 'source' is not one of ['tap', 'target']",
        f"{where}8: connectors[2] (tap-y): 'kind' is a required property",
        f"{where}12: connectors[2] (tap-y).settings[0]: a secret setting has no value: it is written as a ${{ENV}} "
        "reference",
    ]
    assert "hunter2" not in " ".join(problems)


def test_duplicate_variants_and_defaults_are_refused(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """\
connectors:
  - {name: tap-a, kind: tap, variant: one, description: a, default: true}
  - {name: tap-a, kind: tap, variant: two, description: b, default: true}
  - {name: tap-a, kind: tap, variant: one, description: c}
""")
    where = f"{tmp_path / 'team.yml'}:"
    assert problems == [f"{where}3: connectors[1] (tap-a): connectors[0] is already the default of 'tap-a'",
                        f"{where}4: connectors[2] (tap-a): variant 'one' is also connectors[0]"]


def test_unreadable_and_unparsable_files_are_named(tmp_path: Path) -> None:
    assert _problems(tmp_path, "connectors: [\n")[0].startswith(f"{tmp_path / 'team.yml'}: line ")
    with pytest.raises(ConfigError) as info:
        load_registry([tmp_path / "missing.yml"])
    assert info.value.problems == [f"{tmp_path / 'missing.yml'}: cannot read the registry file: No such file or "
                                   "directory (SLUICE_REGISTRY names it)"]


def test_later_files_replace_entries_and_defaults(tmp_path: Path) -> None:
    team = tmp_path / "team.yml"
    team.write_text("""\
connectors:
  - {name: tap-github, kind: tap, variant: meltanolabs, default: true, pip_url: "meltanolabs-tap-github==1.30.1",
     description: pinned by the team}
  - {name: tap-internal, kind: tap, variant: team, pip_url: "git+https://git.example/tap-internal.git",
     executable: tap-int, description: our own API}
""")
    registry = load_registry([BUILTIN, team])
    assert registry.get("tap-github").pip_url == "meltanolabs-tap-github==1.30.1"
    assert [e.variant for e in registry.by_name["tap-github"]] == ["meltanolabs", "sluice"]
    assert registry.get("tap-internal").executable == "tap-int"
    assert len(registry.by_name) == len(load_registry([BUILTIN]).by_name) + 1
    # replacing an entry keeps its place: ours stays the default unless a file says otherwise
    pinned = tmp_path / "pinned.yml"
    pinned.write_text("connectors:\n  - {name: tap-github, kind: tap, variant: sluice, description: pinned,\n"
                      "     pip_url: sluice==0.1.0}\n")
    assert load_registry([BUILTIN, pinned]).get("tap-github").pip_url == "sluice==0.1.0"


def test_skeleton_nests_dotted_names_and_names_variables_after_the_connector() -> None:
    entry = load_registry([BUILTIN]).get("tap-singer-jsonl")
    assert entry.skeleton("replay-1") == {"local": {"folders": "${REPLAY_1_LOCAL_FOLDERS}"}}
    assert entry.env_vars("replay-1") == ["REPLAY_1_LOCAL_FOLDERS"]
    assert entry.env_vars("2nd.replay") == ["_2ND_REPLAY_LOCAL_FOLDERS"]
    postgres = load_registry([BUILTIN]).get("target-postgres", "meltanolabs")
    assert postgres.skeleton("wh") == {"host": "${WH_HOST}", "port": 5432, "user": "${WH_USER}",
                                       "password": "${WH_PASSWORD}", "database": "${WH_DATABASE}"}

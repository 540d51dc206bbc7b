"""Write the settings section of every connector's README from its ``--about`` settings schema.

    python docs/gen_readmes.py          # rewrite the sections
    python docs/gen_readmes.py --check  # exit 1, naming each README, when one is out of date

The connectors are the ``[project.scripts]`` of pyproject.toml that live in ``taps/`` or
``targets/``, and the mapper ``mapper-sluice`` (``protocol/maps/``); each one's README is
``README.md`` beside its module. The section between the
two markers is generated (the same table ``--about --format markdown`` prints, nested settings
included); everything outside it is hand-written and left alone. A README without the markers
gets the section appended.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocol._about import settings_table  # noqa: E402  (after the path set-up above)
from protocol._config import env_prefix  # noqa: E402

BEGIN = "<!-- BEGIN GENERATED SETTINGS: python docs/gen_readmes.py writes this section from --about -->"
END = "<!-- END GENERATED SETTINGS -->"


@dataclass(frozen=True)
class ConnectorDoc:
    name: str
    readme: Path
    settings_schema: dict[str, Any]
    source_dir: Path


def connectors(root: Path = ROOT) -> list[ConnectorDoc]:
    """Every tap, target and mapper of pyproject.toml's ``[project.scripts]``, with its settings schema."""
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    found = []
    for name, target in sorted(scripts.items()):
        module_name = target.split(":")[0]
        if not module_name.startswith(("taps.", "targets.", "protocol.maps.")):
            continue
        module = importlib.import_module(module_name)
        cls: Any = next((obj for obj in vars(module).values()
                    if isinstance(obj, type) and getattr(obj, "name", None) == name
                    and isinstance(getattr(obj, "settings_schema", None), dict)), None)
        if cls is None:
            raise SystemExit(f"gen_readmes: {module_name} defines no connector class named {name!r}")
        source_dir = Path(module.__file__ or "").parent
        found.append(ConnectorDoc(name, source_dir / "README.md", cls.settings_schema, source_dir))
    return found


def section(doc: ConnectorDoc) -> str:
    lines = [
        BEGIN,
        "## Settings",
        "",
        f"`{doc.name} --about` prints these (`--about --format markdown` this table). A nested setting is",
        "named by its path (`a.b` inside an object, `a[].b` inside each item of an array); its *Required*",
        "is relative to its parent.",
        "",
        *settings_table(doc.settings_schema),
        "",
        f"Top-level settings can also come from `{env_prefix(doc.name)}<SETTING>` environment variables",
        "with `--config ENV`.",
        END,
    ]
    return "\n".join(lines)


def render(doc: ConnectorDoc) -> str:
    """The README as it should be: the current one with its generated section replaced."""
    current = doc.readme.read_text() if doc.readme.exists() else f"# {doc.name}\n"
    start, end = current.find(BEGIN), current.find(END)
    if start >= 0 and end > start:
        return current[:start] + section(doc) + current[end + len(END):]
    return current.rstrip("\n") + "\n\n" + section(doc) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report READMEs that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for doc in connectors():
        text = render(doc)
        if doc.readme.exists() and doc.readme.read_text() == text:
            continue
        stale.append(doc.readme.relative_to(ROOT))
        if not args.check:
            doc.readme.write_text(text)
    for path in stale:
        sys.stderr.write(f"{path}: {'out of date' if args.check else 'written'}\n")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())

"""runner.yamlload: PyYAML imported without compiling its pure-Python reader's pattern, and
behaving exactly as before (the pure-Python loader still refuses what it refused)."""

from __future__ import annotations

import subprocess
import sys


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (PyYAML not yet imported there); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_first_import_leaves_the_reader_pattern_uncompiled() -> None:
    out = _fresh("from runner.yamlload import yaml_module; yaml_module(); import yaml.reader, re; "
                 "p = yaml.reader.Reader.NON_PRINTABLE; print(type(p).__name__, isinstance(p, re.Pattern))")
    assert out == "LazyPattern False"


def test_the_stand_in_is_not_left_in_the_re_cache() -> None:
    out = _fresh("from runner.yamlload import yaml_module, _NON_PRINTABLE; yaml_module(); import re; "
                 "p = re.compile(_NON_PRINTABLE); print(isinstance(p, re.Pattern))")
    assert out == "True"


def test_pure_python_loader_still_refuses_non_printable_characters() -> None:
    out = _fresh("from runner.yamlload import yaml_module\n"
                 "yaml = yaml_module()\n"
                 "try:\n"
                 "    yaml.load('a: \"\\x07\"', Loader=yaml.SafeLoader)\n"
                 "except yaml.YAMLError as exc:\n"
                 "    print('refused', 'x0007' in str(exc))\n"
                 "print(yaml.load('a: [1, b]', Loader=yaml.SafeLoader))")
    assert out.splitlines() == ["refused True", "{'a': [1, 'b']}"]


def test_later_calls_return_the_imported_module() -> None:
    import yaml

    from runner.yamlload import yaml_module

    assert yaml_module() is yaml

"""The public API: every name in cislearn.__all__ resolves, and `import cislearn` stays light."""

from __future__ import annotations

import subprocess
import sys

import cislearn


def test_all_names_resolve() -> None:
    for name in cislearn.__all__:
        assert getattr(cislearn, name) is not None, name


def test_unknown_name_raises_attribute_error() -> None:
    try:
        cislearn.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_cli_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from cislearn.cli.main import main\n"
        "main(['--help'])\n"
        "heavy = [m for m in ('torch', 'numpy', 'pandas', 'lightning', 'pytorch_lightning',"
        " 'matplotlib', 'rich') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == "HEAVY=", f"`cislearn --help` imported {out}"

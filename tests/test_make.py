"""`make test` says what it installs and why; without root the browser test says why it skips."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _browser_recipe(tmp_path: Path, uid: str) -> str:
    """The output of `make browser` with chromium absent and `id -u` answering ``uid``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for name in ("apt-get",):  # never install anything from a test
        (bin_dir / name).write_text('#!/bin/sh\necho would-run apt-get "$@"\nexit 1\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    # PATH holds only the fakes: chromium is absent whatever this machine has; the recipe's
    # shell (/bin/sh) and its builtins need nothing else
    env = {**os.environ, "PATH": str(bin_dir)}
    done = subprocess.run(
        [shutil.which("make"), "-s", "-C", str(ROOT), "browser"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_browser_announces_the_install_and_its_reason(tmp_path) -> None:
    out = _browser_recipe(tmp_path, "0")
    first = out.splitlines()[0]
    assert first.startswith("make: installing Debian's chromium") and "about 100" in first
    assert "browser test" in first  # why
    assert "will be skipped" in out  # our fake apt-get failed: said so


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_browser_without_root_says_the_test_is_skipped(tmp_path) -> None:
    out = _browser_recipe(tmp_path, "1000")
    assert "needs root" in out and "will be skipped" in out and "would-run" not in out


def test_browser_test_skip_reason_names_root(monkeypatch) -> None:
    from test_web_browser import no_browser_reason

    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert "needs root" in no_browser_reason()
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    assert "make test` installs it" in no_browser_reason()

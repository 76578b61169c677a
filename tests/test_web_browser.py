"""End to end in a real browser: `cislearn serve` + Debian's chromium driven by Playwright.

Loads the example data, checks its format, trains a tiny model and sees the ROC figure and a
learned motif's logo on the results page. Screenshots go
to ``test-artifacts/web/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "web"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    """A real `cislearn serve` on a loopback port with one worker; stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cislearn",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers stop with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"server did not start: {out}")
                time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # graceful: uvicorn stops the worker pool
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def no_browser_reason() -> str:
    """Why the browser test is skipped: `make test` installs chromium only as root."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return (
            f"{CHROMIUM} missing, and installing it needs root: run `apt-get install chromium` "
            "as root (about 100 Debian packages)"
        )
    return "chromium missing: `make test` installs it (apt-get install chromium)"


@pytest.mark.slow
def test_browser_example_check_train_results(server: str) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CISLEARN_REQUIRE_BROWSER"):  # set by .ci/run: CI must run it
            pytest.fail(f"{CHROMIUM} missing: install it with apt-get install chromium")
        pytest.skip(no_browser_reason())
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            page.click("#example")
            expect(page.locator("#notice")).to_contain_text("Example data loaded")
            assert page.input_value("#data").startswith(">sim_pos_1|1|training")
            page.click("#check")
            expect(page.locator("#check-report")).to_contain_text("OK")
            expect(page.locator("#check-report")).to_contain_text("600 records")
            page.screenshot(path=str(ARTIFACTS / "1-check-format.png"), full_page=True)
            page.fill("#max_epochs", "2")
            page.click("#submit")
            page.wait_for_url("**/jobs/*")
            page.screenshot(path=str(ARTIFACTS / "2-job-running.png"), full_page=True)
            # the page polls the status endpoint and reloads itself when the job is done
            expect(page.locator("#status")).to_have_text("done", timeout=180_000)
            page.wait_for_load_state("load")  # every image of the reloaded page fetched
            loaded = "el => el.complete && el.naturalWidth > 0"
            roc = page.locator("#results img.fig-roc")
            expect(roc).to_be_visible()
            assert roc.evaluate(loaded)
            assert roc.evaluate("el => el.naturalWidth") > 100
            logo = page.locator("#motifs img.logo").first
            expect(logo).to_be_visible()
            assert logo.evaluate(loaded)
            expect(page.locator("#motifs")).to_contain_text("CTCF")  # JASPAR match
            page.screenshot(path=str(ARTIFACTS / "3-results.png"), full_page=True)
        finally:
            browser.close()

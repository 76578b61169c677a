"""End to end in a real browser: `cislearn serve` + Debian's chromium driven by Playwright.

Uploads the example data, checks its format (the file is kept), trains a tiny model and a
baseline, and sees the figures, the comparison, the learned-features embedding and a learned
motif's logo on the results page; predicts with a download; deletes the job; the styled login
page of a server with a token. Screenshots go to ``test-artifacts/web/``.
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


def _serve(data_dir: Path, *extra: str):
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
            str(data_dir),
            *extra,
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
            except OSError as exc:
                if getattr(exc, "code", None) == 401:  # a token server answers: it is up
                    break
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


@pytest.fixture
def server(tmp_path: Path):
    yield from _serve(tmp_path / "data")


@pytest.fixture
def token_server(tmp_path: Path):
    yield from _serve(tmp_path / "data", "--token", "s3cret")


def no_browser_reason() -> str:
    """Why the browser test is skipped: `make test` installs chromium only as root."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return (
            f"{CHROMIUM} missing, and installing it needs root: run `apt-get install chromium` "
            "as root (about 100 Debian packages)"
        )
    return "chromium missing: `make test` installs it (apt-get install chromium)"


def _browser(pw):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CISLEARN_REQUIRE_BROWSER"):  # set by .ci/run: CI must run it
            pytest.fail(f"{CHROMIUM} missing: install it with apt-get install chromium")
        pytest.skip(no_browser_reason())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


@pytest.mark.slow
def test_browser_upload_check_train_results(server: str, tmp_path: Path) -> None:
    """Upload → Check format → Train keeps the file; results with readable comparison,
    embedding, links; predict with a download link; the jobs list names and deletes."""
    from playwright.sync_api import expect, sync_playwright

    from cislearn.web.inputs import example_fasta

    example = tmp_path / "ctcf_example.fa"
    example.write_text(example_fasta())
    seqs = [line for line in example.read_text().splitlines() if not line.startswith(">")]
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            page.click("#example")  # the example button still fills the text box
            expect(page.locator("#notice")).to_contain_text("Example data loaded")
            assert page.input_value("#data").startswith(">sim_pos_1|1|training")
            page.fill("#data", "")
            page.set_input_files("#data_file", str(example))
            page.fill("#name", "CTCF example, cnn vs composition")
            assert page.is_checked("input[value='auto']")  # the default model, ticked
            page.uncheck("input[value='auto']")
            page.check("input[value='cnn']")
            page.check("input[value='baseline-composition']")
            page.fill("#max_epochs", "8")
            page.click("#check")
            expect(page.locator("#check-report")).to_contain_text("OK")
            expect(page.locator("#check-report")).to_contain_text("600 records")
            # the browser emptied the file box; the server kept the file for Train
            expect(page.locator("#kept")).to_contain_text("ctcf_example.fa")
            assert page.input_value("#name") == "CTCF example, cnn vs composition"
            assert page.input_value("#max_epochs") == "8"
            page.locator("#model-help").click()
            expect(page.locator("#model-help")).to_contain_text("list of layers")
            page.screenshot(path=str(ARTIFACTS / "1-check-format.png"), full_page=True)
            page.click("#submit")
            page.wait_for_url("**/jobs/*")
            page.screenshot(path=str(ARTIFACTS / "2-job-running.png"), full_page=True)
            # the page polls the status endpoint and reloads itself when the job is done
            expect(page.locator("#status")).to_have_text("done", timeout=300_000)
            page.wait_for_load_state("load")  # every image of the reloaded page fetched
            expect(page.locator("h1")).to_contain_text("CTCF example, cnn vs composition")
            assert page.locator("#stage").inner_text() == ""  # "done", not "done done"
            loaded = "el => el.complete && el.naturalWidth > 100"
            for img in ("img.fig-roc", "img.fig-embedding", "img.fig-importance"):
                figure = page.locator(f"#results {img}").first
                expect(figure).to_be_visible()
                assert figure.evaluate(loaded), img
            logo = page.locator("#motifs img.logo").first
            expect(logo).to_be_visible()
            assert logo.evaluate("el => el.complete && el.naturalWidth > 0")
            expect(page.locator("#motifs")).to_contain_text("CTCF")  # JASPAR match
            expect(page.locator("a.heldout-predictions").first).to_be_visible()
            expect(page.locator("a.importance-link")).to_be_visible()
            table = page.locator("#comparison-table")
            expect(table.locator("thead")).to_contain_text("Composition-only AUROC")
            fits = """el => el.getBoundingClientRect().right <=
                document.getElementById('comparison').getBoundingClientRect().right"""
            assert table.evaluate(fits)
            page.screenshot(path=str(ARTIFACTS / "3-results.png"), full_page=True)
            table.scroll_into_view_if_needed()
            page.locator("#comparison").screenshot(path=str(ARTIFACTS / "3b-comparison.png"))

            page.fill("#predict textarea", "\n".join(seqs[:3]))
            page.click("#predict-button")
            page.wait_for_url("**#predict-results")
            expect(page.locator("#predictions tbody tr")).to_have_count(3)
            link = page.locator("#predictions-download")
            expect(link).to_be_visible()
            with page.expect_download() as info:
                link.click()
            rows = Path(info.value.path()).read_text().splitlines()
            assert rows[0] == "id\tprob_label\tlogit_label" and len(rows) == 4
            page.screenshot(path=str(ARTIFACTS / "4-predict.png"))  # the anchor's view

            page.goto(server + "/jobs")
            expect(page.locator("#jobs")).to_contain_text("CTCF example, cnn vs composition")
            page.screenshot(path=str(ARTIFACTS / "5-jobs.png"), full_page=True)
            page.on("dialog", lambda dialog: dialog.accept())
            page.locator("button.delete").first.click()
            expect(page.locator("#notice")).to_contain_text("deleted")
            expect(page.locator("main")).to_contain_text("No jobs yet")

            page.goto(server + "/api")
            code = page.locator("main > p code", has_text="Authorization: Bearer")
            expect(code).to_be_visible()  # markup rendered, not `backticks`
            page.screenshot(path=str(ARTIFACTS / "6-api.png"))
        finally:
            browser.close()


@pytest.mark.slow
def test_browser_login_page_is_styled(token_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            page.goto(token_server + "/")
            page.wait_for_url("**/login")
            header = page.locator("header")
            expect(header).to_have_css("background-color", "rgb(32, 52, 77)")  # style.css
            expect(page.locator("#login")).to_have_css("background-color", "rgb(255, 255, 255)")
            page.screenshot(path=str(ARTIFACTS / "7-login.png"))
            page.fill("#token", "wrong")
            page.click("#login-button")
            expect(page.locator("#error")).to_have_text("wrong token")
            page.fill("#token", "s3cret")
            page.click("#login-button")
            expect(page.locator("h1")).to_have_text("New training job")
        finally:
            browser.close()

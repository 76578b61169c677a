"""The web app's REST API and pages through FastAPI's test client (jobs run inline)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cislearn.web import present
from cislearn.web.app import create_app
from cislearn.web.inputs import example_fasta
from cislearn.web.settings import Settings
from cislearn.web.worker import run_pending

CTCF = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctcf_gm12878"
XSS = "<script>alert(1)</script>"
# one deep model and one baseline of the panel: a comparison in one job
MODELS = ["cnn", *[m for m in present.baseline_names() if m.endswith("composition")]]


def _client(tmp: Path, **kw) -> tuple[TestClient, Settings]:
    settings = Settings(data_dir=tmp, workers=0, **kw)
    return TestClient(create_app(settings, start_workers=False)), settings


@pytest.fixture(scope="module")
def small_data() -> str:
    return example_fasta(n=80, length=60, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, small_data: str, small_genome: Path):
    """One finished tiny training job (cnn, 1 epoch) shared by the result tests."""
    client, settings = _client(tmp_path_factory.mktemp("web"), genomes={"small": small_genome})
    r = client.post(
        "/api/v1/jobs",
        # learned motifs are checked by the browser test (tests/test_web_browser.py)
        json={"data": small_data, "models": MODELS, "max_epochs": 1, "n_boot": 50, "motifs": False},
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert run_pending(settings) == 1
    return client, settings, job_id


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return _client(tmp_path)[0]


def _error(r) -> dict:
    body = r.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


def test_health_models_openapi(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["status"] == "ok"
    models = client.get("/api/v1/models").json()
    assert "cnn" in models["architectures"]
    spec = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/predict",
        "/api/v1/jobs/{job_id}/results",
        "/api/v1/check",
    ):
        assert path in spec["paths"], path
    assert client.get("/").status_code == 200
    ref = client.get("/api").text  # the API reference page, offline (no CDN)
    assert "/api/v1/jobs/{job_id}/predict" in ref and "cdn" not in ref.lower()


def test_check_reports_like_cli(client: TestClient, small_data: str) -> None:
    ok = client.post("/api/v1/check", json={"data": small_data}).json()
    assert ok["ok"] and ok["reports"][0]["n_records"] == 160
    assert ok["reports"][0]["format"] == "deepbio"
    bad = ">a|1|training\nACGT\n>b|0|training\nACXT\n"
    body = client.post("/api/v1/check", json={"data": bad}).json()
    assert not body["ok"]
    problem = body["reports"][0]["problems"][0]
    assert "line 4" in problem and "'X'" in problem
    assert "/jobs/" not in problem and "tmp" not in problem  # no server path shown
    leaked = ">a|1|training\nACGTACGT\n>b|0|training\nTTGGCCAA\n>c|1|testing\nacgtacgt\n"
    report = client.post("/api/v1/check", json={"data": leaked}).json()["reports"][0]
    assert report["summary"]["leakage"]["n_shared"] == 1
    assert "leakage      1 identical sequence shared between splits" in report["text"]
    assert "e.g. train a = test c" in report["text"]


def test_check_real_pos_neg_gzip_upload_page(client: TestClient) -> None:
    files = {
        "pos_file": ("pos.fa.gz", (CTCF / "pos.fa.gz").read_bytes()),
        "neg_file": ("neg.fa.gz", (CTCF / "neg.fa.gz").read_bytes()),
    }
    r = client.post("/", data={"action": "check"}, files=files)
    assert r.status_code == 200
    assert "4,000 records, OK" in r.text and "4,478 records, OK" in r.text


def test_bad_inputs_are_clear_errors(client: TestClient, small_data: str) -> None:
    err = _error(client.post("/api/v1/jobs", json={"models": ["cnn"]}))
    assert err["code"] == "missing_input"
    r = client.post("/api/v1/jobs", json={"data": ">a|1|training\nACGN\n>a|0|testing\nAC\n"})
    assert r.status_code == 422
    err = _error(r)
    assert err["code"] == "input_problems" and err["details"]["reports"]
    err = _error(client.post("/api/v1/jobs", json={"data": small_data, "models": ["nope"]}))
    assert err["code"] == "unknown_model" and "cnn" in err["message"]
    err = _error(client.post("/api/v1/jobs", json={"data": small_data, "models": ["hybrid"]}))
    assert err["code"] == "unusable_model" and "track" in err["message"]
    err = _error(client.post("/api/v1/jobs", json={"data": small_data, "max_epochs": 10_000}))
    assert err["code"] == "too_many_epochs"
    err = _error(client.post("/api/v1/jobs", json={"data": small_data, "lr": -1}))
    assert err["code"] == "invalid_request" and "lr" in err["message"]
    assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing queued
    assert _error(client.get("/api/v1/nowhere"))["code"] == "not_found"
    assert _error(client.put("/api/v1/jobs"))["code"] == "method_not_allowed"


def test_upload_and_sequence_limits(tmp_path: Path, small_data: str) -> None:
    client, _ = _client(tmp_path, max_upload_bytes=5_000, max_sequences=50)
    r = client.post("/api/v1/check", json={"data": small_data})
    assert r.status_code == 413
    assert "upload limit of 5,000 bytes" in _error(r)["message"]
    few = "".join(f">s{i}|{i % 2}|training\nACGTACGT\n" for i in range(60))
    r = client.post("/api/v1/jobs", json={"data": few})
    assert r.status_code == 413
    err = _error(r)
    assert err["code"] == "too_many_sequences" and "60 sequences" in err["message"]
    page = client.post("/", data={"action": "check", "data": few})
    assert page.status_code == 413 and "at most 50" in page.text


def test_job_lifecycle_results_and_downloads(trained) -> None:
    client, _, job_id = trained
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "done" and job["error"] is None
    assert any("epoch 1/1" in line for line in job["log_tail"] + [job["progress"]["message"]]) or (
        job["progress"]["stage"] == "done"
    )
    res = client.get(f"/api/v1/jobs/{job_id}/results").json()
    assert [m["name"] for m in res["models"]] == MODELS
    assert all(m["finished"] and m["bundle"] for m in res["models"])
    if len(MODELS) > 1:  # compared on the same held-out records
        runs = {row[0] for row in res["comparison"]["rows"]}
        assert runs == set(MODELS) and "roc" in res["comparison"]["figures"]
        assert len({m["metrics"]["label"]["n"] for m in res["models"]}) == 1
    model = res["models"][0]
    metrics = model["metrics"]["label"]
    lo, hi = metrics["auroc_ci"]
    assert 0 <= lo <= metrics["auroc"] <= hi <= 1
    assert model["figures"]["roc"] == "runs/cnn/figures/roc.png"
    png = client.get(f"/api/v1/jobs/{job_id}/files/{model['figures']['roc']}")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    for name in ("../../jobs.sqlite", "/etc/passwd", "runs/cnn/../../job.log", "%2e%2e/x"):
        assert client.get(f"/api/v1/jobs/{job_id}/files/{name}").status_code == 404
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/jobs/{job_id}/archive").content))
    names = archive.namelist()
    assert any(n.endswith("runs/cnn/metrics.json") for n in names)
    assert not any("checkpoints" in n for n in names)
    bundle = client.get(f"/api/v1/jobs/{job_id}/models/cnn/bundle")
    assert set(zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()) >= {
        "cnn/model.safetensors",
        "cnn/model.json",
    }
    page = client.get(f"/jobs/{job_id}").text
    assert "roc.png" in page and "AUROC" in page and "Download all outputs" in page
    # finished jobs cannot be cancelled; they can be deleted
    assert _error(client.post(f"/api/v1/jobs/{job_id}/cancel"))["code"] == "job_finished"


def test_predict_api_and_page(trained, small_data: str) -> None:
    client, _, job_id = trained
    seqs = [line for line in small_data.splitlines() if not line.startswith(">")][:7]
    body = client.post(f"/api/v1/jobs/{job_id}/predict", json={"sequences": seqs}).json()
    assert body["ids"] == [f"seq{i + 1}" for i in range(7)]
    assert len(body["probs"]) == 7 and all(0 <= p[0] <= 1 for p in body["probs"])
    again = client.post(f"/api/v1/jobs/{job_id}/predict", json={"sequences": seqs[:1]}).json()
    assert again["probs"][0] == pytest.approx(body["probs"][0], abs=1e-5)  # batch-independent
    err = _error(client.post(f"/api/v1/jobs/{job_id}/predict", json={"sequences": ["ACGT"]}))
    assert "length 4" in err["message"] and "60" in err["message"]
    err = _error(
        client.post(f"/api/v1/jobs/{job_id}/predict", json={"sequences": ["Z" + seqs[0][1:]]})
    )
    assert "column 1" in err["message"]
    # the page escapes user text: a FASTA header with <script> renders as text
    text = f">{XSS}\n{seqs[0]}\n"
    page = client.post(f"/jobs/{job_id}/predict", data={"sequences": text, "model": "cnn"})
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'id="predictions"' in page.text


def test_user_text_is_escaped_in_check_report(client: TestClient) -> None:
    data = f">{XSS}|1|training\nACGT\n>{XSS}|0|testing\nACGTX\n"
    page = client.post("/", data={"action": "check", "data": data})
    assert XSS not in page.text
    assert "&lt;script&gt;" in page.text  # shown as text: textarea and report


def test_unknown_job_ids(client: TestClient) -> None:
    for job_id in ("0" * 32, "../etc", "abc"):
        r = client.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 404 and _error(r)["code"] in ("job_not_found", "not_found")
    assert client.get("/jobs/" + "0" * 32).status_code == 404


def test_cancel_and_delete_queued_job(client: TestClient, small_data: str) -> None:
    job_id = client.post("/api/v1/jobs", json={"data": small_data}).json()["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert _error(client.delete(f"/api/v1/jobs/{job_id}"))["code"] == "job_active"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    assert client.delete(f"/api/v1/jobs/{job_id}").json() == {"deleted": job_id}
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_security_headers_on_answers_and_refusals(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, token="s3cret")
    good = {"Authorization": "Bearer s3cret"}
    for r in (
        client.get("/api/v1/health", headers=good),  # an answer
        client.get("/api/v1/health"),  # refused: no token
        client.get("/api/v1/jobs/" + "0" * 32, headers=good),  # a JSON error
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "same-origin", r.url


def test_token_required_on_every_request(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, token="s3cret")
    for path in ("/api/v1/health", "/api/v1/jobs", "/api/v1/openapi.json"):
        r = client.get(path)
        assert r.status_code == 401 and _error(r)["code"] == "unauthorized", path
    for path in ("/", "/jobs", "/static/job.js", "/api"):  # pages → the login form
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (303, 401) and "fetch(" not in r.text, path
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.post("/api/v1/check", json={"data": ">a\nACGT\n"}).status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert client.get("/api/v1/health", headers=bad).status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert client.get("/api/v1/health", headers=good).status_code == 200
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    r = client.post("/login", data={"token": "s3cret"}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200  # the cookie now rides along


def test_no_pickle_in_web_layer() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "cislearn" / "web"
    for path in src.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "torch.load(" not in text, path


def test_mutation_map_api_and_page(trained, small_data: str) -> None:
    client, _, job_id = trained
    seq = next(line for line in small_data.splitlines() if not line.startswith(">"))
    body = client.post(f"/api/v1/jobs/{job_id}/mutation-map", json={"sequence": seq}).json()
    grid = body["delta_logit"]
    assert len(grid) == 4 and all(len(row) == len(seq) for row in grid)
    for i, base in enumerate(seq):  # the reference base changes nothing
        assert grid["ACGT".index(base)][i] == pytest.approx(0.0, abs=1e-5)
    assert any(abs(v) > 0 for row in grid for v in row)
    err = _error(client.post(f"/api/v1/jobs/{job_id}/mutation-map", json={"sequence": "ACGT"}))
    assert err["code"] == "bad_input" and "length 4" in err["message"]
    page = client.post(f"/jobs/{job_id}/mutation-map", data={"sequence": seq, "model": "cnn"})
    assert page.status_code == 200 and 'id="map-grid"' in page.text
    assert 'id="map-figure" src="data:image/png;base64,' in page.text


def test_variants_job_from_vcf_upload(trained, small_genome: Path) -> None:
    from cislearn.io.genome import Genome

    client, settings, job_id = trained
    genome = Genome(small_genome)
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=200000>"]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for i, pos in enumerate((5_000, 6_001, 20_002, 50_003, 90_004)):
        ref = genome.fetch("chr1", pos - 1, pos).upper()
        alt = "A" if ref != "A" else "C"
        lines.append(f"chr1\t{pos}\tv{i + 1}\t{ref}\t{alt}\t.\t.\t.")
    vcf = ("\n".join(lines) + "\n").encode()
    url = f"/api/v1/jobs/{job_id}/variants"
    err = _error(client.post(url, data={"genome": "hg38"}, files={"file": ("v.vcf", vcf)}))
    assert err["code"] == "unknown_genome" and "small" in err["message"]
    r = client.post(url, data={"genome": "small", "n_null": "50"}, files={"file": ("v.vcf", vcf)})
    assert r.status_code == 201, r.text
    var_id = r.json()["id"]
    assert run_pending(settings) == 1
    res = client.get(f"/api/v1/jobs/{var_id}/results").json()
    assert res["kind"] == "variants" and res["variants"]["n_variants"] == 5
    assert res["figure"] and res["table"] == "variants.tsv"
    ids = {row[res["variants"]["columns"].index("id")] for row in res["variants"]["rows"]}
    assert ids == {f"v{i}" for i in range(1, 6)}
    assert res["vcf"] == "variants.vcf" and res["maps"]  # the streamed pipeline's outputs
    page = client.get(f"/jobs/{var_id}").text
    assert 'id="variants"' in page and "variant_effects.png" in page
    assert 'id="variants-vcf"' in page and "fig-variant-map" in page
    cells = re.findall(r"<td>([^<]*)</td>", page.split('id="variants"')[1].split("</table>")[0])
    assert cells and "0.000" not in cells  # Δscores with significant digits


def test_web_variants_job_writes_what_the_cli_writes(trained, small_genome, tmp_path) -> None:
    """The web job and `cislearn score-variants` run one pipeline: byte-identical outputs."""
    from cislearn.cli.main import main
    from cislearn.io.genome import Genome
    from cislearn.web.jobs import job_dir, out_dir

    client, settings, job_id = trained
    genome = Genome(small_genome)
    rows = []
    for i, pos in enumerate(range(3_001, 60_000, 2_357)):
        ref = genome.fetch("chr1", pos - 1, pos).upper()
        alt = "ACGT"[("ACGT".index(ref) + 1 + i % 3) % 4] if ref in "ACGT" else "A"
        rows.append(f"chr1\t{pos}\tw{i}\t{ref}\t{alt}")
    rows.append("chr1\t7001\tdel\tAC\tA")  # an indel and a bad REF take their own paths
    rows.append("chr1\t8001\tbad\tNNN\tA")
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    text += "".join(f"{r}\t.\t.\t.\n" for r in rows)
    url = f"/api/v1/jobs/{job_id}/variants"
    form = {"genome": "small", "n_null": "200"}
    r = client.post(url, data=form, files={"file": ("v.vcf", text.encode())})
    assert r.status_code == 201, r.text
    var_id = r.json()["id"]
    assert run_pending(settings) == 1
    assert client.get(f"/api/v1/jobs/{var_id}").json()["status"] == "done"
    web_out = out_dir(settings, var_id)
    stored = job_dir(settings, var_id) / "input" / "variants.vcf"
    run = out_dir(settings, job_id) / "runs" / "cnn"
    cli_out = tmp_path / "cli"
    code = main(
        ["score-variants", str(run), str(stored), "--genome", str(small_genome),
         "--out", str(cli_out), "--n-null", "200"]
    )  # fmt: skip
    assert code == 0
    for name in ("variants.tsv", "variants.vcf"):
        assert (web_out / name).read_bytes() == (cli_out / name).read_bytes(), name
    table = (cli_out / "variants.tsv").read_text()
    assert "label_qvalue" in table and len(table.splitlines()) == len(rows) + 1
    assert sorted(p.name for p in (web_out / "maps").iterdir()) == sorted(
        p.name for p in (cli_out / "maps").iterdir()
    )


def test_new_job_page_pos_neg_upload_redirects_to_job(client: TestClient) -> None:
    files = {
        "pos_file": ("pos.fa.gz", (CTCF / "pos.fa.gz").read_bytes()),
        "neg_file": ("neg.fa.gz", (CTCF / "neg.fa.gz").read_bytes()),
    }
    form = {"action": "submit", "models": ["cnn", "lstm"], "max_epochs": "2"}
    r = client.post("/", data=form, files=files, follow_redirects=False)
    assert r.status_code == 303
    job_id = r.headers["location"].removeprefix("/jobs/")
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "queued" and job["params"]["models"] == ["cnn", "lstm"]
    assert job["params"]["inputs"] == {"pos": "pos", "neg": "neg"}  # server-chosen names
    page = client.get(f"/jobs/{job_id}").text
    assert 'id="cancel"' in page and "/static/job.js" in page
    assert job_id[:8] in client.get("/jobs").text
    # the page form reports bad numbers and bad inputs in the page, not as a crash
    bad = client.post("/", data={"action": "submit", "data": ">a|1|training\nACGZ\n"})
    assert bad.status_code == 422 and "problems" in bad.text


# -- issue 15: bad seeds, no tracebacks, length limit (point 5); the page's keeps (point 12) ---


def test_seed_numpy_cannot_take_is_a_422(client: TestClient, small_data: str) -> None:
    from cislearn.config import MAX_SEED

    assert MAX_SEED == 2**32 - 1
    for seed in (2**32, 10**29, -1):
        r = client.post("/api/v1/jobs", json={"data": small_data, "seed": seed})
        assert r.status_code == 422, seed
        err = _error(r)
        assert err["code"] == "invalid_request" and err["message"].startswith("seed:"), err
    page = client.post("/", data={"action": "submit", "data": small_data, "seed": str(2**32)})
    assert page.status_code == 422 and "seed:" in page.text
    assert small_data[1:40] in page.text  # the form keeps its input
    assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing queued
    r = client.post("/api/v1/jobs", json={"data": small_data, "seed": MAX_SEED, "name": "max"})
    assert r.status_code == 201 and r.json()["params"]["seed"] == MAX_SEED


def test_failed_job_shows_one_line_and_no_traceback(
    tmp_path: Path, small_data: str, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    from cislearn.web import jobs

    client, settings = _client(tmp_path)
    job_id = client.post("/api/v1/jobs", json={"data": small_data}).json()["id"]

    def crash(*args, **kwargs):
        import numpy as np

        np.random.default_rng(2**70).integers(2**64)  # numpy's own error deep in a call

    monkeypatch.setitem(jobs._KINDS, "train", crash)
    with caplog.at_level("ERROR"):
        assert run_pending(settings) == 1
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and "\n" not in job["error"]
    assert job["error"].startswith("internal error (") and "server's log" in job["error"]
    page = client.get(f"/jobs/{job_id}").text
    for text in (job["error"], "\n".join(job["log_tail"]), page):
        assert "Traceback" not in text and 'File "' not in text and "site-packages" not in text
    assert "Traceback" in caplog.text  # the details went to the server's log


def test_sequence_length_limit(tmp_path: Path, small_data: str) -> None:
    import contextlib
    import io as stdio

    from cislearn.cli.main import main

    client, _ = _client(tmp_path, max_sequence_length=50)
    r = client.post("/api/v1/check", json={"data": small_data})  # 60 bp sequences
    assert r.status_code == 413
    err = _error(r)
    assert err["code"] == "sequence_too_long"
    assert "60 bp" in err["message"] and "at most 50 bp" in err["message"]
    assert "sequence 1 (" in err["message"] and "--" not in err["message"]
    table = "sequence\tlabel\n" + "ACGT" * 20 + "\t1\n" + "ACGT" * 20 + "\t0\n"
    r = client.post("/api/v1/jobs", json={"data": table})
    assert r.status_code == 413 and "80 bp" in _error(r)["message"]
    page = client.post("/", data={"action": "check", "data": small_data})
    assert page.status_code == 413 and "at most 50 bp" in page.text
    out = stdio.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["serve", "--help"])
    assert "--max-length" in out.getvalue() and "Longest sequence" in out.getvalue()


def test_long_sequences_refused_before_predicting(trained) -> None:
    client, settings, job_id = trained
    long = "A" * (settings.max_sequence_length + 1)
    err = _error(client.post(f"/api/v1/jobs/{job_id}/predict", json={"sequences": [long]}))
    assert (
        err["code"] == "sequence_too_long" and f"{settings.max_sequence_length:,}" in err["message"]
    )
    err = _error(client.post(f"/api/v1/jobs/{job_id}/mutation-map", json={"sequence": long}))
    assert err["code"] == "sequence_too_long"


def test_messages_name_no_command_line_flags(tmp_path: Path) -> None:
    from cislearn.web.errors import web_message

    assert web_message("x: 'R'; allowed: A C G T N (use --iupac-to-n to map IUPAC codes)") == (
        "x: 'R'; allowed: A C G T N"
    )
    assert "--" not in web_message("ragged; --fixed-length needs one length for all sequences")
    assert web_message("bad split; use --split random") == "bad split"
    client, _ = _client(tmp_path, max_upload_bytes=100)
    messages = [_error(client.post("/api/v1/check", json={"data": ">a\n" + "A" * 200}))["message"]]
    client, _ = _client(tmp_path / "b")
    body = client.post("/api/v1/check", json={"data": ">a|1|training\nACRT\n"}).json()
    messages += body["reports"][0]["problems"] + [body["reports"][0]["text"]]
    ragged = ">a|1|training\nACGT\n>b|0|training\nACGTA\n"
    messages += client.post("/api/v1/check", json={"data": ragged}).json()["reports"][0]["problems"]
    assert len(messages) >= 3
    for message in messages:
        assert "--" not in message and "cislearn " not in message, message


def test_check_keeps_uploaded_files_for_train(client: TestClient, small_data: str) -> None:
    records = small_data.split(">")[1:]
    pos = "".join(">" + r.replace("|1|", "_").replace("|0|", "_") for r in records if "|1|" in r)
    neg = "".join(">" + r.replace("|1|", "_").replace("|0|", "_") for r in records if "|0|" in r)
    files = {"pos_file": ("my_pos.fa", pos.encode()), "neg_file": ("my_neg.fa", neg.encode())}
    page = client.post("/", data={"action": "check"}, files=files)
    assert page.status_code == 200 and "Format check: OK" in page.text
    staged = re.search(r'name="staged" value="([0-9a-f]{32})"', page.text)
    assert staged and 'id="kept"' in page.text and "my_pos.fa" in page.text
    # the browser sends no file the second time: the kept ones are used
    form = {"action": "submit", "staged": staged[1], "name": "kept files", "max_epochs": "1"}
    r = client.post("/", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    job = client.get(r.headers["location"].replace("/jobs/", "/api/v1/jobs/")).json()
    assert job["params"]["inputs"] == {"pos": "pos", "neg": "neg"}
    assert job["params"]["name"] == "kept files"
    # a made-up or foreign id keeps nothing: the usual "no input" answer
    bad = client.post("/", data={"action": "submit", "staged": "../../etc"})
    assert bad.status_code == 422 and "no input" in bad.text


def test_jobs_list_names_and_deletes(client: TestClient, small_data: str) -> None:
    job_id = client.post("/api/v1/jobs", json={"data": small_data, "name": f"n {XSS}"}).json()["id"]
    page = client.get("/jobs").text
    assert "n &lt;script&gt;" in page and XSS not in page
    assert f'id="delete-{job_id[:8]}"' not in page  # queued: cancel, not delete
    assert f"/jobs/{job_id}/cancel" in page
    client.post(f"/jobs/{job_id}/cancel")
    page = client.get("/jobs").text
    assert f'id="delete-{job_id[:8]}"' in page
    r = client.post(f"/jobs/{job_id}/delete")
    assert r.status_code == 200 and f"Job {job_id[:8]} deleted" in r.text
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404
    r = client.post("/api/v1/jobs", json={"data": small_data, "name": "x" * 101})
    assert r.status_code == 422 and _error(r)["message"].startswith("name:")


def test_login_stylesheet_and_api_markup(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, token="s3cret")
    css = client.get("/static/style.css", follow_redirects=False)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert client.get("/static/job.js", follow_redirects=False).status_code == 303
    login = client.get("/login").text
    assert '<link rel="stylesheet" href="/static/style.css">' in login and "style=" not in login
    client.post("/login", data={"token": "s3cret"})
    api = client.get("/api").text
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in api
    assert "`" not in re.sub(r"<code>.*?</code>", "", api)  # no markdown left unrendered


def test_results_page_reads_well(trained) -> None:
    client, settings, job_id = trained
    res = client.get(f"/api/v1/jobs/{job_id}/results").json()
    cnn = res["models"][0]
    assert cnn["predictions"] == "runs/cnn/predictions.tsv"
    assert cnn["figures"]["embedding"] == "runs/cnn/figures/embedding.png"
    baseline = res["models"][1]
    assert baseline["figures"]["importance"].endswith("figures/importance.png")
    page = client.get(f"/jobs/{job_id}").text
    assert 'class="heldout-predictions"' in page and 'class="importance-link"' in page
    assert 'class="fig-embedding"' in page
    for name in (cnn["figures"]["embedding"], cnn["embedding_table"]):
        assert client.get(f"/api/v1/jobs/{job_id}/files/{name}").status_code == 200
    head = re.search(r'<table id="comparison-table">\s*<thead>(.*?)</thead>', page, re.S)[1]
    assert ">AUROC<" in head and ">Composition-only AUROC<" in head
    assert "auroc_lo" not in head and "shortcut_auroc<" not in head
    status = re.search(r'id="status"[^>]*>(\w+)</strong>\s*<span id="stage">(.*?)</span>', page)
    assert status[1] == "done" and status[2] == ""  # not "done done"
    assert "--" not in re.sub(r"<!--.*?-->", "", page.split('id="variants-form"')[1])


def test_predict_page_has_download_and_anchor(trained, small_data: str) -> None:
    from urllib.parse import unquote

    client, _, job_id = trained
    seqs = [line for line in small_data.splitlines() if not line.startswith(">")][:3]
    page = client.post(f"/jobs/{job_id}/predict", data={"sequences": "\n".join(seqs)}).text
    assert f'action="/jobs/{job_id}/predict#predict-results"' in page
    assert 'id="predict-results"' in page
    href = re.search(r'id="predictions-download"[^>]*href="data:[^,]*,([^"]*)"', page, re.S)
    tsv = unquote(href[1]).splitlines()
    assert tsv[0] == "id\tprob_label\tlogit_label" and len(tsv) == 4
    assert tsv[1].startswith("seq1\t")


def test_variant_effects_keep_significant_digits() -> None:
    assert present.significant(-0.000213) == "-0.000213"
    assert present.significant(0.0123456) == "0.0123"
    assert present.significant(1.5e-07) == "1.5e-07"
    assert present.significant(0.0) == "0" and present.significant(12) == "12"


def test_job_page_says_validation_was_carved_and_warns_on_motifs(tmp_path: Path) -> None:
    import json

    from cislearn.web.jobs import out_dir

    client, settings = _client(tmp_path)
    text = example_fasta(n=60, length=60, seed=2).replace("|validation", "|training")
    assert "|testing" in text and "|validation" not in text
    r = client.post("/api/v1/jobs", json={"data": text, "models": ["cnn"], "max_epochs": 2,
                                          "n_boot": 20, "motifs": False})  # fmt: skip
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert run_pending(settings) == 1
    notes = client.get(f"/api/v1/jobs/{job_id}/results").json()["models"][0]["notes"]
    assert notes[0].startswith("the input's split has no validation part:")
    assert notes[-1].startswith(("stopped early at epoch", "ran all 2 epochs; best epoch"))
    page = client.get(f"/jobs/{job_id}").text
    assert "has no validation part" in page and notes[-1] in page
    # the learned-motif section shows the motifs' warning (files as motifs_run writes them)
    folder = out_dir(settings, job_id) / "motifs"
    folder.mkdir(parents=True)
    (folder / "motifs.tsv").write_text(
        "motif\tname\tinfluence\tinfluence_sd\nfilter1\tno match\t0.1\t0.02\n"
    )
    warning = (
        "warning: the model's held-out AUROC is 0.560 (< 0.75); its filters are not interpretable"
    )
    (folder / "motifs.json").write_text(json.dumps({"notes": [warning]}))
    page = client.get(f"/jobs/{job_id}").text
    assert 'class="warning motif-note">warning: the model&#39;s held-out AUROC is 0.560' in page
    assert "filter1: no match" in page and "influence 0.1 ± 0.02 logit" in page


# -- the web trains what the command line trains -------------------------------------------


def test_a_job_left_to_its_defaults_trains_the_command_lines_default(tmp_path: Path) -> None:
    """Nothing chosen on the page or in the API: the default model with its recipe, the
    training settings of ``cislearn train`` (not the web's own older ``cnn``, 10 epochs)."""
    from cislearn.config import DEFAULT_ARCH, DEFAULT_RECIPE, TrainConfig
    from cislearn.web.jobs import train_config
    from cislearn.web.submit import train_params

    client, settings = _client(tmp_path, max_epochs=30)
    params = train_params({})
    assert params["models"] == [present.DEFAULT_CHOICE] == ["auto"]
    cfg = train_config(params, "auto")
    assert cfg == TrainConfig(devices=1)  # the CLI's `train` defaults, on one device
    assert train_config(params, "auto", "cpu") == TrainConfig(devices=1, accelerator="cpu")
    assert cfg.arch == DEFAULT_ARCH and cfg.max_epochs == DEFAULT_RECIPE["max_epochs"]
    assert train_config(params, "cnn").max_epochs == TrainConfig(arch="cnn").max_epochs
    page = client.get("/").text
    assert re.search(r'value="auto"\s+checked', page)
    assert f'placeholder="{DEFAULT_RECIPE["max_epochs"]} for auto' in page
    assert f"{DEFAULT_ARCH} (rc_augment True" in page  # the choice's help
    # empty fields on the page are left out, not the page's own numbers
    form = {"action": "submit", "data": example_fasta(n=40, length=60, seed=3), "max_epochs": ""}
    r = client.post("/", data=form | {"max_epochs": "3"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job = client.get(r.headers["location"].replace("/jobs/", "/api/v1/jobs/")).json()
    assert job["params"]["models"] == ["auto"] and job["params"]["max_epochs"] == 3
    assert job["params"]["lr"] is None and job["params"]["batch_size"] is None
    # this server allows 30 epochs: the default's 40 is refused, named as the default
    r = client.post("/", data=form)
    assert r.status_code == 422 and "max_epochs 40 (the default for auto)" in r.text
    err = _error(client.post("/api/v1/jobs", json={"data": form["data"]}))
    assert err["code"] == "too_many_epochs" and "limit of 30" in err["message"]


def test_the_default_model_job_runs_and_shows(tmp_path: Path, small_data: str) -> None:
    """A job of the default model (a wide-deep stack) trains, shows its learned motifs,
    predicts and draws a mutation map like any other."""
    client, settings = _client(tmp_path)
    body = {"data": small_data, "max_epochs": 1, "n_boot": 20}
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert run_pending(settings) == 1
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "done", job
    results = client.get(f"/api/v1/jobs/{job_id}/results").json()
    (model,) = results["models"]
    assert model["name"] == "auto" and model["finished"], model
    assert model["metrics"]["label"]["auroc"] > 0 and results["motifs"]
    seq = small_data.splitlines()[1]
    page = client.post(f"/jobs/{job_id}/predict", data={"sequences": seq, "model": "auto"})
    assert page.status_code == 200, page.text[-500:]
    page = client.post(f"/jobs/{job_id}/mutation-map", data={"sequence": seq, "model": "auto"})
    assert page.status_code == 200, page.text[-500:]


def test_serve_accelerator_and_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    """Jobs run where the command line would (``--accelerator auto``: a GPU when present);
    a bad ``serve`` option is one line naming it, exit 2, no traceback."""
    from cislearn.cli.main import main

    assert Settings().accelerator == "auto" and Settings().job_device is None
    assert Settings(accelerator="cpu").job_device == "cpu"
    assert Settings(accelerator="gpu").job_device == "cuda"
    for argv, expect in (
        (["--workers", "100"], "--workers: must be <= 64 (got 100)"),
        (["--accelerator", "tpu"], "--accelerator: must be one of auto, cpu, gpu"),
        (["--max-length", "0"], "--max-length: must be > 0"),
    ):
        assert main(["serve", *argv]) == 2
        err = capsys.readouterr().err
        assert expect in err and len(err.strip().splitlines()) == 1, err

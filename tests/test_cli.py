"""End-to-end CLI tests, in-process: real data, the bad-input corpus, atomic outputs."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cislearn.cli.main import main
from cislearn.io.fasta import read_fasta

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
BAD = TESTS / "data" / "bad"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_subcommand(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("check", "prepare", "negatives", "simulate", "demo"):
        assert f"  {command} " in out


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cislearn", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "prepare" in done.stdout


def test_check_summarises_shared_ctcf_positives(capsys, ctcf) -> None:
    code, out, err = run(capsys, "check", ctcf / "pos.fa.gz")
    assert code == 0, err
    assert "4,000" in out or "4000" in out
    assert "201" in out


def bad_cases() -> list[tuple[str, str, str]]:
    with open(BAD / "EXPECTED.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["file"], r["args"] or "", r["expect"]) for r in rows]


def test_bad_corpus_is_large_enough() -> None:
    assert len(bad_cases()) >= 25


@pytest.mark.parametrize(("name", "args", "expect"), bad_cases())
def test_bad_input_gives_one_line_and_exit_2(capsys, monkeypatch, name, args, expect) -> None:
    monkeypatch.chdir(ROOT)
    code, _, err = run(capsys, "check", BAD / name, *shlex.split(args))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cislearn: error: ")
    assert expect in lines[0], f"expected {expect!r} in {lines[0]!r}"
    assert "Traceback" not in err


def test_missing_file_is_one_line(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "negatives", tmp_path / "nope.fa", "--out", tmp_path / "o.fa")
    assert code == 2 and "nope.fa" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.fa").exists()


def test_prepare_end_to_end(capsys, tmp_path, ctcf_genome) -> None:
    genome, peaks = ctcf_genome
    bed = tmp_path / "peaks.narrowPeak"
    peaks.drop(columns="line").to_csv(bed, sep="\t", header=False, index=False)
    out = tmp_path / "prep"
    code, stdout, err = run(
        capsys,
        "prepare",
        bed,
        "--genome",
        genome,
        "--top",
        "150",
        "--width",
        "201",
        "--negatives",
        "shuffle",
        "--out",
        out,
    )
    assert code == 0, err
    for name in ("pos.fa", "neg.fa", "dataset.fa", "regions.bed", "summary.json", "qc.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["positives"] == 150 and summary["negatives"] == 150
    # the written DeepBIO file is itself valid input
    code, _, err = run(capsys, "check", out / "dataset.fa", "--fixed-length")
    assert code == 0, err


def test_prepare_failure_leaves_nothing_behind(capsys, tmp_path, ctcf_genome) -> None:
    genome, peaks = ctcf_genome
    bed = tmp_path / "peaks.bed"
    peaks.assign(chrom="1").iloc[:, :3].to_csv(bed, sep="\t", header=False, index=False)
    out = tmp_path / "prep"
    code, _, err = run(capsys, "prepare", bed, "--genome", genome, "--out", out)
    assert code == 2 and "with 'chr'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bed]


def dinucleotides(seq: str) -> Counter:
    return Counter(seq[i : i + 2] for i in range(len(seq) - 1))


def test_negatives_shuffle_keeps_dinucleotides(capsys, tmp_path, ctcf) -> None:
    src = tmp_path / "pos.fa"
    with gzip.open(ctcf / "pos.fa.gz", "rt") as fh:
        src.write_text("".join(fh.readlines()[:200]))
    out = tmp_path / "neg.fa"
    code, _, err = run(capsys, "negatives", src, "--out", out, "--fold", "3", "--seed", "5")
    assert code == 0, err
    pos = [r.sequence for r in read_fasta(src)]
    neg = [r.sequence for r in read_fasta(out)]
    assert len(neg) == 3 * len(pos)
    for i, seq in enumerate(neg):
        assert dinucleotides(seq) == dinucleotides(pos[i // 3])


def test_negatives_genomic_writes_qc(capsys, tmp_path, small_genome) -> None:
    from cislearn.io.genome import Genome

    g = Genome(small_genome)
    src = tmp_path / "pos.fa"
    src.write_text(
        "".join(
            f">p{i}\n{g.fetch('chr2', 50_000 + 500 * i, 50_201 + 500 * i)}\n" for i in range(40)
        )
    )
    out = tmp_path / "neg.fa"
    code, _, err = run(
        capsys, "negatives", src, "--method", "genomic", "--genome", small_genome, "--out", out
    )
    assert code == 0, err
    assert out.exists() and (tmp_path / "neg.qc.png").exists() and (tmp_path / "neg.bed").exists()


def test_simulate_and_demo(capsys, tmp_path) -> None:
    code, _, err = run(
        capsys,
        "simulate",
        "--out",
        tmp_path / "sim",
        "--n-positive",
        "50",
        "--n-negative",
        "60",
        "--length",
        "101",
    )
    assert code == 0, err
    assert (tmp_path / "sim" / "implants.tsv").exists()
    code, _, err = run(capsys, "check", tmp_path / "sim" / "dataset.fa", "--fixed-length")
    assert code == 0, err
    code, out, err = run(capsys, "demo", "--out", tmp_path / "demo", "--max-epochs", "1")
    assert code == 0, err
    assert (tmp_path / "demo" / "data" / "dataset.fa").exists()
    assert (tmp_path / "demo" / "run" / "report.html").exists() and "report:" in out


@pytest.fixture(scope="module")
def small_ctcf(tmp_path_factory, ctcf) -> tuple[Path, Path]:
    """300 positives and 300 negatives of the real CTCF data (first records of each file)."""
    out = tmp_path_factory.mktemp("small")
    paths = []
    for name in ("pos", "neg"):
        records = list(read_fasta(ctcf / f"{name}.fa.gz"))[:300]
        path = out / f"{name}.fa"
        path.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in records))
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, small_ctcf) -> Path:
    pos, neg = small_ctcf
    run_dir = tmp_path_factory.mktemp("runs") / "cnn"
    code = main(
        [
            "train",
            "--pos",
            str(pos),
            "--neg",
            str(neg),
            "--arch",
            "cnn",
            "--max-epochs",
            "2",
            "--set",
            "model.filters=16",
            "--out",
            str(run_dir),
        ]
    )
    assert code == 0
    return run_dir


def test_train_writes_a_complete_run(trained_run) -> None:
    for name in (
        "model.safetensors",
        "model.json",
        "config.yaml",
        "history.csv",
        "metrics.json",
        "predictions.tsv",
        "report.html",
        "figures/roc.png",
    ):
        assert (trained_run / name).stat().st_size > 0, name
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert 0.0 <= metrics["metrics"]["label"]["auroc"] <= 1.0
    assert metrics["shortcut"]["auroc"] is not None
    assert "filters: 16" in (trained_run / "config.yaml").read_text()


def test_predict_evaluate_compare_summary(capsys, tmp_path, trained_run, small_ctcf) -> None:
    pos, neg = small_ctcf
    out = tmp_path / "preds.tsv"
    code, _, err = run(capsys, "predict", trained_run, pos, "--out", out)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert len(lines) == 301 and lines[0].startswith("id\t")
    code, stdout, err = run(
        capsys, "evaluate", trained_run, "--pos", pos, "--neg", neg, "--out", tmp_path / "ev"
    )
    assert code == 0, err
    assert "auroc=" in stdout and (tmp_path / "ev" / "report.html").exists()
    code, stdout, err = run(
        capsys, "compare", trained_run, tmp_path / "ev", "--out", tmp_path / "cmp"
    )
    assert code == 0, err
    assert (tmp_path / "cmp" / "comparison.html").exists()
    code, stdout, err = run(capsys, "summary", trained_run)
    assert code == 0 and "Total params" in stdout, err
    code, stdout, err = run(capsys, "summary", "basset", "--length", "201")
    assert code == 0 and "Total params" in stdout, err


@pytest.mark.slow
def test_predict_ddp_two_cpu_processes_identical(capsys, tmp_path, trained_run, small_ctcf):
    """`predict --devices 2 --accelerator cpu --strategy ddp` (2 processes on Lightning's
    predict loop, chunks interleaved over the ranks) writes the one-process TSV byte for byte."""
    import os
    import subprocess
    import sys

    pos, _ = small_ctcf
    one, two = tmp_path / "one.tsv", tmp_path / "two.tsv"
    code, _, err = run(capsys, "predict", trained_run, pos, "--out", one, "--chunk-size", "64")
    assert code == 0, err
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    ddp = ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--num-threads", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "cislearn", "predict", str(trained_run), str(pos), "--out",
         str(two), "--chunk-size", "64", *ddp],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert two.read_bytes() == one.read_bytes()
    assert proc.stdout.count("predictions written") == 1


def test_train_bad_config_is_one_line(capsys, tmp_path, small_ctcf) -> None:
    pos, neg = small_ctcf
    code, _, err = run(
        capsys, "train", "--pos", pos, "--neg", neg, "--optimizer", "adan", "--out", tmp_path / "r"
    )
    assert code == 2 and "sgd, adam, adamw, rmsprop" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "predict", tmp_path / "no-run", pos, "--out", tmp_path / "p.tsv")
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_ddp_two_processes_writes_one_run(tmp_path, small_ctcf) -> None:
    """`cislearn train --strategy ddp --devices 2` on CPU (gloo): rank 1 is launched by
    Lightning re-running the command; only rank 0 writes the bundle and the report."""
    pos, neg = small_ctcf
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cislearn",
            "train",
            "--pos",
            str(pos),
            "--neg",
            str(neg),
            "--arch",
            "cnn",
            "--set",
            "model.filters=16",
            "--max-epochs",
            "1",
            "--strategy",
            "ddp",
            "--devices",
            "2",
            "--accelerator",
            "cpu",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("report:") == 1
    meta = json.loads((out / "model.json").read_text())
    assert meta["world_size"] == 2
    assert (out / "report.html").exists()


def _deepbio_train_test(path: Path, n: int = 200) -> Path:
    """A DeepBIO FASTA split into training/testing only (no validation part)."""
    from synthetic import motif_data

    ds = motif_data(n)
    with open(path, "w") as fh:
        for i, (seq, label) in enumerate(zip(ds.sequences, ds.labels, strict=True)):
            part = "testing" if i % 5 == 0 else "training"
            fh.write(f">r{i}|{label}|{part}\n{seq}\n")
    return path


def test_train_carves_validation_from_a_training_testing_file(capsys, tmp_path) -> None:
    data = _deepbio_train_test(tmp_path / "deepbio.fa")
    out = tmp_path / "run"
    args = ("train", "--data", data, "--split", "given", "--arch", "cnn", "--out", out,
            "--set", "model.filters=8", "--set", "model.dense=4", "--lr", "0.02",
            "--batch-size", "16", "--max-epochs", "40", "--patience", "2")  # fmt: skip
    code, out_text, err = run(capsys, *args)
    assert code == 0, err
    history = pd.read_csv(out / "history.csv")
    assert np.isfinite(history["valid_auroc"]).all() and len(history) < 40
    metrics = json.loads((out / "metrics.json").read_text())
    validation = metrics["validation"]
    # 160 training records, 10% carved per class: 8 + 8
    assert validation["n_valid"] == 16 and validation["carved_from_train"]["n_valid"] == 16
    assert validation["epochs_run"] == len(history)
    best = validation["best_epoch"]
    assert history["valid_auroc"].iloc[best - 1] == history["valid_auroc"].max()
    ending = (
        f"stopped early at epoch {len(history)}; best epoch {best} "
        f"(valid_auroc {history['valid_auroc'].iloc[best - 1]:.4g})"
    )
    assert ending in out_text.splitlines()
    assert "note: the input's split has no validation part: 16 of the training records" in out_text
    assert f"epoch {best}/40 " in err and "*best valid_auroc*" in err
    report = (out / "report.html").read_text()
    assert "has no validation part" in report and ending in report and 'class="best"' in report
    # --valid-fraction 0: no validation, explicitly, with a warning
    code, out_text, err = run(capsys, *args[:-2], "--patience", "2", "--max-epochs", "2",
                              "--valid-fraction", "0", "--out", tmp_path / "blind")  # fmt: skip
    assert code == 0, err
    assert "warning: no validation part (valid_fraction 0)" in out_text
    assert "ran all 2 epochs; kept the last epoch (no validation part)" in out_text
    assert (
        json.loads((tmp_path / "blind" / "metrics.json").read_text())["validation"]["n_valid"] == 0
    )


def test_check_and_train_report_a_train_test_duplicate(capsys, tmp_path) -> None:
    data = _deepbio_train_test(tmp_path / "leaky.fa", n=120)
    records = data.read_text().splitlines()
    # r1 (training) is copied into the testing part under a new id
    data.write_text("\n".join([*records, f">copy|1|testing\n{records[3].lower()}"]) + "\n")
    assert records[2].startswith(">r1|1|training")
    code, out, err = run(capsys, "check", data)
    assert code == 0, err
    assert "leakage      1 identical sequence shared between splits (2 records), e.g. " in out
    assert "train r1 = test copy" in out
    args = ("train", "--data", data, "--split", "given", "--arch", "cnn", "--max-epochs", "1",
            "--set", "model.filters=4", "--set", "model.dense=4")  # fmt: skip
    code, out, err = run(capsys, *args, "--out", tmp_path / "run")
    assert code == 0, err
    warning = (
        "warning: leakage: 1 identical sequence shared between splits (2 records), "
        "e.g. train r1 = test copy"
    )
    assert warning in out
    assert warning in json.loads((tmp_path / "run" / "metrics.json").read_text())["notes"][1]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n_test"] == 25
    code, out, err = run(capsys, *args, "--drop-leaked", "--out", tmp_path / "dropped")
    assert code == 0, err
    assert "note: --drop-leaked: dropped 0 validation and 1 test records" in out
    assert "warning: leakage" not in out
    metrics = json.loads((tmp_path / "dropped" / "metrics.json").read_text())
    assert metrics["n_test"] == 24

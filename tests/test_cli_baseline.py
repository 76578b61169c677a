"""CLI tests of `cislearn baseline` and `cislearn benchmark`, in-process, on real CTCF data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from cislearn.cli.main import main
from cislearn.io.fasta import read_fasta

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctcf_gm12878"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> tuple[Path, Path]:
    """The first 150 positive and 150 negative CTCF records (negatives renamed: ids overlap)."""
    folder = tmp_path_factory.mktemp("ctcf")
    paths = []
    for name in ("pos", "neg"):
        path = folder / f"{name}.fa.gz"
        with gzip.open(path, "wt") as fh:
            for i, rec in enumerate(read_fasta(DATA / f"{name}.fa.gz")):
                if i == 150:
                    break
                fh.write(f">{name}_{rec.id}\n{rec.sequence}\n")
        paths.append(path)
    return paths[0], paths[1]


def test_baseline_predict_and_compare(capsys, subset, tmp_path) -> None:
    pos, neg = subset
    out = tmp_path / "lasso"
    code, stdout, err = run(
        capsys,
        "baseline",
        "--pos",
        pos,
        "--neg",
        neg,
        "--features",
        "motifs,composition:12",
        "--model",
        "lasso",
        "--out",
        out,
    )
    assert code == 0, err
    assert "auroc=" in stdout and "report:" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["label"]["auroc"] > 0.85  # CTCF motif counts separate the classes
    assert (out / "figures" / "importance.png").is_file()
    meta = json.loads((out / "baseline.json").read_text())
    assert "MA0139.2 CTCF" in meta["feature_names"]

    code, stdout, err = run(capsys, "predict", out, pos, "--out", tmp_path / "p.tsv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert len(table) == 150 and list(table.columns) == ["id", "label_prob", "label_logit"]
    assert table["label_prob"].mean() > 0.6

    other = tmp_path / "svm"
    code, _, err = run(
        capsys,
        "baseline",
        "--pos",
        pos,
        "--neg",
        neg,
        "--features",
        "kmer:4:rc",
        "--model",
        "svm",
        "--out",
        other,
    )
    assert code == 0, err
    code, stdout, err = run(capsys, "compare", out, other, "--out", tmp_path / "cmp")
    assert code == 0, err
    assert "lasso" in stdout and "svm" in stdout
    assert (tmp_path / "cmp" / "comparison.html").is_file()


def test_benchmark_subset(capsys, subset, tmp_path) -> None:
    pos, neg = subset
    code, stdout, err = run(
        capsys,
        "benchmark",
        "--pos",
        pos,
        "--neg",
        neg,
        "--models",
        "composition,rf_motifs",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    assert "rf_motifs" in stdout and "comparison:" in stdout
    table = pd.read_csv(tmp_path / "comparison.tsv", sep="\t")
    assert list(table["run"]) == ["composition", "rf_motifs"]
    assert (tmp_path / "rf_motifs" / "report.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("baseline", "--features", "words:3"), "feature 'words:3' not understood"),
        (("baseline", "--model", "xgboost"), "model must be one of"),
        (("benchmark", "--models", "lasso_motifs,nope"), "benchmark models"),
    ],
)
def test_bad_options_give_one_line(capsys, subset, tmp_path, args, message) -> None:
    pos, neg = subset
    code, _, err = run(capsys, *args, "--pos", pos, "--neg", neg, "--out", tmp_path / "x")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1

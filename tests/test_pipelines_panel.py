"""Tests of cislearn.pipelines.panel: baseline run folders and the benchmark panel on one split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cislearn.baseline import BaselinePredictor
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.pipelines.panel import baseline_run, benchmark_panel, split_for
from cislearn.predict import load as load_bundle
from cislearn.predict import predict_records
from cislearn.runload import load_run
from cislearn.types import Predictor
from synthetic import motif_data


@pytest.fixture(scope="module")
def ds():
    return motif_data(300, 50, seed=5)


@pytest.fixture(scope="module")
def run(ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lasso"
    return baseline_run(ds, out, features="kmer:6:rc,composition:1", model="lasso", n_boot=50)


def test_baseline_run_has_the_deep_run_layout(run, ds) -> None:
    out = run.run_dir
    for name in ("baseline.npz", "baseline.json", "config.yaml", "metrics.json", "predictions.tsv"):
        assert (out / name).is_file(), name
    for fig in ("roc.png", "pr.png", "calibration.png", "importance.png"):
        assert (out / "figures" / fig).is_file(), fig
    html = (out / "report.html").read_text()
    assert "Feature importance" in html and "baseline lasso" in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "binary" and metrics["metrics"]["label"]["auroc"] > 0.85
    assert metrics["shortcut"] is not None  # composition-only check, as for deep runs
    preds = pd.read_csv(out / "predictions.tsv", sep="\t")
    expected = split_for(ds)  # the split a deep run with the same seed would use
    test_ids = [i for i, s in zip(expected.ids, expected.split, strict=True) if s == "test"]
    assert list(preds["id"]) == test_ids and set(preds["split"]) == {"test"}


def test_predict_loads_a_baseline_run(run, ds) -> None:
    predictor = load_run(run.run_dir)
    assert isinstance(predictor, BaselinePredictor) and isinstance(predictor, Predictor)
    assert predictor.kind == "baseline" and predictor.length is None
    assert predictor.importance() is not None
    with pytest.raises(ModelLoadError, match="baseline run"):  # the deep loader alone refuses
        load_bundle(run.run_dir)
    preds = pd.read_csv(run.run_dir / "predictions.tsv", sep="\t")
    index = {k: i for i, k in enumerate(ds.ids)}
    seqs = [ds.sequences[index[i]] for i in preds["id"]]
    out = predictor.predict(seqs)
    np.testing.assert_allclose(out.probs[:, 0], preds["label_prob"], rtol=1e-5, atol=1e-6)
    # any length, streamed like a deep model's records
    records = [("short", "GGGCGGA"), ("long", "ACGT" * 100 + "GGGCGG")]
    frame = next(predict_records(predictor, records))
    assert list(frame.columns) == ["id", "label_prob", "label_logit"] and len(frame) == 2
    both = predictor.predict(seqs[:5], rc_average=True).probs
    assert both.shape == (5, 1)


def test_benchmark_panel_one_split_and_comparison(ds, tmp_path) -> None:
    res = benchmark_panel(
        ds, tmp_path, models=["composition", "lasso_gapped", "cnn"], max_epochs=1, n_boot=20
    )
    assert list(res.table["run"]) == ["composition", "lasso_gapped", "cnn"]
    assert (tmp_path / "comparison.html").is_file() and (tmp_path / "comparison.tsv").is_file()
    ids = [
        list(pd.read_csv(tmp_path / n / "predictions.tsv", sep="\t")["id"])
        for n in ("composition", "lasso_gapped", "cnn")
    ]
    assert ids[0] == ids[1] == ids[2]  # all models are tested on the same records
    auroc = dict(zip(res.table["run"], res.table["auroc"], strict=True))
    assert auroc["lasso_gapped"] > 0.9 > auroc["composition"]
    assert (tmp_path / "cnn" / "model.safetensors").is_file()


def test_benchmark_panel_rejects_unknown_models(ds, tmp_path) -> None:
    with pytest.raises(ConfigError, match="benchmark models"):
        benchmark_panel(ds, tmp_path, models=["lasso_motifs", "xgboost"])
    with pytest.raises(ConfigError, match="benchmark models"):
        benchmark_panel(ds, tmp_path, models=["cnn", "cnn"])


def test_a_baseline_run_cannot_score_variants(run) -> None:
    from cislearn.variants import score_variants

    with pytest.raises(InputError, match="baseline run cannot score variants"):
        score_variants(load_run(run.run_dir), "no-genome-needed.fa", [])

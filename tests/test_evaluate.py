"""Tests of cislearn.evaluate: metrics tables and CIs, the shortcut check, run comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
)

from cislearn.data import SequenceDataset, assign_split, from_fasta_pair
from cislearn.errors import InputError
from cislearn.evaluate import RunSummary, compare_runs, evaluate, shortcut_check


def noisy_scores(y: np.ndarray, rng: np.random.Generator, signal: float = 1.5) -> np.ndarray:
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(size=y.shape))))


def test_binary_matches_sklearn_and_ci_contains_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(float)
    p = noisy_scores(y, rng, signal=0.6)
    ev = evaluate(y, p, task="binary", target_names=["bound"], n_boot=300)
    m = ev.metrics["bound"]
    pred = p >= 0.5
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["auprc_baseline"] == pytest.approx(y.mean())
    assert m["n"] == 400 and isinstance(m["n"], int)
    for key in ("auroc", "auprc"):
        lo, hi = m[f"{key}_ci"]
        assert 0 <= lo < m[key] < hi <= 1
        assert hi - lo < 0.2  # 400 samples: a few points wide, not degenerate
    assert "macro" not in ev.metrics  # one target: no macro row
    assert list(ev.table["target"]) == ["bound"]
    assert ev.table.loc[0, "auroc_lo"] == pytest.approx(m["auroc_ci"][0])
    json.dumps(ev.metrics, allow_nan=False)  # JSON-ready: no NaN, no numpy types


def test_ci_is_seeded_and_optional() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = noisy_scores(y, rng)
    a = evaluate(y, p, task="binary", target_names=["t"], n_boot=200, seed=3).metrics["t"]
    b = evaluate(y, p, task="binary", target_names=["t"], n_boot=200, seed=3).metrics["t"]
    assert a["auroc_ci"] == b["auroc_ci"]
    none = evaluate(y, p, task="binary", target_names=["t"], n_boot=0).metrics["t"]
    assert none["auroc_ci"] is None and none["auroc"] == a["auroc"]


def test_multilabel_macro_and_missing_labels() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (300, 3)).astype(float)
    p = noisy_scores(y, rng, signal=np.array([0.3, 1.0, 2.0]))
    y[:40, 1] = np.nan  # missing labels of target b
    y[:, 2] = 1.0  # target c has one class: AUROC undefined
    ev = evaluate(y, p, task="multilabel", target_names=["a", "b", "c"], n_boot=100)
    b = ev.metrics["b"]
    keep = ~np.isnan(y[:, 1])
    assert b["n"] == 260 and b["auroc"] == pytest.approx(roc_auc_score(y[keep, 1], p[keep, 1]))
    assert ev.metrics["c"]["auroc"] is None and ev.metrics["c"]["auroc_ci"] is None
    macro = ev.metrics["macro"]
    assert macro["auroc"] == pytest.approx(np.mean([ev.metrics[t]["auroc"] for t in "ab"]))
    assert macro["accuracy"] == pytest.approx(np.mean([ev.metrics[t]["accuracy"] for t in "abc"]))
    assert macro["n"] == 300 and "n_pos" not in macro
    assert list(ev.table["target"]) == ["a", "b", "c", "macro"]
    assert ev.metrics["a"]["auroc"] < ev.metrics["b"]["auroc"]  # signal grows a → b
    json.dumps(ev.metrics, allow_nan=False)


def test_regression_and_counts() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=(250, 2))
    yhat = y * [1.0, 0.2] + rng.normal(size=(250, 2))
    for task in ("regression", "counts"):
        ev = evaluate(y, yhat, task=task, target_names=["u", "v"], n_boot=200)
        u = ev.metrics["u"]
        assert u["pearson"] == pytest.approx(pearsonr(y[:, 0], yhat[:, 0])[0])
        assert u["spearman"] == pytest.approx(spearmanr(y[:, 0], yhat[:, 0])[0])
        assert u["mse"] == pytest.approx(np.mean((y[:, 0] - yhat[:, 0]) ** 2))
        lo, hi = u["pearson_ci"]
        assert lo < u["pearson"] < hi
        assert "auroc" not in u and "macro" in ev.metrics


def test_multiclass() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 2 * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ev = evaluate(y[:, None], prob, task="multiclass", target_names=["x", "y", "z"], n_boot=50)
    assert set(ev.metrics) == {"x", "y", "z", "macro"}
    assert ev.metrics["macro"]["accuracy"] == pytest.approx(np.mean(prob.argmax(1) == y))
    assert ev.metrics["y"]["auroc"] == pytest.approx(roc_auc_score(y == 1, prob[:, 1]))
    other = evaluate(y, prob, task="multiclass", target_names=["label"], n_boot=0)
    assert "class2" in other.metrics  # names fall back when not one per class


def test_bad_input() -> None:
    y = np.array([0, 1, 0, 1])
    with pytest.raises(InputError, match="unknown task"):
        evaluate(y, y, task="binray", target_names=["t"])
    with pytest.raises(InputError, match="must match"):
        evaluate(y, y[:3], task="binary", target_names=["t"])
    with pytest.raises(InputError, match="2 target names"):
        evaluate(y, y, task="binary", target_names=["t", "u"])
    with pytest.raises(InputError, match="n_boot"):
        evaluate(y, y, task="binary", target_names=["t"], n_boot=-1)


# -- shortcut check ---------------------------------------------------------------------------


def gc_dataset(n: int, seed: int) -> SequenceDataset:
    """Positives differ from negatives only by GC content (0.55 vs 0.45): no motif at all."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for label, gc in ((1, 0.55), (0, 0.45)):
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        for row in rng.choice(list("ACGT"), size=(n, 100), p=p):
            seqs.append("".join(row))
            labels.append(label)
    return SequenceDataset.from_arrays(seqs, labels)


def test_shortcut_fires_on_gc_only_data() -> None:
    train, test = gc_dataset(200, seed=1), gc_dataset(150, seed=2)
    baseline = shortcut_check(train, test, model_auroc=None)
    assert baseline.applicable and 0.8 < baseline.auroc < 0.95 and baseline.warning is None
    close = shortcut_check(train, test, model_auroc=baseline.auroc + 0.005)
    assert close.auroc == pytest.approx(baseline.auroc)  # deterministic
    assert close.warning and "only 0.005 AUROC" in close.warning and "GC" in close.warning
    worse = shortcut_check(train, test, model_auroc=baseline.auroc - 0.1)
    assert worse.warning and "matches or beats" in worse.warning
    far = shortcut_check(train, test, model_auroc=baseline.auroc + 0.05)
    assert far.warning is None
    assert "20 mono- and di-nucleotide" in far.note


def test_shortcut_silent_on_composition_free_data() -> None:
    # labels independent of the sequences: the composition model is near chance
    rng = np.random.default_rng(3)
    seqs = ["".join(row) for row in rng.choice(list("ACGT"), size=(600, 100))]
    ds = SequenceDataset.from_arrays(seqs, rng.integers(0, 2, 600))
    res = shortcut_check(ds.subset(np.arange(300)), ds.subset(np.arange(300, 600)), model_auroc=0.9)
    assert 0.4 < res.auroc < 0.6 and res.warning is None


def test_shortcut_not_applicable() -> None:
    seqs = ["ACGTACGT", "GGGGCCCC", "ATATATAT", "CGCGCGCG"]
    reg = SequenceDataset.from_arrays(seqs, [0.5, 1.7, 2.0, 0.1])
    res = shortcut_check(reg, reg, model_auroc=None)
    assert not res.applicable and res.auroc is None and "binary" in res.note
    one_class = SequenceDataset.from_arrays(seqs, [1, 1, 1, 1])
    two = SequenceDataset.from_arrays(seqs, [0, 1, 0, 1])
    res = shortcut_check(two, one_class, model_auroc=0.9)
    assert not res.applicable and "test split holds one class" in res.note
    with pytest.raises(InputError, match="margin"):
        shortcut_check(two, two, model_auroc=0.9, margin=-1)


def test_shortcut_on_ctcf(ctcf) -> None:
    """CTCF peaks vs matched background: composition alone is informative but far from 0.98."""
    ds = assign_split(from_fasta_pair(ctcf / "pos.fa.gz", ctcf / "neg.fa.gz"), seed=0)
    res = shortcut_check(ds.part("train"), ds.part("test"), model_auroc=0.98)
    assert 0.6 < res.auroc < 0.8 and res.warning is None


# -- comparison -------------------------------------------------------------------------------


def test_compare_runs() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, (200, 2)).astype(float)
    ev = evaluate(y, noisy_scores(y, rng), task="multilabel", target_names=["a", "b"], n_boot=50)
    flat = {"auroc": 0.7, "auprc": 0.6}
    table = compare_runs(
        [RunSummary("cnn", ev.metrics, shortcut_auroc=0.66), RunSummary("lasso", flat)]
    )
    assert list(table.columns[:2]) == ["run", "target"]
    assert list(table["run"]) == ["cnn", "cnn", "cnn", "lasso"]
    assert list(table["target"]) == ["a", "b", "macro", "all"]
    assert table.loc[0, "auroc"] == pytest.approx(ev.metrics["a"]["auroc"])
    assert table.loc[0, "auroc_lo"] == pytest.approx(ev.metrics["a"]["auroc_ci"][0])
    assert table.loc[3, "auroc"] == 0.7 and np.isnan(table.loc[3, "shortcut_auroc"])
    with pytest.raises(InputError, match="unique"):
        compare_runs([RunSummary("x", flat), RunSummary("x", flat)])

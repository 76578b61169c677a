"""Metrics: agree with scikit-learn/scipy, handle single-class targets quietly, fast bootstrap."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn import metrics as skm

from cislearn.errors import InputError
from cislearn.metrics import (
    BOOTSTRAP_METRICS,
    CLASSIFICATION_KEYS,
    MULTICLASS_KEYS,
    REGRESSION_KEYS,
    bootstrap_ci,
    classification_metrics,
    multiclass_metrics,
    pr_points,
    regression_metrics,
    roc_points,
)


def binary_data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = 1 / (1 + np.exp(-(y + rng.normal(size=n))))
    return y, np.round(score, 2)  # rounding makes ties, which every metric must handle


def test_classification_matches_sklearn() -> None:
    y, p = binary_data()
    m = classification_metrics(y, p, threshold=0.6)
    assert tuple(m) == CLASSIFICATION_KEYS
    pred = p >= 0.6
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["auprc_baseline"] == pytest.approx(y.mean())
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert (m["n"], m["n_pos"]) == (300, y.sum())


def test_classification_per_target_columns_and_missing_labels() -> None:
    y0, p0 = binary_data(seed=1)
    y1, p1 = binary_data(seed=2)
    y = np.c_[y0, y1].astype(float)
    y[:10, 1] = np.nan
    m = classification_metrics(y, np.c_[p0, p1])
    assert all(m[key].shape == (2,) for key in CLASSIFICATION_KEYS)
    assert m["auroc"][0] == pytest.approx(skm.roc_auc_score(y0, p0))
    assert m["auroc"][1] == pytest.approx(skm.roc_auc_score(y1[10:], p1[10:]))
    assert m["n"].tolist() == [300, 290]


def test_single_class_gives_nan_without_warnings() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        none = classification_metrics(np.zeros(20), p)
        every = classification_metrics(np.ones(20), p)
        quiet = classification_metrics(np.zeros(20), np.zeros(20))
        reg = regression_metrics(np.ones(20), p)
        curve = roc_points(np.zeros(20), p)
        pr = pr_points(np.ones(20), p)
    for m in (none, every):
        assert np.isnan(m["auroc"]) and np.isnan(m["auprc"]) and np.isnan(m["mcc"])
        assert 0 <= m["accuracy"] <= 1
    assert none["auprc_baseline"] == 0 and every["auprc_baseline"] == 1
    assert np.isnan(quiet["f1"]) and quiet["accuracy"] == 1  # nothing to find, nothing found
    assert np.isnan(reg["pearson"]) and np.isnan(reg["spearman"]) and np.isnan(reg["r2"])
    assert curve.fpr.size == 0 and pr.precision.size == 0


def test_bad_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="same shape"):
        classification_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(InputError, match="0/1 labels"):
        classification_metrics(np.array([0, 2]), np.zeros(2))
    with pytest.raises(InputError, match="NaN"):
        classification_metrics(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(InputError, match="shape"):
        regression_metrics(np.zeros((3, 2, 1)), np.zeros((3, 2, 1)))
    with pytest.raises(InputError, match="unknown metric"):
        bootstrap_ci("accuracy", np.zeros(3), np.zeros(3))


def test_regression_matches_scipy_and_sklearn() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=(200, 2))
    yhat = y + rng.normal(size=(200, 2))
    m = regression_metrics(y, yhat)
    assert tuple(m) == REGRESSION_KEYS
    for j in range(2):
        assert m["pearson"][j] == pytest.approx(pearsonr(y[:, j], yhat[:, j])[0])
        assert m["spearman"][j] == pytest.approx(spearmanr(y[:, j], yhat[:, j])[0])
        assert m["mse"][j] == pytest.approx(skm.mean_squared_error(y[:, j], yhat[:, j]))
        assert m["mae"][j] == pytest.approx(skm.mean_absolute_error(y[:, j], yhat[:, j]))
        assert m["r2"][j] == pytest.approx(skm.r2_score(y[:, j], yhat[:, j]))
    one = regression_metrics(y[:, 0], yhat[:, 0])
    assert isinstance(one["pearson"], float) and one["n"] == 200


def test_multiclass_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 150)
    logits = rng.normal(size=(150, 3)) + 2 * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = multiclass_metrics(y, prob)
    assert tuple(m) == MULTICLASS_KEYS
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, prob.argmax(1)))
    assert m["macro_auroc"] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, prob.argmax(1), average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, prob))
    with pytest.raises(InputError, match="class indices 0..2"):
        multiclass_metrics(np.array([0, 3]), prob[:2])


def test_curves_match_sklearn() -> None:
    y, p = binary_data(seed=6)
    roc = roc_points(y, p)
    fpr, tpr, thr = skm.roc_curve(y, p)
    np.testing.assert_array_equal(roc.fpr, fpr)
    np.testing.assert_array_equal(roc.tpr, tpr)
    np.testing.assert_array_equal(roc.thresholds, thr)
    pr = pr_points(y, p)
    precision, recall, _ = skm.precision_recall_curve(y, p)
    np.testing.assert_array_equal(pr.precision, precision)
    np.testing.assert_array_equal(pr.recall, recall)
    assert pr.thresholds.size == pr.precision.size - 1


REFERENCE = {
    "auroc": skm.roc_auc_score,
    "auprc": skm.average_precision_score,
    "pearson": lambda a, b: pearsonr(a, b)[0],
    "spearman": lambda a, b: spearmanr(a, b)[0],
    "mse": skm.mean_squared_error,
    "mae": skm.mean_absolute_error,
    "r2": skm.r2_score,
}


@pytest.mark.parametrize("name", BOOTSTRAP_METRICS)
def test_vectorised_bootstrap_equals_per_resample_reference(name: str) -> None:
    y, p = binary_data(n=400, seed=7)
    if name not in ("auroc", "auprc"):  # regression: continuous targets with ties
        y = np.round(p + np.random.default_rng(8).normal(scale=0.2, size=p.size), 1)
    fast = bootstrap_ci(name, y, p, n_boot=40, seed=11)
    slow = bootstrap_ci(REFERENCE[name], y, p, n_boot=40, seed=11)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_bootstrap_ci_contains_estimate_and_is_seeded() -> None:
    y, p = binary_data(n=1000, seed=9)
    point = skm.roc_auc_score(y, p)
    low, high = bootstrap_ci("auroc", y, p, n_boot=500, seed=1)
    assert low < point < high and high - low < 0.15
    assert bootstrap_ci("auroc", y, p, n_boot=500, seed=1) == (low, high)
    assert bootstrap_ci("auroc", y, p, n_boot=500, seed=2) != (low, high)
    narrow = bootstrap_ci("auroc", y, p, n_boot=500, seed=1, alpha=0.5)
    assert low < narrow.low < narrow.high < high


def test_bootstrap_skips_undefined_resamples() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    p = np.linspace(0, 1, 8)
    low, high = bootstrap_ci("auroc", y, p, n_boot=200)  # many resamples lack the positive
    assert low == high == 1.0
    assert all(np.isnan(bootstrap_ci("auroc", np.zeros(5), p[:5], n_boot=20)))


def test_bootstrap_is_fast() -> None:
    y, p = binary_data(n=2500, seed=10)
    start = time.perf_counter()
    bootstrap_ci("auroc", y, p, n_boot=1000)
    assert time.perf_counter() - start < 2.0

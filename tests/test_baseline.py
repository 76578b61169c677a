"""Tests of cislearn.baseline: feature specs, the models, and the pickle-free model files."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cislearn.baseline import (
    BaselineModel,
    featurize,
    fit_baseline,
    load_baseline,
    parse_features,
    save_baseline,
)
from cislearn.baseline.models import _fit_forest, _forest_arrays, _forest_mean
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.features import FeatureMatrix
from synthetic import motif_data


@pytest.fixture(scope="module")
def data():
    ds = motif_data(400, 50, seed=3)
    specs = parse_features("kmer:6:rc")
    fm = featurize(specs, list(ds.sequences))
    train, test = np.arange(0, 300), np.arange(300, 400)
    return ds, specs, fm, train, test


def rows(fm: FeatureMatrix, idx: np.ndarray) -> FeatureMatrix:
    return FeatureMatrix(fm.values[idx], fm.names)


def test_parse_features() -> None:
    specs = parse_features("kmer:6, gapped:3:3:rc,composition,motifs:JASPAR2024")
    assert [str(s) for s in specs] == [
        "kmer:6",
        "gapped:3:3:rc",
        "composition:123",
        "motifs:JASPAR2024",
    ]
    assert specs[1].k == 3 and specs[1].max_gap == 3 and specs[1].rc_merge
    assert parse_features(["composition:12"])[0].orders == (1, 2)
    assert str(parse_features("motifs:/data/my:motifs.meme")[0]) == "motifs:/data/my:motifs.meme"
    for bad in ("kmer", "kmer:x", "gapped:3:3:3", "words:3", "composition:rc", ""):
        with pytest.raises(ConfigError, match="feature|no features"):
            parse_features(bad)


def test_featurize_prefixes_colliding_names() -> None:
    fm = featurize(parse_features("kmer:2,composition:12"), ["ACGT", "AAAA"])
    assert (
        fm.names[:2] == ["AA", "AC"]
        and "composition:AA" in fm.names
        and "composition:A" in fm.names
    )
    assert fm.shape == (2, 16 + 4 + 16)


@pytest.mark.parametrize("model", ["lasso", "ridge", "svm", "rf"])
def test_classifiers_learn_the_motif_and_round_trip(data, model, tmp_path) -> None:
    ds, specs, fm, train, test = data
    m = fit_baseline(
        rows(fm, train),
        ds.targets[train],
        model=model,
        spec=specs,
        target_names=["label"],
        seed=0,
        n_trees=60,
    )
    pred = m.predict_features(fm.values[test])
    assert pred.probs.shape == (100, 1) and pred.probs.dtype == np.float32
    assert ((pred.probs >= 0) & (pred.probs <= 1)).all()
    np.testing.assert_allclose(
        pred.probs, 1 / (1 + np.exp(-pred.logits.astype(np.float64))), atol=1e-5
    )
    assert roc_auc_score(ds.targets[test, 0], pred.probs[:, 0]) > 0.85
    # GGGCGG is the implanted motif (named CCGCCC: its reverse complement comes first)
    top = [m.feature_names[i] for i in np.argsort(-m.importance)[:3]]
    assert "CCGCCC" in top, top
    if model == "rf":
        assert len(m.permutation) == 20 and max(m.permutation.values()) > 0
    save_baseline(m, tmp_path)
    back = load_baseline(tmp_path)
    assert back.model == model and back.feature_names == m.feature_names
    np.testing.assert_array_equal(back.predict_features(fm.values[test]).probs, pred.probs)
    # from sequences: same featurization as training
    seqs = [ds.sequences[i] for i in test]
    np.testing.assert_allclose(back.predict(seqs).probs, pred.probs, atol=1e-6)


def test_forest_walk_matches_sklearn(data) -> None:
    ds, _, fm, train, test = data
    x = fm.values[train].toarray().astype(np.float32)
    for task, y in (("binary", ds.targets[train]), ("regression", x[:, :2] * 1.5 + 0.1)):
        est = _fit_forest(x, y, task, 0, 1, 25)
        a = _forest_arrays(est, task, y.shape[1])
        xt = fm.values[test].toarray().astype(np.float32)
        mine = _forest_mean(
            xt, a["left"], a["right"], a["feature"], a["threshold"], a["value"], a["roots"]
        )
        theirs = est.predict_proba(xt)[:, [1]] if task == "binary" else est.predict(xt)
        np.testing.assert_allclose(mine, theirs.reshape(mine.shape), atol=1e-9)


def test_regression_and_multilabel(data) -> None:
    ds, _, _, train, test = data
    fm = featurize(parse_features("kmer:2"), list(ds.sequences))  # few columns: quick fits
    gc = np.array([s.count("G") + s.count("C") for s in ds.sequences], dtype=float)
    y = np.stack([gc / 10, ds.targets[:, 0] * 2.0 + 0.01 * gc], axis=1)
    for model in ("lasso", "ridge", "rf"):
        m = fit_baseline(rows(fm, train), y[train], model=model, task="regression", n_trees=40)
        out = m.predict_features(fm.values[test])
        np.testing.assert_array_equal(out.probs, out.logits)  # regression: value, no activation
        assert out.probs.shape == (100, 2)
        assert np.corrcoef(out.probs[:, 0], y[test, 0])[0, 1] > 0.8  # GC: linear in 2-mers
    labels = np.stack([ds.targets[:, 0], 1 - ds.targets[:, 0]], axis=1)
    m = fit_baseline(rows(fm, train), labels[train], model="lasso", task="multilabel")
    assert m.predict_features(fm.values[test]).probs.shape == (100, 2)


def test_bad_model_task_and_targets(data) -> None:
    ds, _, fm, train, _ = data
    x = rows(fm, train)
    with pytest.raises(ConfigError, match="model must be one of"):
        fit_baseline(x, ds.targets[train], model="xgboost")
    with pytest.raises(ConfigError, match="multiclass"):
        fit_baseline(x, ds.targets[train], task="multiclass")
    with pytest.raises(ConfigError, match="classification"):
        fit_baseline(x, ds.targets[train], model="svm", task="regression")
    with pytest.raises(InputError, match="only one class"):
        fit_baseline(x, np.zeros(len(train)))
    with pytest.raises(InputError, match="0 or 1"):
        fit_baseline(x, np.full(len(train), 2.0))
    with pytest.raises(InputError, match="targets"):
        fit_baseline(x, ds.targets[:10])


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    ds, specs, fm, train, _ = data
    folder = tmp_path_factory.mktemp("rf")
    m = fit_baseline(rows(fm, train), ds.targets[train], model="rf", spec=specs, n_trees=10)
    save_baseline(m, folder)
    return folder


def rewrite_npz(folder, change) -> None:
    """Change the arrays and re-sign them (as an attacker who edits both files would)."""
    with np.load(folder / "baseline.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (folder / "baseline.npz").write_bytes(buf.getvalue())
    meta = json.loads((folder / "baseline.json").read_text())
    meta["npz_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (folder / "baseline.json").write_text(json.dumps(meta))


def test_tampered_model_files_fail_cleanly(saved, tmp_path) -> None:
    import shutil

    def fresh(name):
        d = tmp_path / name
        shutil.copytree(saved, d)
        return d

    d = fresh("flip")
    raw = bytearray((d / "baseline.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "baseline.npz").write_bytes(bytes(raw))
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_baseline(d)

    def loop(a):  # a child pointing back to the root: an endless walk
        a["a_left"][0] = 0

    cases = {
        "loop": (loop, "out of range"),
        "feature": (lambda a: a["a_feature"].__setitem__(0, 10**6), "out of range"),
        "shape": (lambda a: a.__setitem__("a_value", a["a_value"][:-1]), "shapes"),
        "missing": (lambda a: a.pop("a_threshold"), "missing"),
        "pickle": (
            lambda a: a.__setitem__("a_left", np.array([{"x": 1}], dtype=object)),
            "damaged",
        ),
    }
    for name, (change, message) in cases.items():
        d = fresh(name)
        rewrite_npz(d, change)
        with pytest.raises(ModelLoadError, match=message):
            load_baseline(d)

    d = fresh("json")
    (d / "baseline.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="JSON"):
        load_baseline(d)
    d = fresh("gone")
    (d / "baseline.npz").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        load_baseline(d)
    d = fresh("format")
    meta = json.loads((d / "baseline.json").read_text())
    meta["format"] = "something-else"
    (d / "baseline.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="format"):
        load_baseline(d)


def test_model_checks_feature_columns(saved) -> None:
    m = load_baseline(saved)
    assert isinstance(m, BaselineModel)
    with pytest.raises(InputError, match="columns"):
        m.predict_features(np.zeros((2, 3), np.float32))

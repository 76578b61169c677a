"""Classical baselines: scikit-learn models on feature matrices, and their pickle-free files.

Models: L1 (lasso) logistic regression with cross-validated C, random forest with permutation
importance, linear SVM with Platt-calibrated probabilities; lasso and random-forest regressors
for continuous targets. A fitted model is stored as plain arrays (``baseline.npz``, read with
``allow_pickle=False``) plus ``baseline.json``; predicting never needs scikit-learn objects.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from cislearn.encode import reverse_complement
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.features import (
    FeatureMatrix,
    composition,
    concat,
    gapped_kmer_counts,
    kmer_counts,
)
from cislearn.io.atomic import atomic_write
from cislearn.io.motifs import Motif
from cislearn.motif_counts import motif_counts, resolve_motifs
from cislearn.predict import Predictions, Predictor

__all__ = [
    "MODELS",
    "FEATURE_KINDS",
    "FeatureSpec",
    "BaselineModel",
    "BaselinePredictor",
    "parse_features",
    "featurize",
    "fit_baseline",
    "save_baseline",
    "load_baseline",
    "is_baseline",
    "load_predictor",
    "spec_motifs",
]

MODELS = ("lasso", "rf", "svm")
FEATURE_KINDS = ("kmer", "gapped", "composition", "motifs")
MODEL_FILE = "baseline.npz"
META_FILE = "baseline.json"
FORMAT = "cislearn-baseline"
FORMAT_VERSION = 1
_TASKS = ("binary", "multilabel", "regression")
#: Features whose permutation importance is measured (the top ones by impurity importance):
#: each costs ``n_repeats`` forest predictions, so all ~1,000 motifs would take minutes.
PERMUTATION_TOP = 20
#: Forests are fitted on a dense copy of a sparse matrix up to this many cells (200 MB).
_DENSE_CELLS = 50_000_000


@dataclass(frozen=True)
class FeatureSpec:
    """One block of features: ``kmer:K[:rc]``, ``gapped:K:M[:rc]``, ``composition[:ORDERS]``
    (e.g. ``composition:123``), ``motifs[:RELEASE or FILE]``."""

    kind: str
    k: int = 0
    max_gap: int = 0
    rc_merge: bool = False
    orders: tuple[int, ...] = ()
    source: str | None = None

    def __str__(self) -> str:
        rc = ":rc" if self.rc_merge else ""
        if self.kind == "kmer":
            return f"kmer:{self.k}{rc}"
        if self.kind == "gapped":
            return f"gapped:{self.k}:{self.max_gap}{rc}"
        if self.kind == "composition":
            return "composition:" + "".join(map(str, self.orders))
        return "motifs" + (f":{self.source}" if self.source else "")


def _spec(text: str) -> FeatureSpec:
    parts = [p.strip() for p in text.split(":")]
    kind, args = parts[0].lower(), parts[1:]
    rc = bool(args) and args[-1].lower() == "rc"
    if rc:
        args = args[:-1]
    fix = "e.g. kmer:6, kmer:6:rc, gapped:3:3, composition, composition:123, motifs"
    try:
        if kind == "kmer" and len(args) == 1:
            return FeatureSpec("kmer", k=int(args[0]), rc_merge=rc)
        if kind == "gapped" and len(args) in (1, 2):
            return FeatureSpec(
                "gapped", k=int(args[0]), max_gap=int(args[1]) if len(args) == 2 else 3, rc_merge=rc
            )
        if kind == "composition" and len(args) <= 1 and not rc:
            orders = tuple(int(c) for c in args[0]) if args else (1, 2, 3)
            return FeatureSpec("composition", orders=orders)
        if kind == "motifs" and not rc:
            return FeatureSpec("motifs", source=":".join(parts[1:]) or None)
    except ValueError:
        pass
    raise ConfigError(f"feature '{text}' not understood; kinds: {', '.join(FEATURE_KINDS)} ({fix})")


def parse_features(text: str | Sequence[str]) -> tuple[FeatureSpec, ...]:
    """Parse ``"kmer:6,gapped:3:3,composition,motifs"`` (or a list of such items).

    Examples
    --------
    >>> [str(s) for s in parse_features("kmer:6:rc,gapped:3:3,composition")]
    ['kmer:6:rc', 'gapped:3:3', 'composition:123']
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    specs = tuple(_spec(t) for t in items if t.strip())
    if not specs:
        raise ConfigError(f"no features given; kinds: {', '.join(FEATURE_KINDS)}")
    return specs


def spec_motifs(spec: FeatureSpec) -> list[Motif]:
    """The motifs of a ``motifs`` spec: JASPAR (default or ``JASPARyyyy``) or a motif file."""
    src = spec.source
    if src is None:
        return resolve_motifs(None)
    if re.fullmatch(r"JASPAR\d{4}", src):
        return resolve_motifs(None, release=src)
    return resolve_motifs(src)


def featurize(
    specs: Sequence[FeatureSpec],
    sequences: Sequence[str],
    *,
    motifs: Sequence[Motif] | None = None,
) -> FeatureMatrix:
    """The feature matrix of ``sequences``: the blocks of ``specs`` side by side.

    A block whose column names repeat an earlier block's (``kmer:3`` next to ``composition``
    both name ``AAA``) gets its names prefixed with its kind (``composition:AAA``).

    Parameters
    ----------
    specs : sequence of FeatureSpec
    sequences : sequence of str, length n
    motifs : sequence of Motif, optional
        The motifs of a ``motifs`` block; None → resolved from the spec (JASPAR by default).

    Returns
    -------
    FeatureMatrix
        Sparse CSR float32 (n, p) when any block is sparse.
    """
    blocks: list[FeatureMatrix] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.kind == "kmer":
            fm = kmer_counts(sequences, k=spec.k, rc_merge=spec.rc_merge)
        elif spec.kind == "gapped":
            fm = gapped_kmer_counts(
                sequences, k=spec.k, max_gap=spec.max_gap, rc_merge=spec.rc_merge
            )
        elif spec.kind == "composition":
            fm = composition(sequences, orders=spec.orders)
        elif spec.kind == "motifs":
            fm = motif_counts(sequences, list(motifs) if motifs is not None else spec_motifs(spec))
        else:
            raise ConfigError(
                f"unknown feature kind '{spec.kind}'; kinds: {', '.join(FEATURE_KINDS)}"
            )
        if seen & set(fm.names):
            fm = FeatureMatrix(fm.values, [f"{spec.kind}:{n}" for n in fm.names])
        seen |= set(fm.names)
        blocks.append(fm)
    return blocks[0] if len(blocks) == 1 else concat(blocks)


# -- the fitted model ----------------------------------------------------------------------


@dataclass
class BaselineModel:
    """A fitted baseline as plain arrays.

    Attributes
    ----------
    model : {"lasso", "rf", "svm"}
    task : {"binary", "multilabel", "regression"}
    features : tuple of FeatureSpec
    feature_names : list of str, length p
    target_names : list of str, length t
    arrays : dict of str to ndarray
        Linear models: ``scale`` (p,), ``coef`` (t, p), ``intercept`` (t,), and for ``svm``
        ``platt`` (t, 2). Forests: ``left``, ``right``, ``feature`` (nodes,), ``threshold``
        (nodes,), ``value`` (nodes, t), ``roots`` (trees + 1,) offsets.
    importance : ndarray of shape (p,)
        |coefficient| on the scaled features (linear) or impurity importance (forest).
    permutation : dict of str to float
        Forest only: mean drop in score when each of the top features is permuted.
    motifs : list of Motif
        The motifs of a ``motifs`` block (stored in the model file).
    info : dict
        Chosen hyper-parameters and fitting notes.
    """

    model: str
    task: str
    features: tuple[FeatureSpec, ...]
    feature_names: list[str]
    target_names: list[str]
    arrays: dict[str, np.ndarray]
    importance: np.ndarray
    permutation: dict[str, float] = field(default_factory=dict)
    motifs: list[Motif] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def decision(self, x: Any) -> np.ndarray:
        """Raw outputs (n, t): logits for classification, the prediction for regression."""
        p = len(self.feature_names)
        if x.shape[1] != p:
            raise InputError(f"feature matrix has {x.shape[1]} columns; the model uses {p}")
        a = self.arrays
        if self.model in ("lasso", "svm"):
            xs = x.multiply(a["scale"][None, :]).tocsr() if hasattr(x, "tocsr") else x * a["scale"]
            raw = np.asarray(xs @ a["coef"].T, dtype=np.float64) + a["intercept"][None, :]
            if self.model == "svm":  # Platt scaling: logit = A * decision + B
                raw = raw * a["platt"][:, 0][None, :] + a["platt"][:, 1][None, :]
            return raw
        out = np.zeros((x.shape[0], a["value"].shape[1]), dtype=np.float64)
        for lo in range(0, x.shape[0], 2048):  # dense rows in chunks: k-mer matrices are wide
            chunk = x[lo : lo + 2048]
            dense = np.asarray(chunk.toarray() if hasattr(chunk, "toarray") else chunk, np.float32)
            out[lo : lo + 2048] = _forest_mean(
                dense, a["left"], a["right"], a["feature"], a["threshold"], a["value"], a["roots"]
            )
        if self.task == "regression":
            return out
        prob = np.clip(out, 1e-7, 1 - 1e-7)
        return np.log(prob / (1 - prob))

    def predict_features(self, x: Any) -> Predictions:
        """Predictions from a feature matrix (n, p) with this model's columns."""
        raw = self.decision(x)
        probs = raw if self.task == "regression" else 1.0 / (1.0 + np.exp(-raw))
        return Predictions(raw.astype(np.float32), probs.astype(np.float32))

    def predict(self, sequences: Sequence[str]) -> Predictions:
        """Featurize ``sequences`` as in training and predict, float32 (n, t) each."""
        fm = featurize(self.features, sequences, motifs=self.motifs or None)
        return self.predict_features(fm.values)


@numba.njit(cache=True, nogil=True)
def _forest_mean(x, left, right, feature, threshold, value, roots):  # pragma: no cover - numba
    """Mean leaf value over the trees for each row of ``x`` (float32 (n, p)).

    By hand because the trees are stored as plain arrays (no sklearn object to call); the
    test is sklearn's ``x[f] <= threshold`` on float32 inputs, so predictions match it.
    """
    n = x.shape[0]
    t = value.shape[1]
    n_trees = roots.shape[0] - 1
    out = np.zeros((n, t))
    for i in range(n):
        for tree in range(n_trees):
            node = roots[tree]
            while left[node] >= 0:
                if x[i, feature[node]] <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            for j in range(t):
                out[i, j] += value[node, j]
    return out / max(n_trees, 1)


# -- fitting -------------------------------------------------------------------------------


def _as_targets(y: Any, task: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if task not in _TASKS:
        raise ConfigError(
            f"baselines handle tasks {', '.join(_TASKS)}; got '{task}' "
            "(for multiclass use a deep model or one binary target per class)"
        )
    if task in ("binary", "multilabel"):
        if not np.isin(y, (0.0, 1.0)).all():
            raise InputError(f"task '{task}': targets must be 0 or 1")
        for j in range(y.shape[1]):
            if len(np.unique(y[:, j])) < 2:
                raise InputError(f"target {j + 1} has only one class in the training data")
    return y


def _max_abs(x: Any) -> np.ndarray:
    m = abs(x).max(axis=0)
    m = np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64).ravel()
    return np.where(m > 0, 1.0 / np.where(m > 0, m, 1.0), 1.0)


def _fit_linear(
    x: Any, y: np.ndarray, model: str, task: str, seed: int, cv: int, n_jobs: int | None
) -> dict:
    from sklearn.linear_model import LassoCV, LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.svm import LinearSVC

    scale = _max_abs(x)  # MaxAbs scaling keeps sparse matrices sparse
    xs = x.multiply(scale[None, :]).tocsr() if hasattr(x, "tocsr") else x * scale
    coefs, intercepts, platt, chosen = [], [], [], []
    for j in range(y.shape[1]):
        yj = y[:, j]
        if task == "regression":
            folds = KFold(cv, shuffle=True, random_state=seed)
            est = LassoCV(alphas=20, cv=folds, random_state=seed, max_iter=5000, n_jobs=n_jobs).fit(
                xs, yj
            )
            coefs.append(est.coef_.ravel())
            intercepts.append(float(est.intercept_))
            chosen.append({"alpha": float(est.alpha_)})
            continue
        folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
        if model == "lasso":
            # liblinear penalises the intercept; intercept_scaling 10 makes that penalty small
            # on sparse counts. On dense collinear frequencies (composition) it made one fit at
            # C=10 take 46 s against 0.1 s for C=1 with scaling 1 (1,000 CTCF rows), so dense
            # inputs keep liblinear's default. C stops at 1: the CV picked 0.2-0.5 on all CTCF
            # feature sets with a grid up to 10.
            est = LogisticRegressionCV(
                Cs=np.logspace(-2, 0, 7),
                l1_ratios=(1.0,),
                solver="liblinear",
                intercept_scaling=10.0 if hasattr(xs, "tocsr") else 1.0,
                cv=folds,
                scoring="roc_auc",
                max_iter=1000,
                random_state=seed,
                n_jobs=n_jobs,
                use_legacy_attributes=False,
            ).fit(xs, yj)
            coefs.append(est.coef_.ravel())
            intercepts.append(float(est.intercept_[0]))
            chosen.append({"C": float(np.ravel(est.C_)[0])})
        else:  # linear SVM; Platt scaling fitted on out-of-fold decision values
            svm = LinearSVC(C=0.1, dual="auto", max_iter=5000, random_state=seed)
            oof = cross_val_predict(svm, xs, yj, cv=folds, method="decision_function")
            sig = LogisticRegression(C=1e6).fit(oof[:, None], yj)
            svm.fit(xs, yj)
            coefs.append(svm.coef_.ravel())
            intercepts.append(float(svm.intercept_[0]))
            platt.append((float(sig.coef_[0, 0]), float(sig.intercept_[0])))
            chosen.append({"C": 0.1})
    arrays = {
        "scale": scale,
        "coef": np.asarray(coefs, dtype=np.float64),
        "intercept": np.asarray(intercepts, dtype=np.float64),
    }
    if platt:
        arrays["platt"] = np.asarray(platt, dtype=np.float64)
    return {"arrays": arrays, "importance": np.abs(arrays["coef"]).max(axis=0), "chosen": chosen}


def _fit_forest(
    x: Any, y: np.ndarray, task: str, seed: int, n_jobs: int | None, n_trees: int
) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    est = cls(
        n_estimators=n_trees,
        max_features="sqrt" if task != "regression" else 0.33,
        min_samples_leaf=2,
        n_jobs=n_jobs,
        random_state=seed,
    )
    if hasattr(x, "toarray") and x.shape[0] * x.shape[1] <= _DENSE_CELLS:
        # sklearn's trees split sparse CSC input far slower than dense
        x = np.asarray(x.toarray(), dtype=np.float32)
    return est.fit(x, y if y.shape[1] > 1 else y[:, 0])


def _forest_arrays(est: Any, task: str, t: int) -> dict[str, np.ndarray]:
    lefts, rights, feats, thrs, vals, roots = [], [], [], [], [], [0]
    for tree in est.estimators_:
        tr = tree.tree_
        offset = roots[-1]
        left = tr.children_left.astype(np.int64)
        right = tr.children_right.astype(np.int64)
        lefts.append(np.where(left >= 0, left + offset, -1))
        rights.append(np.where(right >= 0, right + offset, -1))
        feats.append(np.maximum(tr.feature, 0).astype(np.int64))
        thrs.append(tr.threshold.astype(np.float64))
        v = tr.value  # (nodes, outputs, classes): class fractions, or the mean for regression
        if task == "regression":
            vals.append(v[:, :, 0].reshape(-1, t))
        else:
            frac = v / np.maximum(v.sum(axis=2, keepdims=True), 1e-300)
            vals.append(frac[:, :, 1].reshape(-1, t))
        roots.append(offset + tr.node_count)
    return {
        "left": np.concatenate(lefts),
        "right": np.concatenate(rights),
        "feature": np.concatenate(feats),
        "threshold": np.concatenate(thrs),
        "value": np.concatenate(vals).astype(np.float64),
        "roots": np.asarray(roots, dtype=np.int64),
    }


def fit_baseline(
    features: FeatureMatrix,
    y: Any,
    *,
    model: str = "lasso",
    task: str = "binary",
    spec: Sequence[FeatureSpec] = (),
    target_names: Sequence[str] | None = None,
    motifs: Sequence[Motif] = (),
    importance_data: tuple[FeatureMatrix, Any] | None = None,
    seed: int = 0,
    cv: int = 5,
    n_trees: int = 300,
    n_jobs: int | None = None,
) -> BaselineModel:
    """Fit a baseline model on a feature matrix.

    Parameters
    ----------
    features : FeatureMatrix
        Training features (n, p), dense or sparse.
    y : array of shape (n,) or (n, t)
        0/1 labels (binary, multilabel) or values (regression).
    model : {"lasso", "rf", "svm"}
        ``lasso``: L1 logistic regression, C chosen by ``cv``-fold CV on AUROC (LassoCV for
        regression); ``rf``: random forest (``n_trees`` trees), with permutation importance of
        the :data:`PERMUTATION_TOP` features of largest impurity importance, measured on
        ``importance_data`` (else on the training data); ``svm``: linear SVM with Platt-scaled
        probabilities fitted on out-of-fold decision values (classification only).
    task : {"binary", "multilabel", "regression"}
    spec, motifs : the feature specs and motifs that made ``features`` (stored, so the model
        can featurize new sequences).
    seed : int
        Seeds the folds and the forest.
    n_jobs : int, optional
        Threads for the forest and for the folds of the lasso's CV; None → all cores.

    Returns
    -------
    BaselineModel

    Examples
    --------
    >>> fm = featurize(parse_features("kmer:3"), seqs)  # doctest: +SKIP
    >>> m = fit_baseline(fm, labels, model="lasso", spec=parse_features("kmer:3"))  # doctest: +SKIP
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got '{model}'")
    yy = _as_targets(y, task)
    x = features.values
    if yy.shape[0] != x.shape[0]:
        raise InputError(f"{x.shape[0]} feature rows but {yy.shape[0]} targets")
    names = (
        list(target_names)
        if target_names is not None
        else [f"target_{j}" for j in range(yy.shape[1])]
    )
    info: dict[str, Any] = {"n_train": int(x.shape[0]), "n_features": int(x.shape[1])}
    jobs = -1 if n_jobs is None else n_jobs  # sklearn's None means one job
    permutation: dict[str, float] = {}
    if model == "svm" and task == "regression":
        raise ConfigError("model 'svm' is for classification; use lasso or rf for regression")
    if model in ("lasso", "svm"):
        fitted = _fit_linear(x, yy, model, task, seed, cv, jobs)
        arrays, importance = fitted["arrays"], fitted["importance"]
        info["chosen"] = fitted["chosen"]
        info["nonzero_coefficients"] = int((arrays["coef"] != 0).any(axis=0).sum())
    else:
        est = _fit_forest(x, yy, task, seed, jobs, n_trees)
        arrays = _forest_arrays(est, task, yy.shape[1])
        importance = np.asarray(est.feature_importances_, dtype=np.float64)
        xi, yi = (
            (x, yy)
            if importance_data is None
            else (importance_data[0].values, _as_targets(importance_data[1], task))
        )
        info["permutation_data"] = "training" if importance_data is None else "validation"
        permutation = _permutation(arrays, xi, yi, importance, features.names, task, seed)
    return BaselineModel(
        model,
        task,
        tuple(spec),
        list(features.names),
        names,
        arrays,
        importance,
        permutation,
        list(motifs),
        info,
    )


def _score(task: str, y: np.ndarray, mean: np.ndarray) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(np.mean([r2_score(y[:, j], mean[:, j]) for j in range(y.shape[1])]))
    scores = [
        roc_auc_score(y[:, j], mean[:, j]) for j in range(y.shape[1]) if len(np.unique(y[:, j])) > 1
    ]
    return float(np.mean(scores)) if scores else float("nan")


def _permutation(
    arrays: dict[str, np.ndarray],
    x: Any,
    y: np.ndarray,
    importance: np.ndarray,
    names: list[str],
    task: str,
    seed: int,
    *,
    n_repeats: int = 5,
    max_rows: int = 1000,
) -> dict[str, float]:
    """Mean drop in AUROC (R² for regression) when each top feature is permuted.

    By hand rather than sklearn's ``permutation_importance``: only the
    :data:`PERMUTATION_TOP` features of largest impurity importance are permuted, on at most
    ``max_rows`` rows, scored with the compiled tree walk, which keeps it to ~2 s for a
    500-tree forest on ~1,000 motif or 16,384 gapped k-mer columns.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(x.shape[0])
    if rows.size > max_rows:
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    sub = x[rows]
    dense = np.array(sub.toarray() if hasattr(sub, "toarray") else sub, dtype=np.float32)
    y = y[rows]
    a = arrays

    def score() -> float:
        mean = _forest_mean(
            dense, a["left"], a["right"], a["feature"], a["threshold"], a["value"], a["roots"]
        )
        return _score(task, y, mean)

    base = score()
    out: dict[str, float] = {}
    for c in np.argsort(-importance)[:PERMUTATION_TOP]:
        saved = dense[:, c].copy()
        drops = []
        for _ in range(n_repeats):
            dense[:, c] = rng.permutation(saved)
            drops.append(base - score())
        dense[:, c] = saved
        out[names[int(c)]] = float(np.mean(drops))
    return out


# -- files ---------------------------------------------------------------------------------

_LINEAR_KEYS = ("scale", "coef", "intercept")
_FOREST_KEYS = ("left", "right", "feature", "threshold", "value", "roots")


def is_baseline(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a baseline model file."""
    return (Path(path) / META_FILE).is_file()


def save_baseline(
    model: BaselineModel, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``baseline.npz`` (arrays; no pickle) and ``baseline.json`` into folder ``path``.

    The JSON holds everything else, including the SHA-256 of the npz so a changed or swapped
    array file is refused on loading; ``extra`` items (run provenance: split counts, data
    hashes) are added to it. Returns the JSON path.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"a_{k}": np.asarray(v) for k, v in model.arrays.items()}
    arrays["importance"] = np.asarray(model.importance, dtype=np.float64)
    for i, m in enumerate(model.motifs):
        arrays[f"motif_{i}"] = np.asarray(m.counts, dtype=np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    data = buf.getvalue()
    with atomic_write(out / MODEL_FILE, "wb") as fh:
        fh.write(data)
    meta = {
        **(extra or {}),
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "baseline",
        "arch": f"baseline {model.model}",
        "model": model.model,
        "task": model.task,
        "features": [str(s) for s in model.features],
        "feature_names": model.feature_names,
        "target_names": model.target_names,
        "permutation": model.permutation,
        "motifs": [[m.id, m.name] for m in model.motifs],
        "info": model.info,
        "npz_sha256": hashlib.sha256(data).hexdigest(),
    }
    with atomic_write(out / META_FILE) as fh:
        fh.write(json.dumps(meta, indent=1, default=_json_default) + "\n")
    return out / META_FILE


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _check(ok: bool, where: Path, problem: str) -> None:
    if not ok:
        raise ModelLoadError(f"{where}: damaged baseline model: {problem}")


def load_baseline(path: str | os.PathLike[str]) -> BaselineModel:
    """Read a model written by :func:`save_baseline`; nothing is unpickled.

    Raises
    ------
    ModelLoadError
        Missing files, a checksum mismatch (the npz was changed), or arrays whose shapes or
        tree links do not describe a valid model.
    """
    folder = Path(path)
    meta_path, npz_path = folder / META_FILE, folder / MODEL_FILE
    try:
        meta = json.loads(meta_path.read_text())
        data = npz_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{folder}: no baseline model ({Path(exc.filename).name} missing)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_path}: not valid JSON: {exc}") from None
    _check(isinstance(meta, dict) and meta.get("format") == FORMAT, meta_path, "unknown format")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelLoadError(f"{meta_path}: written by a newer cislearn; upgrade cislearn")
    _check(
        hashlib.sha256(data).hexdigest() == meta.get("npz_sha256"),
        npz_path,
        "its SHA-256 does not match baseline.json (the file was changed or swapped)",
    )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model, task = meta["model"], meta["task"]
        features = parse_features(meta["features"])
        names = [str(n) for n in meta["feature_names"]]
        targets = [str(n) for n in meta["target_names"]]
        motifs = [
            Motif(str(mid), str(name), arrays[f"motif_{i}"])
            for i, (mid, name) in enumerate(meta["motifs"])
        ]
    except (KeyError, ValueError, TypeError, OSError, InputError, ConfigError) as exc:
        raise ModelLoadError(f"{folder}: damaged baseline model: {exc}") from None
    _check(model in MODELS and task in _TASKS, meta_path, f"model {model!r} / task {task!r}")
    parts = {k[2:]: v for k, v in arrays.items() if k.startswith("a_")}
    p, t = len(names), len(targets)
    if model in ("lasso", "svm"):
        keys = _LINEAR_KEYS + (("platt",) if model == "svm" else ())
        _check(all(k in parts for k in keys), npz_path, "missing arrays")
        _check(
            parts["scale"].shape == (p,)
            and parts["coef"].shape == (t, p)
            and parts["intercept"].shape == (t,)
            and (model != "svm" or parts["platt"].shape == (t, 2)),
            npz_path,
            "array shapes do not fit the feature and target names",
        )
        parts = {k: np.asarray(v, dtype=np.float64) for k, v in parts.items()}
    else:
        _check(all(k in parts for k in _FOREST_KEYS), npz_path, "missing arrays")
        _check_forest(parts, p, t, npz_path)
    importance = arrays.get("importance", np.zeros(p))
    _check(importance.shape == (p,), npz_path, "importance has the wrong shape")
    return BaselineModel(
        model,
        task,
        features,
        names,
        targets,
        parts,
        importance,
        {str(k): float(v) for k, v in meta.get("permutation", {}).items()},
        motifs,
        dict(meta.get("info", {})),
    )


def _check_forest(parts: dict[str, np.ndarray], p: int, t: int, where: Path) -> None:
    """Links must point forward inside their own tree (so a walk always ends at a leaf)."""
    for k in ("left", "right", "feature", "roots"):
        _check(parts[k].dtype.kind == "i", where, f"{k} is not integer")
        parts[k] = parts[k].astype(np.int64)
    left, right, feature, roots = parts["left"], parts["right"], parts["feature"], parts["roots"]
    nodes = left.shape[0]
    _check(
        left.shape == right.shape == feature.shape == parts["threshold"].shape == (nodes,)
        and parts["value"].shape == (nodes, t)
        and roots.ndim == 1
        and roots.size >= 2
        and roots[0] == 0
        and roots[-1] == nodes
        and bool(np.all(np.diff(roots) > 0)),
        where,
        "tree arrays have inconsistent shapes",
    )
    tree_end = np.repeat(roots[1:], np.diff(roots))
    index = np.arange(nodes)
    leaf = left < 0
    inner = ~leaf
    _check(bool(np.all(right[leaf] < 0)), where, "a leaf has one child")
    _check(
        bool(
            np.all((left[inner] > index[inner]) & (left[inner] < tree_end[inner]))
            and np.all((right[inner] > index[inner]) & (right[inner] < tree_end[inner]))
            and np.all((feature[inner] >= 0) & (feature[inner] < p))
        ),
        where,
        "tree links or feature indices out of range",
    )
    parts["threshold"] = parts["threshold"].astype(np.float64)
    parts["value"] = parts["value"].astype(np.float64)


# -- predictor for `cislearn predict` and run evaluation ------------------------------------


class BaselinePredictor(Predictor):
    """A baseline run loaded for prediction: same interface as :class:`cislearn.predict.Predictor`.

    ``length`` is None: any sequence length is accepted. ``model`` is the
    :class:`BaselineModel`.
    """

    def __init__(self, model: BaselineModel, meta: dict[str, Any]) -> None:
        import torch

        self.model = model  # type: ignore[assignment]
        self.meta = meta
        self.task = model.task
        self.target_names = list(model.target_names)
        self.output_names = list(model.target_names)
        self.length = None  # type: ignore[assignment]
        self.n_tracks = 0
        self.n_value = 0.25
        self.device = torch.device("cpu")

    def __repr__(self) -> str:
        return (
            f"BaselinePredictor(model={self.model.model!r}, task={self.task!r}, "
            f"features={[str(s) for s in self.model.features]}, outputs={self.output_names})"
        )

    def importance(self) -> tuple[list[str], np.ndarray, str]:
        """(feature names, values, axis label) for the run's feature-importance figure.

        Forests: permutation importance of the top features (drop in held-out score when
        permuted). Linear models with one target: the signed coefficients on max-abs-scaled
        features; several targets: the largest absolute coefficient.
        """
        m = self.model
        if m.permutation:
            metric = "R²" if m.task == "regression" else "AUROC"
            return (
                list(m.permutation),
                np.array(list(m.permutation.values())),
                (f"Permutation importance (drop in {metric})"),
            )
        if m.model in ("lasso", "svm") and m.arrays["coef"].shape[0] == 1:
            return (
                list(m.feature_names),
                m.arrays["coef"][0],
                "Coefficient (max-abs-scaled features)",
            )
        label = "|Coefficient| (max-abs-scaled)" if m.model != "rf" else "Impurity importance"
        return list(m.feature_names), m.importance, label

    def encode(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """Check the sequences are strings (any length); features are made in :meth:`predict`."""
        for i, seq in enumerate(seqs):
            if not isinstance(seq, str):
                raise InputError(
                    f"expected a DNA string; got {type(seq).__name__}",
                    path=path,
                    record=offset + i + 1,
                    record_id=None if ids is None else str(ids[i]),
                )
        return list(seqs)

    def predict(  # type: ignore[override]
        self,
        x_or_seqs: Sequence[str],
        *,
        batch_size: int | None = None,
        rc_average: bool | None = None,
    ) -> Predictions:
        """Predict DNA strings, float32 (n, t) logits and probabilities (values for regression).

        ``batch_size`` is ignored; ``rc_average`` averages the raw outputs of each sequence
        and its reverse complement.
        """
        if isinstance(x_or_seqs, str):
            x_or_seqs = [x_or_seqs]
        if isinstance(x_or_seqs, np.ndarray) and x_or_seqs.dtype.kind in "US":
            x_or_seqs = x_or_seqs.tolist()
        if not isinstance(x_or_seqs, list | tuple):
            raise InputError(
                f"a baseline model predicts DNA strings; got {type(x_or_seqs).__name__}"
            )
        seqs = self.encode(x_or_seqs)
        pred = self.model.predict(seqs)
        if rc_average:
            other = self.model.predict([reverse_complement(s) for s in seqs])
            raw = 0.5 * (pred.logits + other.logits)
            probs = raw if self.task == "regression" else 1.0 / (1.0 + np.exp(-raw))
            pred = Predictions(raw.astype(np.float32), probs.astype(np.float32))
        return pred


def load_predictor(path: str | os.PathLike[str]) -> BaselinePredictor:
    """A :class:`BaselinePredictor` for a baseline run folder."""
    model = load_baseline(path)
    meta = json.loads((Path(path) / META_FILE).read_text())
    return BaselinePredictor(model, meta)

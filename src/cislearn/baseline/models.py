"""Baseline models as plain arrays: fitting lasso, ridge, random forest and linear SVM;
predicting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from cislearn.baseline.specs import FeatureSpec, featurize
from cislearn.errors import ConfigError, InputError
from cislearn.features import FeatureMatrix
from cislearn.io.motifs import Motif
from cislearn.types import Predictions

MODELS = ("lasso", "ridge", "rf", "svm")
#: The linear ones (``scale``, ``coef``, ``intercept`` arrays).
LINEAR_MODELS = ("lasso", "ridge", "svm")
#: The tasks the classical models handle (a subset of :data:`cislearn.types.TASKS`).
BASELINE_TASKS = ("binary", "multilabel", "regression")
#: Features whose permutation importance is measured (the top ones by impurity importance):
#: each costs ``n_repeats`` forest predictions, so all ~1,000 motifs would take minutes.
PERMUTATION_TOP = 20
#: Forests are fitted on a dense copy of a sparse matrix up to this many cells (200 MB).
_DENSE_CELLS = 50_000_000


@dataclass
class BaselineModel:
    """A fitted baseline as plain arrays.

    Attributes
    ----------
    model : {"lasso", "ridge", "rf", "svm"}
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
        if self.model in LINEAR_MODELS:
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

    def predict(self, sequences: Sequence[str], *, ids: Sequence[str] | None = None) -> Predictions:
        """Featurize ``sequences`` as in training and predict, float32 (n, t) each (``ids``
        ``chrom:start-end`` locate the windows of ``bigwig`` features)."""
        fm = featurize(self.features, sequences, motifs=self.motifs or None, ids=ids)
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
    if task not in BASELINE_TASKS:
        raise ConfigError(
            f"baselines handle tasks {', '.join(BASELINE_TASKS)}; got '{task}' "
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
    from sklearn.linear_model import LassoCV, LogisticRegression, LogisticRegressionCV, RidgeCV
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
    from sklearn.svm import LinearSVC

    scale = _max_abs(x)  # MaxAbs scaling keeps sparse matrices sparse
    xs = x.multiply(scale[None, :]).tocsr() if hasattr(x, "tocsr") else x * scale
    coefs, intercepts, platt, chosen = [], [], [], []
    for j in range(y.shape[1]):
        yj = y[:, j]
        if task == "regression" and model == "ridge":
            folds = KFold(cv, shuffle=True, random_state=seed)
            est = RidgeCV(alphas=np.logspace(-2, 4, 13), cv=folds).fit(xs, yj)
            coefs.append(est.coef_.ravel())
            intercepts.append(float(est.intercept_))
            chosen.append({"alpha": float(est.alpha_)})
            continue
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
        if model in ("lasso", "ridge"):
            if model == "lasso":
                # liblinear penalises the intercept; intercept_scaling 10 makes that penalty
                # small on sparse counts. On dense collinear frequencies (composition) it made
                # one fit at C=10 take 46 s against 0.1 s for C=1 with scaling 1 (1,000 CTCF
                # rows), so dense inputs keep liblinear's default. C stops at 1: the CV picked
                # 0.2-0.5 on all CTCF feature sets with a grid up to 10.
                scaling = 10.0 if hasattr(xs, "tocsr") else 1.0
                opts = {"Cs": np.logspace(-2, 0, 7), "l1_ratios": (1.0,), "max_iter": 1000,
                        "solver": "liblinear", "intercept_scaling": scaling}  # fmt: skip
            else:
                # L2: every feature keeps a small weight (many weak k-mers, as in gkm-SVM);
                # lbfgs leaves the intercept unpenalised. On DNase 6-mers it beat the lasso
                # alone (test AUROC 0.9593 / 0.9526 / 0.9605 vs 0.9559 / 0.9518 / 0.9601)
                opts = {"Cs": np.logspace(-3, 1, 9), "l1_ratios": (0.0,), "max_iter": 2000,
                        "solver": "lbfgs"}  # fmt: skip
            est = LogisticRegressionCV(
                **opts,
                cv=folds,
                scoring="roc_auc",
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
    model : {"lasso", "ridge", "rf", "svm"}
        ``lasso``: L1 logistic regression, C chosen by ``cv``-fold CV on AUROC (LassoCV for
        regression); ``ridge``: the same with an L2 penalty (RidgeCV for regression);
        ``rf``: random forest (``n_trees`` trees), with permutation importance of
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
    if model in LINEAR_MODELS:
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

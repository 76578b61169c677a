"""Classical baselines: scikit-learn models on feature matrices, and their pickle-free files.

Models: L1 (lasso) logistic regression with cross-validated C, random forest with permutation
importance, linear SVM with Platt-calibrated probabilities; lasso and random-forest regressors
for continuous targets. A fitted model is stored as plain arrays (``baseline.npz``, read with
``allow_pickle=False``) plus ``baseline.json``; predicting never needs scikit-learn objects.
"""

from __future__ import annotations

from cislearn.baseline.files import is_baseline, load_baseline, save_baseline
from cislearn.baseline.models import MODELS, BaselineModel, fit_baseline
from cislearn.baseline.predictor import BaselinePredictor, load_predictor
from cislearn.baseline.specs import (
    FEATURE_KINDS,
    FeatureSpec,
    featurize,
    parse_features,
    spec_motifs,
)

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

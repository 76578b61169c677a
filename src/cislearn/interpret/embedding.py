"""Learned-feature embeddings: a model's penultimate-layer activations, projected to 2-D (PCA)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from cislearn.errors import InputError

__all__ = ["Embedding", "penultimate_features", "embed_2d"]


class Embedding(NamedTuple):
    """A 2-D projection of learned features.

    Attributes
    ----------
    coords : ndarray of shape (n, 2)
        The first two principal components of each sequence's features.
    explained : ndarray of shape (2,)
        Fraction of the features' variance each component explains.
    n_features : int
        Width of the penultimate layer that was projected.
    method : str
        ``"pca"``.
    """

    coords: np.ndarray
    explained: np.ndarray
    n_features: int
    method: str


def _last_linear(model: nn.Module, first: torch.Tensor) -> nn.Module:
    """The last ``nn.Linear`` with at least two inputs that the forward pass calls."""
    order: list[nn.Module] = []
    hooks = [
        module.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for module in model.modules()
        if isinstance(module, nn.Linear) and module.in_features >= 2
    ]
    try:
        model(first)
    finally:
        for hook in hooks:
            hook.remove()
    if not order:
        raise InputError(
            f"{type(model).__name__}: no dense layer with two or more inputs; the learned "
            "features of this model cannot be embedded"
        )
    return order[-1]


def penultimate_features(
    model: nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 256
) -> np.ndarray:
    """Activations entering the model's output layer (its last dense layer), per sequence.

    Parameters
    ----------
    model : nn.Module
        A trained cislearn model (one-hot in, outputs out); its train/eval mode is restored.
    x : ndarray or Tensor of shape (n, 4 + tracks, length)
        One-hot sequences.
    batch_size : int

    Returns
    -------
    ndarray of shape (n, d)
        ``d`` is the width of the input of the last ``nn.Linear`` (with at least two inputs)
        that the forward pass calls: the cnn's 10 dense units, the basset's 1000, ….

    Examples
    --------
    >>> from cislearn.models.registry import build_model
    >>> model = build_model("cnn", {}, length=50, n_outputs=1)
    >>> penultimate_features(model, np.zeros((3, 4, 50), np.float32)).shape
    (3, 10)
    """
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x).float()
    if x.ndim != 3 or x.shape[0] == 0:
        raise InputError(
            f"penultimate_features: x must have shape (n>0, 4, length); got {tuple(x.shape)}"
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    captured: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            layer = _last_linear(model, x[:1].to(device))
            hook = layer.register_forward_hook(
                lambda _m, inputs, _o: captured.append(inputs[0].detach().flatten(1).cpu())
            )
            try:
                for start in range(0, x.shape[0], batch_size):
                    model(x[start : start + batch_size].to(device))
            finally:
                hook.remove()
    finally:
        model.train(was_training)
    return torch.cat(captured).numpy().astype(np.float64)


def embed_2d(features: Any, *, seed: int = 0) -> Embedding:
    """Project features to 2-D with PCA (scikit-learn), after centring and scaling each feature.

    Parameters
    ----------
    features : array of shape (n, d)
        n >= 3 rows; constant features are kept (scaled to 0).
    seed : int
        For the randomised solver scikit-learn may pick on large inputs.

    Returns
    -------
    Embedding

    Examples
    --------
    >>> emb = embed_2d(np.random.default_rng(0).normal(size=(20, 5)))
    >>> emb.coords.shape, round(float(emb.explained.sum()), 2) <= 1
    ((20, 2), True)
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 3:
        raise InputError(f"embed_2d: need an (n >= 3, d) feature matrix; got shape {f.shape}")
    if not np.isfinite(f).all():
        raise InputError("embed_2d: features contain NaN or infinite values")
    scaled = StandardScaler().fit_transform(f)
    k = min(2, f.shape[1])
    pca = PCA(n_components=k, random_state=seed)
    coords = pca.fit_transform(scaled)
    explained = pca.explained_variance_ratio_
    if k < 2:  # one feature: the second axis is 0
        coords = np.hstack([coords, np.zeros((len(coords), 1))])
        explained = np.append(explained, 0.0)
    return Embedding(coords, np.nan_to_num(explained), int(f.shape[1]), "pca")

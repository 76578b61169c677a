"""Losses: each task's loss equals its hand computation; weights and task names are checked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from cislearn.errors import ConfigError, InputError
from cislearn.losses import LOSSES, class_weights, loss_fn, output_activation
from cislearn.types import TASKS


def assert_close(
    got: torch.Tensor, want: torch.Tensor, *, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Like torch.testing.assert_close, without its slow first import (sympy, ~2 s)."""
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), want.detach().cpu().numpy(), atol=atol, rtol=rtol
    )


def logits_and_labels(n: int = 12, t: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, t, generator=gen), torch.randint(0, 2, (n, t), generator=gen).float()


def test_task_names_are_validated() -> None:
    assert TASKS == ("binary", "multilabel", "multiclass", "regression", "counts")
    assert set(LOSSES) == set(TASKS)
    for bad in (lambda: loss_fn("ranking"), lambda: output_activation("ranking")):
        with pytest.raises(ConfigError, match="allowed: binary, multilabel, multiclass"):
            bad()
    with pytest.raises(ConfigError, match="allowed: mse, mae, huber"):
        loss_fn("regression", loss="bce")
    with pytest.raises(ConfigError, match="pos_weight: only for binary"):
        loss_fn("regression", pos_weight=torch.ones(1))
    with pytest.raises(ConfigError, match="class_weight: only for the multiclass"):
        loss_fn("binary", class_weight=torch.ones(2))
    with pytest.raises(ConfigError, match=">= 0"):
        loss_fn("binary", pos_weight=-1.0)


def test_binary_bce_matches_hand_computation() -> None:
    z, y = logits_and_labels()
    p = torch.sigmoid(z)
    hand = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    assert_close(loss_fn("binary")(z, y), hand)
    assert_close(loss_fn("binary")(z, y[:, 0]), hand)  # (N,) targets
    weighted = -(3.0 * y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    assert_close(loss_fn("binary", pos_weight=torch.tensor([3.0]))(z, y), weighted)
    with pytest.raises(InputError, match="do not match"):
        loss_fn("binary")(z, y[:5])


def test_multilabel_pos_weight_per_target_and_missing_labels() -> None:
    z, y = logits_and_labels(10, 3, seed=1)
    w = torch.tensor([1.0, 2.0, 0.5])
    p = torch.sigmoid(z)
    each = -(w * y * torch.log(p) + (1 - y) * torch.log(1 - p))
    assert_close(loss_fn("multilabel", pos_weight=w)(z, y), each.mean())
    y_missing = y.clone()
    y_missing[0, 1] = y_missing[4, 2] = float("nan")
    keep = ~torch.isnan(y_missing)
    got = loss_fn("multilabel", pos_weight=w)(z, y_missing)
    assert_close(got, each[keep].mean())


def test_multiclass_cross_entropy_with_class_weights() -> None:
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(9, 4, generator=gen)
    y = torch.randint(0, 4, (9,), generator=gen)
    nll = -torch.log_softmax(z, dim=1)[torch.arange(9), y]
    assert_close(loss_fn("multiclass")(z, y), nll.mean())
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    got = loss_fn("multiclass", class_weight=w)(z, y.float())
    assert_close(got, (w[y] * nll).sum() / w[y].sum())
    y_missing = y.float()
    y_missing[3] = float("nan")
    keep = torch.arange(9) != 3
    assert_close(loss_fn("multiclass")(z, y_missing), nll[keep].mean())


def test_regression_losses() -> None:
    gen = torch.Generator().manual_seed(3)
    out, y = torch.randn(8, 2, generator=gen), torch.randn(8, 2, generator=gen)
    err = out - y
    assert_close(loss_fn("regression")(out, y), (err**2).mean())
    assert_close(loss_fn("regression", loss="mae")(out, y), err.abs().mean())
    huber = torch.where(err.abs() < 1, 0.5 * err**2, err.abs() - 0.5).mean()
    assert_close(loss_fn("regression", loss="huber")(out, y), huber)


def test_counts_poisson_on_softplus() -> None:
    out = torch.tensor([[-30.0], [0.0], [2.0]])
    y = torch.tensor([0.0, 1.0, 5.0])
    rate = torch.log1p(torch.exp(out[:, 0]))
    hand = (rate - y * torch.log(rate + 1e-8)).mean()
    got = loss_fn("counts")(out, y)
    assert_close(got, hand)
    assert math.isfinite(float(got))
    out.requires_grad_(True)
    loss_fn("counts")(out, y).backward()
    assert torch.isfinite(out.grad).all()


def test_output_activation() -> None:
    z = torch.tensor([[-1.0, 0.0, 2.0]])
    assert_close(output_activation("binary")(z), torch.sigmoid(z))
    assert_close(output_activation("multilabel")(z), torch.sigmoid(z))
    probs = output_activation("multiclass")(z)
    assert_close(probs.sum(dim=1), torch.ones(1))
    assert torch.equal(output_activation("regression")(z), z)
    rates = output_activation("counts")(z)
    assert (rates > 0).all()
    assert_close(rates, torch.log1p(torch.exp(z)))


def test_class_weights() -> None:
    assert_close(class_weights(np.array([1, 0, 0, 0]), "binary"), torch.tensor([3.0]))
    y = np.array([[1, 0, 1], [0, 0, 1], [0, 0, np.nan], [0, 0, 1]], dtype=float)
    # column 2 has no negatives and column 1 no positives: weight 1
    assert_close(class_weights(y, "multilabel"), torch.tensor([3.0, 1.0, 1.0]))
    labels = np.array([0, 0, 0, 1, 2, 2])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    got = class_weights(torch.as_tensor(labels), "multiclass")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    padded = class_weights(labels, "multiclass", n_classes=4)
    assert padded.shape == (4,) and padded[3] == 0
    with pytest.raises(InputError, match="class indices"):
        class_weights(np.array([0, 1.5]), "multiclass")
    with pytest.raises(InputError, match="n_classes is 2"):
        class_weights(labels, "multiclass", n_classes=2)
    with pytest.raises(ConfigError, match="only for binary"):
        class_weights(np.array([1.0, 2.0]), "regression")

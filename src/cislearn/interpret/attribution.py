"""Attributions of one model output to the input: saliency, grad×input, IG, DeepLIFT, occlusion.

Saliency, gradient × input, integrated gradients and occlusion use captum; DeepLIFT/SHAP uses
tangermeme, whose per-sequence dinucleotide-shuffled references are the usual choice for DNA
(captum's ``DeepLiftShap`` takes one reference set shared by every input). The explained
output is the raw output (logit) or the task's activated output (probability), selectable.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from cislearn.device import ModelSession
from cislearn.errors import InputError
from cislearn.interpret.session import as_input, strand_mean, strands_apart
from cislearn.types import TASKS

log = logging.getLogger(__name__)

#: DeepLIFT convergence deltas above this share of the mean output difference mean that an
#: operation of the model has no DeepLIFT rule (tangermeme's threshold): the attributions are
#: then approximate, and integrated gradients are the better choice.
DELTA_THRESHOLD = 0.01

__all__ = ["ATTRIBUTION_METHODS", "OutputSelector", "attribute", "position_scores", "top_positions"]

#: Allowed values of ``method``.
ATTRIBUTION_METHODS: tuple[str, ...] = (
    "saliency",
    "grad-x-input",
    "integrated-gradients",
    "deeplift-shap",
    "occlusion",
)
BASES = "ACGT"


class OutputSelector(nn.Module):
    """One output of a model as a (N, 1) tensor: the raw output or the task's activated output.

    Activations are modules (``nn.Sigmoid``, ``nn.Softmax``...) so DeepLIFT can handle them.

    Parameters
    ----------
    model : nn.Module
    target : int
        Output column to explain.
    output : {"logit", "prob"}
    task : str
        Picks the activation for ``prob``: sigmoid (binary, multilabel), softmax over the
        outputs (multiclass), identity (regression), softplus (counts).
    """

    def __init__(
        self, model: nn.Module, *, target: int = 0, output: str = "logit", task: str = "binary"
    ) -> None:
        super().__init__()
        if output not in ("logit", "prob"):
            raise InputError(f"output: unknown value {output!r}; allowed: logit, prob")
        if task not in TASKS:
            raise InputError(f"task: unknown value {task!r}; allowed: {', '.join(TASKS)}")
        self.model = model
        self.target = int(target)
        act: nn.Module = nn.Identity()
        if output == "prob":
            act = {
                "binary": nn.Sigmoid(),
                "multilabel": nn.Sigmoid(),
                "multiclass": nn.Softmax(dim=-1),
                "regression": nn.Identity(),
                "counts": nn.Softplus(),
            }[task]
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.model(x))
        return out[:, self.target : self.target + 1]


def _baseline(x: Tensor, kind: str) -> Tensor:
    if kind == "zeros":
        return torch.zeros_like(x)
    if kind == "uniform":  # 0.25 on each base, tracks unchanged
        b = x.clone()
        b[:, :4] = 0.25
        return b
    raise InputError(f"baseline: unknown value {kind!r}; allowed: uniform, zeros")


def attribute(
    model: nn.Module,
    x: np.ndarray | Tensor,
    *,
    method: str = "saliency",
    target: int = 0,
    output: str = "logit",
    task: str = "binary",
    batch_size: int = 64,
    baseline: str = "uniform",
    n_steps: int = 32,
    n_shuffles: int = 20,
    window: int = 5,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Attribution of one model output to every input channel and position.

    Parameters
    ----------
    model : nn.Module
        One-hot (N, C, L) → raw outputs (N, t). Its device and train/eval mode are restored.
    x : ndarray or Tensor of shape (n, C, L), float
        One-hot inputs (C = 4 + tracks).
    method : {"saliency", "grad-x-input", "integrated-gradients", "deeplift-shap", "occlusion"}
        ``saliency``: d output / d input (signed gradient); ``grad-x-input``: gradient × input;
        ``integrated-gradients``: from ``baseline`` in ``n_steps`` steps; ``deeplift-shap``:
        DeepLIFT averaged over ``n_shuffles`` dinucleotide-shuffled references (tangermeme);
        ``occlusion``: output change when a ``window``-bp block is replaced by ``baseline``.
        DeepLIFT has no rule for the global max pooling of ``cnn`` models (a tensor max, not
        a module): tangermeme then warns that its convergence deltas are large; prefer
        integrated gradients for those models.
    target : int
        Output column to explain.
    output : {"logit", "prob"}
        Explain the raw output or the task's activated output.
    task : str
        Training task (picks the activation for ``output="prob"``).
    batch_size : int
    baseline : {"uniform", "zeros"}
        Reference input for integrated gradients and occlusion (uniform = 0.25 per base).
    n_steps, n_shuffles, window, seed : int
        Method options (see above); ``seed`` fixes the shuffles.
    device : str or torch.device, optional
        Default: the GPU when present, else the CPU.

    Returns
    -------
    ndarray of shape (n, C, L), float32

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> from cislearn.encode import one_hot
    >>> net = build_model("cnn", length=30, n_outputs=1)
    >>> attribute(net, one_hot(["ACGT" * 7 + "AC"])).shape
    (1, 4, 30)
    """
    if method not in ATTRIBUTION_METHODS:
        raise InputError(
            f"method: unknown value {method!r}; allowed: {', '.join(ATTRIBUTION_METHODS)}"
        )
    xt = as_input(x)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1; got {batch_size}")
    if method == "deeplift-shap":
        opts = dict(method=method, target=target, output=output, task=task)
        opts.update(batch_size=batch_size, n_shuffles=n_shuffles, seed=seed, device=device)
        both = strands_apart(model, lambda net, xs: attribute(net, xs, **opts), xt)
        if both is not None:  # exact for output="logit"; per-strand sigmoid for "prob"
            return strand_mean(*both)
    selector = OutputSelector(model, target=target, output=output, task=task)
    with ModelSession(model, device) as session:
        dev = session.device
        if method == "deeplift-shap":
            return _deeplift_shap(selector, xt, batch_size, n_shuffles, seed, dev)
        out = []
        for start in range(0, len(xt), batch_size):
            xb = xt[start : start + batch_size].to(dev)
            out.append(
                _captum(selector, xb, method, baseline=baseline, n_steps=n_steps, window=window)
            )
    return np.concatenate(out) if out else np.zeros(tuple(xt.shape), np.float32)


def _captum(
    selector: nn.Module, xb: Tensor, method: str, *, baseline: str, n_steps: int, window: int
) -> np.ndarray:
    from captum.attr import InputXGradient, IntegratedGradients, Occlusion, Saliency

    xb = xb.clone().requires_grad_(True)
    if method == "saliency":
        attr = Saliency(selector).attribute(xb, target=0, abs=False)
    elif method == "grad-x-input":
        attr = InputXGradient(selector).attribute(xb, target=0)
    elif method == "integrated-gradients":
        attr = IntegratedGradients(selector).attribute(
            xb,
            baselines=_baseline(xb.detach(), baseline),
            target=0,
            n_steps=n_steps,
            internal_batch_size=max(len(xb), 1) * 4,
        )
    else:  # occlusion: a window of all channels slid one base at a time
        if window < 1:
            raise InputError(f"window must be >= 1; got {window}")
        with torch.no_grad():
            attr = Occlusion(selector).attribute(
                xb.detach(),
                sliding_window_shapes=(xb.shape[1], window),
                strides=(xb.shape[1], 1),
                baselines=_baseline(xb.detach(), baseline),
                target=0,
            )
    return attr.detach().float().cpu().numpy()


def _deeplift_shap(
    selector: nn.Module, xt: Tensor, batch_size: int, n_shuffles: int, seed: int, dev: Any
) -> np.ndarray:
    from tangermeme.deep_lift_shap import deep_lift_shap

    if xt.shape[1] != 4:
        raise InputError(
            "method='deeplift-shap' needs inputs of exactly 4 base channels (dinucleotide "
            f"shuffles); got {xt.shape[1]} channels; use integrated-gradients with tracks"
        )
    with warnings.catch_warnings():
        # tangermeme warns with whole tensors of deltas; one summary line is logged instead
        warnings.filterwarnings("ignore", message="Convergence deltas", category=RuntimeWarning)
        attr, refs = deep_lift_shap(
            selector,
            xt,
            target=0,
            batch_size=batch_size,
            n_shuffles=n_shuffles,
            random_state=seed,
            device=dev,
            warning_threshold=float("inf"),
            only_warn=True,
            return_references=True,
        )
    log_convergence(convergence_deltas(selector, xt, attr, refs, batch_size, dev))
    return attr.detach().float().cpu().numpy()


def convergence_deltas(
    selector: nn.Module, xt: Tensor, attr: Tensor, refs: Tensor, batch_size: int, dev: Any
) -> tuple[np.ndarray, np.ndarray]:
    """DeepLIFT's summation check per sequence: |Σ attributions − (f(x) − mean f(reference))|.

    Parameters
    ----------
    xt, attr : Tensor of shape (n, C, L)
    refs : Tensor of shape (n, k, C, L)
        The ``k`` shuffled references of each sequence.

    Returns
    -------
    deltas, differences : ndarray of shape (n,)
        The absolute deltas and the output differences ``f(x) − mean f(reference)``.
    """
    n, k = refs.shape[:2]

    def outputs(t: Tensor) -> Tensor:
        with torch.no_grad():
            parts = [
                selector(t[i : i + batch_size].to(dev)).reshape(-1).float().cpu()
                for i in range(0, len(t), batch_size)
            ]
        return torch.cat(parts)

    diff = outputs(xt.float()) - outputs(refs.reshape(n * k, *refs.shape[2:]).float()).reshape(
        n, k
    ).mean(dim=1)
    total = attr.detach().float().cpu().reshape(n, -1).sum(dim=1)
    return (total - diff).abs().numpy(), diff.numpy()


def log_convergence(check: tuple[np.ndarray, np.ndarray]) -> float:
    """Log one line summarising DeepLIFT's convergence deltas; return their share of the mean
    absolute output difference (a warning above :data:`DELTA_THRESHOLD`)."""
    deltas, diff = check
    share = float(deltas.mean() / max(float(np.abs(diff).mean()), 1e-12))
    summary = (
        f"deeplift-shap convergence deltas (|sum of attributions - output change|): median "
        f"{np.median(deltas):.3g}, max {deltas.max():.3g}, {share:.1%} of the mean output change"
    )
    if share > DELTA_THRESHOLD:
        log.warning(
            "%s (above %.0f%%): the model has an operation DeepLIFT has no rule for (e.g. a "
            "global max pool), so these attributions are approximate; prefer "
            "integrated-gradients",
            summary,
            DELTA_THRESHOLD * 100,
        )
    else:
        log.info(
            "%s (below %.0f%%): attributions add up to the output change",
            summary,
            DELTA_THRESHOLD * 100,
        )
    return share


def position_scores(attributions: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-position score: the attribution at the observed base (sum over base channels of
    attribution × one-hot), ndarray of shape (n, L).

    Parameters
    ----------
    attributions, x : ndarray of shape (n, C, L)
    """
    return (np.asarray(attributions)[:, :4] * np.asarray(x)[:, :4]).sum(axis=1).astype(np.float32)


def top_positions(
    attributions: np.ndarray, x: np.ndarray, ids: list[str], *, k: int = 10
) -> pd.DataFrame:
    """The ``k`` positions of largest absolute score per sequence.

    Returns
    -------
    DataFrame
        Columns ``id``, ``rank`` (1 = strongest), ``pos`` (0-based), ``base``, ``score``.
    """
    scores = position_scores(attributions, x)
    if len(ids) != len(scores):
        raise InputError(f"ids: expected {len(scores)} ids (one per sequence); got {len(ids)}")
    k = min(k, scores.shape[1])
    order = np.argsort(-np.abs(scores), axis=1, kind="stable")[:, :k]
    base_idx = np.asarray(x)[:, :4].argmax(axis=1)
    known = np.asarray(x)[:, :4].max(axis=1) == 1
    rows = []
    for i, sid in enumerate(ids):
        for r, p in enumerate(order[i], start=1):
            base = BASES[base_idx[i, p]] if known[i, p] else "N"
            rows.append((sid, r, int(p), base, float(scores[i, p])))
    return pd.DataFrame(rows, columns=["id", "rank", "pos", "base", "score"])

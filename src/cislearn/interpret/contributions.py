"""Hypothetical contributions (every base at every position) for motif discovery: exact ISM,
DeepLIFT/SHAP (tangermeme) or integrated gradients (captum), with convergence deltas.

A hypothetical contribution says what base ``b`` at position ``i`` would contribute if it were
there; TF-MoDISco needs them to build contribution weight matrices. From a mutation map it is the
output with ``b`` at ``i`` minus the mean over the four bases (exact, from the fast path); from
DeepLIFT/SHAP it is tangermeme's projection of the multipliers onto each base; from integrated
gradients against the uniform (0.25) baseline it is the path-averaged gradient of ``b`` minus the
mean over bases.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from cislearn.device import ModelSession
from cislearn.errors import InputError
from cislearn.interpret.attribution import OutputSelector
from cislearn.interpret.captured import captured_warnings
from cislearn.interpret.ism import map_effects, saturation_mutagenesis
from cislearn.interpret.session import as_input, strand_mean, strands_apart
from cislearn.types import Progress, no_progress

__all__ = [
    "CONTRIBUTION_METHODS",
    "Contributions",
    "actual_contributions",
    "hypothetical_contributions",
]

#: Allowed values of ``method``.
CONTRIBUTION_METHODS: tuple[str, ...] = ("ism", "deeplift-shap", "integrated-gradients")


class Contributions(NamedTuple):
    """Hypothetical contributions of one model output."""

    hypothetical: np.ndarray
    """float32 (n, 4, L): contribution base b would make at position i (mean over bases 0)."""
    delta: np.ndarray
    """float32 (n,): convergence delta per sequence as a fraction of the output difference
    it should explain: |sum of attributions − (f(x) − f(reference))| / |f(x) − f(reference)|,
    averaged over references for DeepLIFT/SHAP; NaN for exact ISM (nothing to converge)."""
    method: str
    """The method used."""
    warnings: str
    """Summary of the third-party warnings raised (``"no warnings"`` when none)."""


def actual_contributions(hypothetical: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Contribution of the observed base at each position, ndarray of shape (n, L).

    Parameters
    ----------
    hypothetical, x : ndarray of shape (n, 4+, L)
    """
    return (np.asarray(hypothetical)[:, :4] * np.asarray(x)[:, :4]).sum(axis=1).astype(np.float32)


def hypothetical_contributions(
    model: nn.Module,
    x: np.ndarray | Tensor,
    *,
    method: str = "ism",
    target: int = 0,
    output: str = "logit",
    task: str = "binary",
    n_shuffles: int = 20,
    n_steps: int = 32,
    batch_size: int = 128,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: Progress = no_progress,
) -> Contributions:
    """Hypothetical contributions of every base at every position to one model output.

    Parameters
    ----------
    model : nn.Module
        One-hot (N, 4, L) → raw outputs (N, t). Device and train/eval mode are restored.
    x : ndarray or Tensor of shape (n, 4, L), float
        One-hot sequences (no extra tracks).
    method : {"ism", "deeplift-shap", "integrated-gradients"}
        ``ism``: exact saturation mutagenesis (fast path where the model allows it);
        ``deeplift-shap``: tangermeme, ``n_shuffles`` dinucleotide-shuffled references;
        ``integrated-gradients``: captum, ``n_steps`` from the uniform baseline.
    target : int
        Output column explained.
    output : {"logit", "prob"}
        Explain the raw output or the task's activated output.
    task : str
        Training task (the activation for ``output="prob"``).
    n_shuffles, n_steps, batch_size, seed : int
        Method options; ``seed`` fixes the DeepLIFT/SHAP references.
    device : optional
        Default: the GPU when present, else the CPU.
    progress : Progress
        ``progress("contributions", done, total)`` in sequences.

    Returns
    -------
    Contributions

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> from cislearn.encode import one_hot
    >>> net = build_model("cnn", length=30, n_outputs=1)
    >>> c = hypothetical_contributions(net, one_hot(["ACGT" * 7 + "AC"]), device="cpu")
    >>> c.hypothetical.shape, bool(abs(c.hypothetical.sum(axis=1)).max() < 1e-4)
    ((1, 4, 30), True)
    """
    if method not in CONTRIBUTION_METHODS:
        raise InputError(
            f"method: unknown value {method!r}; allowed: {', '.join(CONTRIBUTION_METHODS)}"
        )
    xt = as_input(x)
    if xt.shape[1] != 4:
        raise InputError(
            f"x: hypothetical contributions need exactly 4 base channels; got {xt.shape[1]}"
        )
    if len(xt) == 0:
        raise InputError("x: no sequences")
    for name, value in (
        ("n_shuffles", n_shuffles),
        ("n_steps", n_steps),
        ("batch_size", batch_size),
    ):
        if value < 1:
            raise InputError(f"{name} must be >= 1; got {value}")
    if method == "deeplift-shap":
        opts = dict(method=method, target=target, output=output, task=task, seed=seed)
        opts.update(n_shuffles=n_shuffles, batch_size=batch_size, device=device, progress=progress)
        both = strands_apart(model, lambda net, xs: hypothetical_contributions(net, xs, **opts), xt)
        if both is not None:
            fwd, rev = both
            return Contributions(
                strand_mean(fwd.hypothetical, rev.hypothetical),
                np.maximum(fwd.delta, rev.delta),  # the worse strand's
                method,
                fwd.warnings if fwd.warnings == rev.warnings else f"{fwd.warnings}; {rev.warnings}",
            )
    # eval(): a fresh module is in training mode, and tangermeme/captum restore the mode of the
    # module they are given, which would leave dropout on in the model afterwards.
    selector = OutputSelector(model, target=target, output=output, task=task).eval()
    if method == "ism":
        return _ism(model, xt, target, output, task, device, progress)
    with ModelSession(model, device) as session, captured_warnings(method) as seen:
        chunks, deltas = [], []
        for start in range(0, len(xt), batch_size):
            progress("contributions", start, len(xt))
            xb = xt[start : start + batch_size].to(session.device)
            if method == "deeplift-shap":
                hyp, delta = _deeplift_chunk(selector, xb, n_shuffles, seed + start, session.device)
            else:
                hyp, delta = _ig_chunk(selector, xb, n_steps)
            chunks.append(hyp)
            deltas.append(delta)
        progress("contributions", len(xt), len(xt))
    return Contributions(
        np.concatenate(chunks).astype(np.float32),
        np.concatenate(deltas).astype(np.float32),
        method,
        seen.summary(),
    )


def _ism(
    model: nn.Module,
    xt: Tensor,
    target: int,
    output: str,
    task: str,
    device: Any,
    progress: Progress,
) -> Contributions:
    mm = saturation_mutagenesis(model, xt, device=device, progress=progress)
    if not 0 <= target < mm.logits.shape[-1]:
        raise InputError(
            f"target: output {target} does not exist (model has {mm.logits.shape[-1]})"
        )
    vals = mm.logits[..., target] if output == "logit" else map_effects(mm, task).prob[..., target]
    hyp = vals - vals.mean(axis=1, keepdims=True)
    nan = np.full(len(xt), np.nan, np.float32)
    return Contributions(hyp.astype(np.float32), nan, "ism", "no warnings")


def _deeplift_chunk(
    selector: nn.Module, xb: Tensor, n_shuffles: int, seed: int, dev: Any
) -> tuple[np.ndarray, np.ndarray]:
    from tangermeme.deep_lift_shap import deep_lift_shap

    mult, refs = deep_lift_shap(
        selector,
        xb,
        target=0,
        batch_size=max(n_shuffles, 32),
        n_shuffles=n_shuffles,
        random_state=seed,
        device=dev,
        raw_outputs=True,
        return_references=True,
        warning_threshold=np.inf,
    )
    selector.eval()
    mult = mult.detach().float().to(dev)  # (b, r, 4, L)
    refs = torch.as_tensor(refs).float().to(dev)  # (b, r, 4, L)
    # Projection onto each base (tangermeme's hypothetical_attributions): base b at i
    # contributes sum_c (e_b - ref)_c * mult_c.
    proj = (mult * -refs).sum(dim=2, keepdim=True) + mult  # (b, r, 4, L)
    hyp = proj.mean(dim=1)
    with torch.no_grad():
        f_x = selector(xb)[:, 0]
        f_ref = selector(refs.flatten(0, 1)).reshape(refs.shape[:2])
    pair_sum = ((xb[:, None] - refs) * mult).sum(dim=(2, 3))  # (b, r)
    diff = f_x[:, None] - f_ref
    delta = (pair_sum - diff).abs().mean(dim=1) / diff.abs().mean(dim=1).clamp_min(1e-12)
    return hyp.detach().cpu().numpy(), delta.detach().cpu().numpy()


def _ig_chunk(selector: nn.Module, xb: Tensor, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    from captum.attr import IntegratedGradients

    base = torch.full_like(xb, 0.25)
    grads = IntegratedGradients(selector, multiply_by_inputs=False).attribute(
        xb, baselines=base, target=0, n_steps=n_steps, internal_batch_size=len(xb) * 4
    )
    grads = grads.detach()
    selector.eval()
    hyp = grads - grads.mean(dim=1, keepdim=True)
    with torch.no_grad():
        diff = selector(xb)[:, 0] - selector(base)[:, 0]
    total = ((xb - base) * grads).sum(dim=(1, 2))
    delta = (total - diff).abs() / diff.abs().clamp_min(1e-12)
    return hyp.cpu().numpy(), delta.cpu().numpy()

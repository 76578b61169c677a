"""First-layer convolution filters as motifs: activations → PFMs, trimming, filtering, influence.

For each filter, the best-activating window of every sequence whose activation exceeds a
fraction of the filter's maximum is collected; their base counts form the filter's PFM
(the classic Basset/DeepBind recipe). Flanks below an information threshold are trimmed and
filters that are rarely active or carry little information are dropped. A filter's influence
is the mean drop (with its spread) of the target logit of the positives when its output is set
to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from cislearn.device import ModelSession
from cislearn.errors import InputError
from cislearn.fastpath.plan import fast_plan
from cislearn.interpret.session import as_input
from cislearn.io.motifs import Motif
from cislearn.models.layers import RCAverage, reverse_complement_batch

__all__ = [
    "FilterSet",
    "FilterMotifs",
    "first_layer",
    "filter_activations",
    "filter_motifs",
    "filter_influence",
]


class FilterSet(NamedTuple):
    """The first-layer convolutions of a model, as used here."""

    convs: tuple[nn.Conv1d, ...]
    """One per branch (a single one for plain CNNs)."""
    outputs: tuple[nn.Module, ...]
    """Module whose output is each branch's activation map (N, F_i, L_i)."""
    local: bool
    """True when the model is conv branches → global pool → head (influence is then exact
    and cheap: only the head is re-run)."""


class FilterMotifs(NamedTuple):
    """Learned filters as motifs."""

    motifs: list[Motif]
    """One per kept filter, id ``filter<k>``; counts are the (trimmed) base counts."""
    table: pd.DataFrame
    """One row per filter: ``filter``, ``branch``, ``width``, ``n_sites``, ``max_activation``,
    ``trim_start``, ``trim_end``, ``ic`` (bits, trimmed), ``consensus``, ``kept``, ``reason``."""


def first_layer(model: nn.Module) -> FilterSet:
    """The first convolution(s) of a model and the modules whose outputs are their activations.

    Models with :meth:`local_parts` give one conv per branch and the branch as output; other
    models give their first ``nn.Conv1d`` (pre-activation output).
    """
    inner = model.model if isinstance(model, RCAverage) else model
    plan = fast_plan(inner)
    if plan is not None:
        parts, branches = plan
        return FilterSet(tuple(b.conv for b in branches), tuple(parts.branches), True)
    for module in inner.modules():
        if isinstance(module, nn.Conv1d):
            return FilterSet((module,), (module,), False)
    raise InputError(f"{type(inner).__name__}: no nn.Conv1d layer; filters need a CNN")


def filter_activations(
    model: nn.Module, x: np.ndarray | Tensor, *, batch_size: int = 256, device: Any = None
) -> list[np.ndarray]:
    """Activation maps of the first-layer filters.

    Returns
    -------
    list of ndarray of shape (n, F_i, L_i), float32
        One per branch (see :func:`first_layer`).
    """
    xt = as_input(x)
    fs = first_layer(model)
    maps: list[list[np.ndarray]] = [[] for _ in fs.outputs]
    captured: dict[int, Tensor] = {}
    hooks = [
        mod.register_forward_hook(lambda _m, _i, out, k=k: captured.__setitem__(k, out))
        for k, mod in enumerate(fs.outputs)
    ]
    try:
        with ModelSession(model, device) as session, torch.inference_mode():
            for start in range(0, len(xt), batch_size):
                xb = xt[start : start + batch_size].to(session.device)
                if fs.local:  # the branches alone, not the whole model
                    for k, branch in enumerate(fs.outputs):
                        maps[k].append(branch(xb).float().cpu().numpy())
                    continue
                model(xb)
                for k in range(len(fs.outputs)):
                    maps[k].append(captured[k].float().cpu().numpy())
    finally:
        for h in hooks:
            h.remove()
    return [np.concatenate(m) for m in maps]


def _windows(x: np.ndarray, conv: nn.Conv1d, seq: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Input windows (m, 4, span) read by output positions ``pos`` of sequences ``seq``."""
    k, dil = conv.kernel_size[0], conv.dilation[0]
    span = dil * (k - 1) + 1
    same_pad = getattr(conv, "same_pad", None)
    if same_pad is not None:
        left = int(same_pad[0])
    elif isinstance(conv.padding, str):
        left = 0 if conv.padding == "valid" else (span - 1) // 2
    else:
        left = int(conv.padding[0])
    length = x.shape[2]
    padded = np.zeros((x.shape[0], 4, length + 2 * span), np.float32)  # zeros: no base
    padded[:, :, span : span + length] = x[:, :4]
    cols = pos[:, None] - left + np.arange(0, span, dil)[None, :] + span  # (m, K)
    return padded[seq[:, None], :, cols].transpose(0, 2, 1)  # (m, 4, K)


def _trim(ic: np.ndarray, min_ic: float) -> tuple[int, int]:
    """First and one-past-last column whose information is at least ``min_ic`` bits."""
    keep = np.flatnonzero(ic >= min_ic)
    if keep.size == 0:
        return 0, 0
    return int(keep[0]), int(keep[-1]) + 1


def filter_motifs(
    model: nn.Module,
    x: np.ndarray | Tensor,
    *,
    threshold: float = 0.5,
    trim_ic: float = 0.3,
    min_sites: int = 20,
    min_ic: float = 3.0,
    min_width: int = 4,
    batch_size: int = 256,
    device: Any = None,
) -> FilterMotifs:
    """First-layer filters as PFMs from their best-activating windows.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, C, L)
        One-hot sequences, typically the positives.
    threshold : float
        A sequence contributes its best window to a filter when the activation there exceeds
        ``threshold`` × the filter's maximum over all sequences.
    trim_ic : float
        Flanking columns with less information (bits) are trimmed.
    min_sites, min_ic, min_width : int, float, int
        Filters with fewer sites, less total information (bits, after trimming) or fewer
        columns are marked not kept (``reason`` says why).

    Returns
    -------
    FilterMotifs
    """
    if not 0.0 <= threshold < 1.0:
        raise InputError(f"threshold must be in [0, 1); got {threshold}")
    xt = as_input(x)
    xn = xt.numpy()
    fs = first_layer(model)
    acts = filter_activations(model, xt, batch_size=batch_size, device=device)
    motifs, rows, index = [], [], 0
    for branch, (conv, act) in enumerate(zip(fs.convs, acts, strict=True)):
        best_pos = act.argmax(axis=2)  # (n, F)
        best = np.take_along_axis(act, best_pos[:, :, None], axis=2)[:, :, 0]
        for f in range(act.shape[1]):
            fid = f"filter{index}"
            index += 1
            top = float(best[:, f].max()) if len(best) else 0.0
            seq = np.flatnonzero(best[:, f] > threshold * top) if top > 0 else np.array([], int)
            row = {
                "filter": fid,
                "branch": branch,
                "width": 0,
                "n_sites": int(seq.size),
                "max_activation": top,
                "trim_start": 0,
                "trim_end": 0,
                "ic": 0.0,
                "consensus": "",
                "kept": False,
                "reason": "",
            }
            if seq.size == 0:
                row["reason"] = "never active"
                rows.append(row)
                continue
            counts = _windows(xn, conv, seq, best_pos[seq, f]).sum(axis=0) + 0.01
            full = Motif(fid, "", counts)
            s, e = _trim(full.information_content(), trim_ic)
            if e - s == 0:
                row["reason"] = "no informative column"
                rows.append(row)
                continue
            motif = Motif(fid, "", counts[:, s:e])
            ic = float(motif.information_content().sum())
            row.update(width=e - s, trim_start=s, trim_end=e, ic=ic, consensus=motif.consensus)
            if seq.size < min_sites:
                row["reason"] = f"fewer than {min_sites} sites"
            elif ic < min_ic:
                row["reason"] = f"less than {min_ic:g} bits"
            elif e - s < min_width:
                row["reason"] = f"narrower than {min_width}"
            else:
                row["kept"] = True
                motifs.append(motif)
            rows.append(row)
    return FilterMotifs(motifs, pd.DataFrame(rows))


def filter_influence(
    model: nn.Module,
    x: np.ndarray | Tensor,
    *,
    target: int = 0,
    batch_size: int = 256,
    device: Any = None,
) -> pd.DataFrame:
    """Influence of each first-layer filter: how much the ``target`` logit of each sequence
    drops when the filter's output is set to zero, averaged over the sequences of ``x``.

    Pass the positives: the mean drop of the positive-class logit on positives measures what
    a filter contributes to calling a sequence positive, per sequence and with a spread,
    where an AUROC drop is bounded and, with many redundant filters, ±0.0002 for all of them.
    For conv → global pool → head models the pooled features are computed once and only the
    head is re-run per filter (exact: a zero map pools to zero); other models get one full
    pass per filter with a hook zeroing the channel.

    Parameters
    ----------
    x : ndarray of shape (n, C, L)
        One-hot sequences, typically the positives.
    target : int
        Output whose logit is followed.

    Returns
    -------
    DataFrame
        ``filter``, ``influence`` (mean of base − zeroed logit; larger = more important),
        ``influence_sd`` (standard deviation over the sequences), ``influence_se`` (standard
        error of the mean), ``frac_down`` (share of sequences whose logit drops), ``metric``
        (``logit_drop``), ``base`` and ``zeroed`` (mean logits).
    """
    xt = as_input(x)
    if len(xt) == 0:
        raise InputError("filter influence needs at least one sequence")

    def score(logits: Tensor) -> np.ndarray:
        return logits.float()[:, target].cpu().numpy().astype(np.float64)

    fs = first_layer(model)
    with ModelSession(model, device) as session, torch.inference_mode():
        dev = session.device
        if fs.local:
            base, values = _local_influence(model, xt, dev, batch_size, score)
        else:
            base, values = _hook_influence(model, fs, xt, dev, batch_size, score)
    drops = np.stack([base - v for v in values]) if values else np.zeros((0, len(xt)))
    sd = drops.std(axis=1, ddof=1) if len(xt) > 1 else np.zeros(len(drops))
    return pd.DataFrame(
        {
            "filter": [f"filter{k}" for k in range(len(values))],
            "influence": drops.mean(axis=1),
            "influence_sd": sd,
            "influence_se": sd / np.sqrt(len(xt)),
            "frac_down": (drops > 0).mean(axis=1),
            "metric": "logit_drop",
            "base": float(base.mean()),
            "zeroed": [float(v.mean()) for v in values],
        }
    )


def _local_influence(
    model: nn.Module, xt: Tensor, dev: Any, batch_size: int, score: Callable[[Tensor], np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pooled features once (both strands for an RCAverage model), then the head per filter."""
    parts, _ = fast_plan(model)  # type: ignore[misc]  # not None: checked by first_layer
    strands = [False, True] if isinstance(model, RCAverage) else [False]
    pooled = []  # per strand: list of per-branch pooled (n, F_i or 2F_i)
    for rc in strands:
        per_branch: list[list[Tensor]] = [[] for _ in parts.branches]
        for start in range(0, len(xt), batch_size):
            xb = xt[start : start + batch_size].to(dev)
            if rc:
                xb = reverse_complement_batch(xb)
            for k, branch in enumerate(parts.branches):
                per_branch[k].append(parts.pool(branch(xb)))
        pooled.append([torch.cat(p) for p in per_branch])
    widths = [p.shape[1] for p in pooled[0]]
    mode = parts.pool.mode
    n_filters = [w // 2 if mode == "maxmean" else w for w in widths]

    def head_out(feats_per_strand: list[Tensor]) -> Tensor:
        outs = [parts.head(f) for f in feats_per_strand]
        return sum(outs) / len(outs)

    full = [torch.cat(p, dim=1) for p in pooled]
    base = score(head_out(full))
    values = []
    offset = 0
    for k, nf in enumerate(n_filters):
        for f in range(nf):
            cols = [offset + f] + ([offset + nf + f] if mode == "maxmean" else [])
            feats = []
            for strand in full:
                z = strand.clone()
                z[:, cols] = 0.0
                feats.append(z)
            values.append(score(head_out(feats)))
        offset += widths[k]
    return base, values


def _hook_influence(
    model: nn.Module,
    fs: FilterSet,
    xt: Tensor,
    dev: Any,
    batch_size: int,
    score: Callable[[Tensor], np.ndarray],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One full pass per filter with a forward hook zeroing its output channel."""

    def run(zero: int | None) -> np.ndarray:
        handle = None
        if zero is not None:

            def hook(_m: nn.Module, _i: Any, out: Tensor) -> Tensor:
                out = out.clone()
                out[:, zero] = 0.0
                return out

            handle = fs.outputs[0].register_forward_hook(hook)
        try:
            logits = torch.cat(
                [model(xt[s : s + batch_size].to(dev)) for s in range(0, len(xt), batch_size)]
            )
        finally:
            if handle is not None:
                handle.remove()
        return score(logits)

    base = run(None)
    return base, [run(f) for f in range(fs.convs[0].out_channels)]

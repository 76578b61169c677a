"""Genome scans with shared convolutions: overlapping windows of one sequence, pooled exactly.

Windows every ``stride`` bp along a region share most of their convolution outputs (a 201-bp
window at stride 50 shares 136 of its 186 ``cnn`` positions with the next). For the models
:mod:`cislearn.fastpath.codeconv` evaluates from base codes, and whose convolutions add no
padding, the kernel below computes each position of the region once (the same pair-table sums
in the same order as the per-window kernel, so the values are identical), then pools every
window over its positions and runs the dense head on the pooled features. Returns None for a
model it does not cover (the caller then predicts window by window).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

from cislearn.fastpath import enabled
from cislearn.fastpath.codeconv import CodePlan
from cislearn.fastpath.plan import act_value, max_commutes

__all__ = ["span_logits", "covers"]

#: Windows per block of one thread's work: their positions (~13k × F float32) stay small.
_BLOCK = 256


@numba.njit(cache=True, nogil=True)
def _scan_pool(  # pragma: no cover - compiled by numba
    k0, k1, span, starts, lout, pairs, bias, dil, code, p1, p2, want_max, want_mean, out
):
    n_span = span.shape[0]
    nf = bias.shape[0]
    n_pairs = pairs.shape[1]
    premax = want_max and not want_mean and max_commutes(code, p1)
    acc = np.empty(nf, dtype=np.float32)
    mx = np.empty(nf, dtype=np.float32)
    sm = np.empty(nf, dtype=np.float32)
    zero = np.float32(0.0)
    for b0 in range(k0, k1, _BLOCK):
        b1 = min(b0 + _BLOCK, k1)
        lo = starts[b0]
        n_pos = starts[b1 - 1] + lout - lo
        reach = n_pos + (2 * n_pairs - 1) * dil
        pc = np.empty(reach, dtype=np.int64)
        for t in range(reach):
            a = span[lo + t] if lo + t < n_span else 5
            b = span[lo + t + dil] if lo + t + dil < n_span else 5
            pc[t] = 6 * a + b
        buf = np.empty((n_pos, nf), dtype=np.float32)
        for j in range(n_pos):
            for f in range(nf):
                acc[f] = bias[f]
            for q in range(n_pairs):
                row = pc[j + 2 * q * dil]
                for f in range(nf):
                    acc[f] += pairs[row, q, f]
            if premax:
                for f in range(nf):
                    buf[j, f] = acc[f]
            else:
                for f in range(nf):
                    buf[j, f] = np.float32(act_value(acc[f], code, p1, p2))
        for k in range(b0, b1):
            w = starts[k] - lo
            mx[:] = -np.inf
            sm[:] = zero
            for j in range(w, w + lout):
                for f in range(nf):
                    mx[f] = np.maximum(mx[f], buf[j, f])
                if want_mean:
                    for f in range(nf):
                        sm[f] += buf[j, f]
            col = 0
            if want_max:
                for f in range(nf):
                    out[k, f] = np.float32(act_value(mx[f], code, p1, p2)) if premax else mx[f]
                col = nf
            if want_mean:
                for f in range(nf):
                    out[k, col + f] = sm[f] / lout


def covers(plan: CodePlan | None) -> bool:
    """Whether :func:`span_logits` applies: the fast path is on (:func:`cislearn.fastpath.
    enabled`) and ``plan`` is a code plan whose convolutions add no padding."""
    return enabled() and plan is not None and all(t.padding_total == 0 for t in plan.tables)


def _pooled(plan: CodePlan, span: np.ndarray, starts: np.ndarray, width: int) -> torch.Tensor:
    want_max, want_mean = plan.mode in ("max", "maxmean"), plan.mode in ("mean", "maxmean")
    parts = []
    threads = max(1, torch.get_num_threads())
    for t in plan.tables:
        nf = t.table.shape[2]
        out = np.empty((len(starts), nf * (int(want_max) + int(want_mean))), np.float32)
        lout = width - t.dilation * (t.table.shape[1] - 1)
        args = (span, starts, lout, t.pairs, t.bias, t.dilation, t.code, t.p1, t.p2)
        bounds = np.linspace(0, len(starts), threads + 1).astype(np.int64)
        if threads == 1 or len(starts) < 2 * _BLOCK:
            _scan_pool(0, len(starts), *args, want_max, want_mean, out)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                jobs = [
                    pool.submit(
                        _scan_pool, bounds[w], bounds[w + 1], *args, want_max, want_mean, out
                    )
                    for w in range(threads)
                ]
                for job in jobs:
                    job.result()
        parts.append(out)
    return torch.from_numpy(np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0])


def span_logits(
    plan: CodePlan, span: np.ndarray, starts: np.ndarray, width: int, *, rc_average: bool = False
) -> np.ndarray:
    """Raw outputs (m, t) of the ``width`` windows of ``span`` starting at ``starts``.

    Parameters
    ----------
    plan : CodePlan
        With :func:`covers` true (call under ``torch.inference_mode()``, model in eval mode).
    span : ndarray of uint8, shape (S,)
        Base codes (A, C, G, T, N = 0..4).
    starts : ndarray of int64, shape (m,)
        Sorted window offsets in ``span``; each window must fit.
    rc_average : bool
        Average with the reverse-complement strand (as :meth:`CodePlan.logits`).
    """
    span = np.ascontiguousarray(span, dtype=np.uint8)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    head = plan.parts.head
    out = head(_pooled(plan, span, starts, width))
    if rc_average or plan.rc_model:
        rc = np.ascontiguousarray(np.where(span < 4, 3 - span, span)[::-1], dtype=np.uint8)
        rc_starts = np.ascontiguousarray((len(span) - starts - width)[::-1])
        rc_out = head(_pooled(plan, rc, rc_starts, width))
        out = 0.5 * (out + torch.flip(rc_out, dims=[0]))
    return out.float().numpy()

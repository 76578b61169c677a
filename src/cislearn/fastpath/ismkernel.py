"""Numba kernel of fast mutagenesis on the CPU: window update, activation and pooling fused.

The torch block path of :mod:`cislearn.fastpath.mutagenesis` materialises a (positions × 4 bases ×
window × filters) tensor and reads it several times; it is memory-bound. This kernel keeps each
position's window in registers/L1 and writes only the pooled features, measured ~4-6× faster
on 2 CPU cores for the ``cnn`` model at 201 bp (benchmarks/ism.py). It handles branches whose
post-convolution modules are ``[BatchNorm1d] [activation] [Dropout]`` (the ConvBlock layout);
batch norm is folded into the convolution output as a per-filter affine map. Other branches
use the torch path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from torch import Tensor

from cislearn.fastpath.plan import act_value as _act
from cislearn.fastpath.plan import max_commutes

__all__ = ["pooled_block", "running_max"]


# Not numba's parallel=True: its OpenMP workers spin after each call and slowed torch's own
# threads (the head, the caches) ~3x on 2 cores; plain Python threads over a nogil kernel do not.
@numba.njit(cache=True, nogil=True)
def _kernel(  # pragma: no cover - compiled by numba
    r0,
    r1,
    zpad,
    x4,
    wt,
    first0,
    lout,
    code,
    p1,
    p2,
    prefmax,
    sufmax,
    csum,
    mean,
    want_max,
    want_mean,
    out_max,
    out_mean,
):
    length = x4.shape[2]
    span, nf = wt.shape[1], wt.shape[2]
    pad = span - 1
    zero = np.float32(0.0)
    # Max pooling of a non-decreasing activation: max of activations = activation of the max,
    # so only pre-activations are compared (the inner loop is then an add and a max).
    premax = want_max and not want_mean and max_commutes(code, p1)
    mx = np.empty((4, nf), dtype=np.float32)
    sm = np.empty((4, nf), dtype=np.float32)
    base = np.empty(nf, dtype=np.float32)
    for r in range(r0, r1):
        s = r // length
        i = r - s * length
        start = i + first0
        mx[:] = -np.inf
        sm[:] = zero
        x0, x1, x2, x3 = x4[s, 0, i], x4[s, 1, i], x4[s, 2, i], x4[s, 3, i]
        for t in range(span):
            j = start + t
            if j < 0 or j >= lout:
                continue
            # minus the current base's contribution; wt is 0 off the taps (dilation), so no
            # branch here: it kept LLVM from vectorising the loop
            for f in range(nf):
                base[f] = zpad[s, j + pad, f] - (
                    x0 * wt[0, t, f] + x1 * wt[1, t, f] + x2 * wt[2, t, f] + x3 * wt[3, t, f]
                )
            # np.maximum, not the builtin max(): numba lowers max() to branches that LLVM
            # does not vectorise (measured 2 vs 10 G elements/s on this loop).
            if premax:
                for b in range(4):
                    for f in range(nf):
                        mx[b, f] = np.maximum(mx[b, f], base[f] + wt[b, t, f])
            elif code == 1:  # ReLU, the common case, kept branch-free for SIMD
                for b in range(4):
                    for f in range(nf):
                        v = np.maximum(base[f] + wt[b, t, f], zero)
                        mx[b, f] = np.maximum(mx[b, f], v)
                        sm[b, f] += v
            else:
                for b in range(4):
                    for f in range(nf):
                        v = np.float32(_act(base[f] + wt[b, t, f], code, p1, p2))
                        mx[b, f] = np.maximum(mx[b, f], v)
                        sm[b, f] += v
        lo = min(max(start, 0), lout)
        hi = min(max(start + span, 0), lout)
        for b in range(4):
            for f in range(nf):
                if want_max:
                    m = np.float32(_act(mx[b, f], code, p1, p2)) if premax else mx[b, f]
                    out_max[s, i, b, f] = np.maximum(
                        np.maximum(m, prefmax[s, lo, f]), sufmax[s, hi, f]
                    )
                if want_mean:
                    old = csum[s, hi, f] - csum[s, lo, f]
                    out_mean[s, i, b, f] = mean[s, f] + (sm[b, f] - old) / lout


@numba.njit(cache=True, nogil=True)
def _running_max(h, prefmax, sufmax):  # pragma: no cover - compiled by numba
    n, length, nf = h.shape
    for s in range(n):
        for f in range(nf):
            prefmax[s, 0, f] = -np.inf
            sufmax[s, length, f] = -np.inf
        for j in range(length):
            for f in range(nf):
                prefmax[s, j + 1, f] = np.maximum(prefmax[s, j, f], h[s, j, f])
        for j in range(length - 1, -1, -1):
            for f in range(nf):
                sufmax[s, j, f] = np.maximum(sufmax[s, j + 1, f], h[s, j, f])


def running_max(h: Tensor) -> tuple[Tensor, Tensor]:
    """(max of h[:, :j], max of h[:, j:]) for j = 0..L, each (n, L + 1, F), of a CPU tensor
    (n, L, F); -inf for empty ranges. Vectorised over F: numpy's ``maximum.accumulate``
    along the middle axis was ~5x slower and needed flipped copies for the suffix."""
    arr = np.ascontiguousarray(h.numpy())
    n, length, nf = arr.shape
    prefmax = np.empty((n, length + 1, nf), np.float32)
    sufmax = np.empty((n, length + 1, nf), np.float32)
    _running_max(arr, prefmax, sufmax)
    return torch.from_numpy(prefmax), torch.from_numpy(sufmax)


def pooled_block(
    zpad_affine: Tensor,
    x4: Tensor,
    taps_affine: Tensor,
    first0: int,
    lout: int,
    spec: tuple,
    prefmax: Tensor,
    sufmax: Tensor,
    csum: Tensor,
    mean: Tensor,
    mode: str,
) -> Tensor:
    """Pooled features (n, L, 4, F or 2F) of every base at every position (CPU tensors).

    ``zpad_affine`` (n, Lout + 2 (span-1), F) and ``taps_affine`` (4, span, F; zero at window
    offsets that are not taps of a dilated convolution) already carry
    the batch-norm scale/shift; the running statistics are of the branch output.
    """
    _, _, code, p1, p2 = spec
    n, _, length = x4.shape
    nf = taps_affine.shape[2]
    want_max, want_mean = mode in ("max", "maxmean"), mode in ("mean", "maxmean")
    out_max = np.empty((n, length, 4, nf) if want_max else (1, 1, 1, 1), np.float32)
    out_mean = np.empty((n, length, 4, nf) if want_mean else (1, 1, 1, 1), np.float32)
    args = (
        zpad_affine.numpy(),
        x4.numpy(),
        taps_affine.numpy(),
        first0,
        lout,
        code,
        p1,
        p2,
        prefmax.numpy(),
        sufmax.numpy(),
        csum.numpy(),
        mean.numpy(),
        want_max,
        want_mean,
        out_max,
        out_mean,
    )
    rows = n * length
    workers = max(1, min(torch.get_num_threads(), rows // 64))
    if workers == 1:
        _kernel(0, rows, *args)
    else:
        bounds = np.linspace(0, rows, workers + 1).astype(int)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cislearn-ism") as pool:
            list(pool.map(lambda k: _kernel(bounds[k], bounds[k + 1], *args), range(workers)))
    parts = ([out_max] if want_max else []) + ([out_mean] if want_mean else [])
    return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1))

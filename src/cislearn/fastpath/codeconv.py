"""Exact CPU inference from base codes for conv branches → position-wise ops → global pool → head.

A convolution over a one-hot input adds, at each output position, one weight column per tap:
the column of the base under that tap (for N, ``n_value`` times the sum of the four). The
numba kernel below therefore sums ``K`` table rows per position instead of multiplying
``4 K`` inputs, applies the folded batch norm and activation, and pools, without building
the one-hot input or the (N, F, L) activations; the dense head then runs in torch on the
pooled features. Measured on 2 CPU cores for the ``cnn`` model (128 × 16) at 201 bp it runs
several times faster than torch's convolution (benchmarks/predict.py, benchmarks/variants.py),
which is why it is hand-written: no library evaluates convolutions on integer-coded sequences.

The same pass scores one substitution per sequence (variant effects): the output positions
whose window holds the substituted base get the column difference added, the others are
shared by both alleles.

Windows cut from one genome overlap when the variants are dense (a biobank VCF has one SNV
every few bases): given each window's start on a common coordinate (``starts``), overlapping
windows are laid out as one span, each output position of the span is computed once, and
each window only takes the maximum over its own positions, with the substituted base's
positions changed (:func:`_span_pool`; the same sums in the same order as :func:`_pool_codes`,
so the results are the same bits).

Exact up to float32 rounding (the summation order differs from torch's); tests compare it
with the model's own forward pass. Used only on the CPU and only for models that
:func:`cislearn.fastpath.plan.fast_plan` accepts with kernel-compatible branches
(:func:`~cislearn.fastpath.plan.kernel_spec`) over exactly the four base channels.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
import torch
from torch import Tensor, nn

from cislearn.errors import InputError
from cislearn.fastpath import enabled
from cislearn.fastpath.plan import Branch, act_value, fast_plan, kernel_spec, max_commutes
from cislearn.models.layers import LocalParts, RCAverage

__all__ = ["CodePlan", "code_plan", "weights_key"]

#: Below this many sequences per worker thread the kernel runs on one thread.
_MIN_PER_WORKER = 16


class _Table(NamedTuple):
    table: np.ndarray  # (5, K, F) float32: per-base weight columns (scaled), row 4 = N
    pairs: np.ndarray  # (36, ceil(K/2), F): rows 6a + b = table[a, 2q] + table[b, 2q + 1]
    bias: np.ndarray  # (F,) float32: conv bias * scale + shift
    pad_left: int
    dilation: int
    padding_total: int  # zeros added to the input in all (left + right)
    code: int
    p1: float
    p2: float


def _table(branch: Branch, n_value: float) -> _Table | None:
    conv = branch.conv
    if conv.in_channels != 4:
        return None
    spec = kernel_spec(branch.post, conv.out_channels)
    if spec is None:
        return None
    scale, shift, code, p1, p2 = spec
    w = conv.weight.detach().float().cpu()  # (F, 4, K)
    cols = w.permute(1, 2, 0) * scale  # (4, K, F)
    table = torch.cat([cols, n_value * cols.sum(dim=0, keepdim=True)])  # (5, K, F)
    bias = conv.bias.detach().float().cpu() if conv.bias is not None else torch.zeros_like(scale)
    k, dil = conv.kernel_size[0], conv.dilation[0]
    # Taps summed two at a time: half the row additions of the inner loop, measured ~1.5x
    # faster for 128 x 16 (the 147 kB table stays in L2). Codes 0-4 = A C G T N, 5 = padding.
    n_pairs = (k + 1) // 2
    six = torch.cat([table, torch.zeros((1, k, table.shape[2]))])  # (6, K, F)
    six = torch.cat([six, torch.zeros((6, 2 * n_pairs - k, table.shape[2]))], dim=1)
    pairs = (six[:, None, 0::2] + six[None, :, 1::2]).reshape(36, n_pairs, -1)
    return _Table(
        np.ascontiguousarray(table.numpy(), dtype=np.float32),
        np.ascontiguousarray(pairs.numpy(), dtype=np.float32),
        np.ascontiguousarray((bias * scale + shift).numpy(), dtype=np.float32),
        branch.pad_left,
        dil,
        branch.pad_left + branch.pad_right,
        code,
        p1,
        p2,
    )


@numba.njit(cache=True, nogil=True)
def _pool_codes(  # pragma: no cover - compiled by numba
    s0,
    s1,
    codes,
    table,
    pairs,
    bias,
    pad_left,
    dil,
    lout,
    code,
    p1,
    p2,
    want_max,
    want_mean,
    pos,
    alt,
    out_ref,
    out_alt,
):
    length = codes.shape[1]
    n_k, nf = table.shape[1], table.shape[2]
    n_pairs = pairs.shape[1]
    has_sub = pos.shape[0] > 0
    padded = np.empty(lout + 2 * n_pairs * dil, dtype=np.int64)
    pc = np.empty(lout + (2 * n_pairs - 1) * dil, dtype=np.int64)
    # Max pooling of a non-decreasing activation: compare pre-activations, activate once.
    # np.maximum rather than max(): numba's builtin max does not vectorise (2 vs 10 G/s).
    premax = want_max and not want_mean and max_commutes(code, p1)
    acc = np.empty(nf, dtype=np.float32)
    mref = np.empty(nf, dtype=np.float32)
    malt = np.empty(nf, dtype=np.float32)
    sref = np.empty(nf, dtype=np.float32)
    salt = np.empty(nf, dtype=np.float32)
    diff = np.empty(nf, dtype=np.float32)
    zero = np.float32(0.0)
    for s in range(s0, s1):
        mref[:] = -np.inf
        malt[:] = -np.inf
        sref[:] = zero
        salt[:] = zero
        p = pos[s] if has_sub else -1
        # Pair codes: pc[t] = 6 * padded[t] + padded[t + dil] over the zero-padded sequence
        # (code 5 = padding), so output j sums pair-table rows pc[j + 2 q dil], q < n_pairs.
        padded[:] = 5
        for i in range(length):
            padded[pad_left + i] = codes[s, i]
        for t in range(pc.shape[0]):
            pc[t] = 6 * padded[t] + padded[t + dil]
        for j in range(lout):
            start = j - pad_left
            for f in range(nf):
                acc[f] = bias[f]
            for q in range(n_pairs):
                row = pc[j + 2 * q * dil]
                for f in range(nf):
                    acc[f] += pairs[row, q, f]
            # the substituted base's tap in this output position's window, if any
            tap = -1
            if has_sub:
                off = p - start
                if off >= 0 and off % dil == 0 and off // dil < n_k:
                    tap = off // dil
            if tap >= 0:
                old, new = codes[s, p], alt[s]
                for f in range(nf):
                    diff[f] = acc[f] + (table[new, tap, f] - table[old, tap, f])
            if premax:
                for f in range(nf):
                    mref[f] = np.maximum(mref[f], acc[f])
                if tap >= 0:
                    for f in range(nf):
                        malt[f] = np.maximum(malt[f], diff[f])
                elif has_sub:
                    for f in range(nf):
                        malt[f] = np.maximum(malt[f], acc[f])
                continue
            for f in range(nf):
                v = np.float32(act_value(acc[f], code, p1, p2))
                mref[f] = np.maximum(mref[f], v)
                sref[f] += v
                if tap >= 0:
                    v = np.float32(act_value(diff[f], code, p1, p2))
                if has_sub:
                    malt[f] = np.maximum(malt[f], v)
                    salt[f] += v
        col = 0
        if want_max:
            for f in range(nf):
                if premax:
                    out_ref[s, f] = np.float32(act_value(mref[f], code, p1, p2))
                    if has_sub:
                        out_alt[s, f] = np.float32(act_value(malt[f], code, p1, p2))
                else:
                    out_ref[s, f] = mref[f]
                    if has_sub:
                        out_alt[s, f] = malt[f]
            col = nf
        if want_mean:
            for f in range(nf):
                out_ref[s, col + f] = sref[f] / lout
                if has_sub:
                    out_alt[s, col + f] = salt[f] / lout


def _activate(pre_max: np.ndarray, t: _Table) -> np.ndarray:
    """The activation of max-pooled pre-activations (non-decreasing: max commutes with it)."""
    return _activate_kernel(pre_max, t.code, t.p1, t.p2)


@numba.njit(cache=True, nogil=True)
def _activate_kernel(x, code, p1, p2):  # pragma: no cover - compiled by numba
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        for f in range(x.shape[1]):
            out[i, f] = np.float32(act_value(x[i, f], code, p1, p2))
    return out


@numba.njit(cache=True, nogil=True)
def _span_pool(  # pragma: no cover - compiled by numba
    s0,
    s1,
    buf,
    span_off,
    span_rows,
    row_off,
    row_pos,
    row_alt,
    row_old,
    rows,
    pairs,
    table,
    bias,
    dil,
    lout,
    max_out,
    out_ref,
    out_alt,
):
    """Spans ``s0 .. s1-1``: span ``s`` holds codes ``buf[span_off[s]:span_off[s+1]]``
    (padded with code 5 past its end) and the windows ``span_rows[s]:span_rows[s+1]`` of
    the sorted window list; window ``i`` starts at ``row_off[i]`` in its span, has base
    ``row_old[i]`` → ``row_alt[i]`` at ``row_pos[i]`` and writes row ``rows[i]`` of the
    outputs. Max pooling of pre-activations only (the caller applies the activation)."""
    n_k, nf = table.shape[1], table.shape[2]
    n_pairs = pairs.shape[1]
    pre = np.empty((max_out, nf), dtype=np.float32)
    mref = np.empty(nf, dtype=np.float32)
    malt = np.empty(nf, dtype=np.float32)
    for s in range(s0, s1):
        a0 = span_off[s]
        n_out = span_off[s + 1] - a0 - 2 * n_pairs * dil - (n_k - 1) * dil  # valid conv
        for j in range(n_out):
            for f in range(nf):
                pre[j, f] = bias[f]
            for q in range(n_pairs):
                t = a0 + j + 2 * q * dil
                row = 6 * buf[t] + buf[t + dil]
                for f in range(nf):
                    pre[j, f] += pairs[row, q, f]
        for i in range(span_rows[s], span_rows[s + 1]):
            w, p = row_off[i], row_off[i] + row_pos[i]
            old, new = row_old[i], row_alt[i]
            lo = p - (n_k - 1) * dil  # outputs whose window holds the substituted base
            if lo < w:
                lo = w
            hi = p if p < w + lout - 1 else w + lout - 1
            mref[:] = -np.inf
            malt[:] = -np.inf
            for j in range(w, w + lout):
                off = p - j
                if j >= lo and j <= hi and off % dil == 0:
                    tap = off // dil
                    for f in range(nf):
                        v = pre[j, f]
                        mref[f] = np.maximum(mref[f], v)
                        malt[f] = np.maximum(malt[f], v + (table[new, tap, f] - table[old, tap, f]))
                else:
                    for f in range(nf):
                        v = pre[j, f]
                        mref[f] = np.maximum(mref[f], v)
                        malt[f] = np.maximum(malt[f], v)
            r = rows[i]
            for f in range(nf):
                out_ref[r, f] = mref[f]
                out_alt[r, f] = malt[f]


#: Longest span of overlapping windows laid out at once (its pre-activations: 8 MB at 128
#: filters); a window past it starts a new span.
_SPAN_CAP = 16_384


def _overlap_pays(starts: np.ndarray, length: int) -> bool:
    """Whether windows at ``starts`` overlap enough for spans to pay: they cover at most 3/4
    of ``n * length`` bases. Windows that do not overlap (one variant per kilobase) scored
    ~10% slower in spans than one by one (4,096 windows of 201 bp: 80 vs 73 ms), dense ones
    twice as fast (one per 16 bp: 36 vs 74 ms)."""
    if len(starts) < 2:
        return False
    covered = length + int(np.minimum(np.diff(np.sort(starts)), length).sum())
    return covered <= 0.75 * len(starts) * length


def _layout(starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of ``length`` at ``starts`` grouped into spans of overlapping windows: the
    sorted order, each span's first window (in that order, plus the end) and each window's
    offset in its span."""
    order = np.argsort(starts, kind="stable")
    st = starts[order]
    first = [0]
    base = int(st[0]) if len(st) else 0
    offsets = np.empty(len(st), np.int64)
    for i in range(len(st)):  # a few thousand windows per call: a plain loop is enough
        x = int(st[i])
        if i and (x - int(st[i - 1]) >= length or x + length - base > _SPAN_CAP):
            first.append(i)
            base = x
        offsets[i] = x - base
    first.append(len(st))
    return order, np.asarray(first, np.int64), offsets


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:  # one long-lived pool: creating threads per call costs ~0.1 ms each
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cislearn-codeconv")
        return _POOL


class CodePlan:
    """A model prepared for :meth:`logits` on integer base codes (see the module docstring).

    Build it with :func:`code_plan`, which returns None for models it does not cover.
    Tables are copied from the weights when the plan is made: make a new plan after the
    weights change.
    """

    def __init__(self, parts: LocalParts, tables: list[_Table], rc_model: bool) -> None:
        self.parts = parts
        self.tables = tables
        self.mode = parts.pool.mode
        self.rc_model = rc_model  # an RCAverage wrapper: always average both strands

    def _pooled(
        self, codes: np.ndarray, pos: np.ndarray | None, alt: np.ndarray | None
    ) -> tuple[Tensor, Tensor | None]:
        n, length = codes.shape
        want_max, want_mean = self.mode in ("max", "maxmean"), self.mode in ("mean", "maxmean")
        has_sub = pos is not None
        p = np.ascontiguousarray(pos, dtype=np.int64) if has_sub else np.zeros(0, np.int64)
        a = np.ascontiguousarray(alt, dtype=np.int64) if has_sub else np.zeros(0, np.int64)
        refs, alts = [], []
        for t in self.tables:
            nf = t.table.shape[2]
            width = nf * (int(want_max) + int(want_mean))
            out_ref = np.empty((n, width), np.float32)
            out_alt = np.empty((n, width) if has_sub else (0, width), np.float32)
            lout = length + t.padding_total - t.dilation * (t.table.shape[1] - 1)
            args = (
                codes,
                t.table,
                t.pairs,
                t.bias,
                t.pad_left,
                t.dilation,
                lout,
                t.code,
                t.p1,
                t.p2,
                want_max,
                want_mean,
                p,
                a,
                out_ref,
                out_alt,
            )
            workers = max(1, min(torch.get_num_threads(), n // _MIN_PER_WORKER))
            if workers == 1:
                _pool_codes(0, n, *args)
            else:
                bounds = np.linspace(0, n, workers + 1).astype(np.int64)
                jobs = [
                    _executor().submit(_pool_codes, bounds[w], bounds[w + 1], *args)
                    for w in range(workers)
                ]
                for job in jobs:
                    job.result()
            refs.append(out_ref)
            alts.append(out_alt)
        ref = torch.from_numpy(np.concatenate(refs, axis=1) if len(refs) > 1 else refs[0])
        if not has_sub:
            return ref, None
        return ref, torch.from_numpy(np.concatenate(alts, axis=1) if len(alts) > 1 else alts[0])

    def spans_apply(self) -> bool:
        """Whether :meth:`logits` can share the convolution of overlapping windows: max
        pooling of a non-decreasing activation over a convolution without padding."""
        return self.mode == "max" and all(
            t.padding_total == 0 and max_commutes(t.code, t.p1) for t in self.tables
        )

    def _span_pooled(
        self, codes: np.ndarray, starts: np.ndarray, pos: np.ndarray, alt: np.ndarray
    ) -> tuple[Tensor, Tensor]:
        n, length = codes.shape
        order, first, offsets = _layout(starts, length)
        n_spans = len(first) - 1
        ends = offsets[first[1:] - 1] + length  # each span's length
        refs, alts = [], []
        for t in self.tables:
            n_pairs, dil = t.pairs.shape[1], t.dilation
            pad = 2 * n_pairs * dil  # code 5 past each span's end (the kernel reads there)
            span_off = np.zeros(n_spans + 1, np.int64)
            span_off[1:] = np.cumsum(ends + pad)
            buf = np.full(int(span_off[-1]), 5, np.uint8)
            span_of = np.repeat(np.arange(n_spans), np.diff(first))
            at = span_off[span_of] + offsets  # each sorted window's first base in buf
            buf[at[:, None] + np.arange(length)] = codes[order]
            lout = length - dil * (t.table.shape[1] - 1)
            nf = t.table.shape[2]
            out_ref = np.empty((n, nf), np.float32)
            out_alt = np.empty((n, nf), np.float32)
            p = np.ascontiguousarray(pos[order], dtype=np.int64)
            args = (
                buf,
                span_off,
                first,
                offsets,
                p,
                np.ascontiguousarray(alt[order], dtype=np.int64),
                codes[order, p].astype(np.int64),
                order.astype(np.int64),
                t.pairs,
                t.table,
                t.bias,
                dil,
                lout,
                int(ends.max()),
                out_ref,
                out_alt,
            )
            workers = max(1, min(torch.get_num_threads(), n // _MIN_PER_WORKER, n_spans))
            if workers == 1:
                _span_pool(0, n_spans, *args)
            else:  # spans split by the number of windows they hold
                cut = np.searchsorted(first, np.linspace(0, n, workers + 1)).astype(np.int64)
                cut[0], cut[-1] = 0, n_spans
                jobs = [
                    _executor().submit(_span_pool, cut[w], cut[w + 1], *args)
                    for w in range(workers)
                    if cut[w + 1] > cut[w]
                ]
                for job in jobs:
                    job.result()
            refs.append(_activate(out_ref, t))
            alts.append(_activate(out_alt, t))
        ref = np.concatenate(refs, axis=1) if len(refs) > 1 else refs[0]
        sub = np.concatenate(alts, axis=1) if len(alts) > 1 else alts[0]
        return torch.from_numpy(ref), torch.from_numpy(sub)

    def _strand(
        self,
        codes: np.ndarray,
        pos: np.ndarray | None,
        alt: np.ndarray | None,
        starts: np.ndarray | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        if starts is not None and pos is not None and alt is not None and len(codes):
            ref, sub = self._span_pooled(codes, starts, pos, alt)
        else:
            ref, sub = self._pooled(codes, pos, alt)
        head = self.parts.head
        return head(ref), None if sub is None else head(sub)

    def logits(
        self,
        codes: np.ndarray,
        pos: np.ndarray | None = None,
        alt: np.ndarray | None = None,
        *,
        rc_average: bool = False,
        starts: np.ndarray | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Raw outputs (n, t) of ``codes`` (n, L) uint8 (A, C, G, T, N = 0..4), and with
        ``alt[i]`` (0..3) at ``pos[i]`` when both are given (else None).

        ``rc_average`` (or an RCAverage model) averages both strands. ``starts`` (n,) int64:
        where each window starts on one coordinate line shared by all windows (windows that
        overlap there must hold the same bases where they overlap, as windows of one genome
        do); with substitutions, overlapping windows then share their convolution where
        :meth:`spans_apply` (same results). Call under ``torch.inference_mode()`` with the
        model in eval mode.
        """
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.dtype.kind not in "iu":
            raise InputError(f"codes: expected integers of shape (n, L); got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() > 4):
            raise InputError("codes: values must be 0-4 (A, C, G, T, N)")
        if (pos is None) != (alt is None):
            raise InputError("pos and alt: give both or neither")
        if pos is not None and alt is not None:
            pos, alt = np.asarray(pos), np.asarray(alt)
            if pos.shape != (len(codes),) or alt.shape != (len(codes),):
                raise InputError(f"pos and alt: expected {len(codes)} values each")
            if pos.size and (pos.min() < 0 or pos.max() >= codes.shape[1]):
                raise InputError(f"pos: values must be 0..{codes.shape[1] - 1}")
            if alt.size and (alt.min() < 0 or alt.max() > 3):
                raise InputError("alt: values must be 0-3 (A, C, G, T)")
        codes = np.ascontiguousarray(codes, dtype=np.uint8)  # the kernel does not bound-check
        length = codes.shape[1]
        if starts is not None:
            starts = np.asarray(starts, dtype=np.int64)
            if starts.shape != (len(codes),):
                raise InputError(f"starts: expected {len(codes)} values")
            if not self.spans_apply() or not _overlap_pays(starts, length):
                starts = None
        ref, sub = self._strand(codes, pos, alt, starts)
        if rc_average or self.rc_model:
            rc = np.where(codes < 4, 3 - codes, codes)[:, ::-1].astype(np.uint8)
            ref_rc, sub_rc = self._strand(
                np.ascontiguousarray(rc),
                None if pos is None else length - 1 - np.asarray(pos),
                None if alt is None else 3 - np.asarray(alt),
                None if starts is None else -(starts + length),  # the mirrored coordinate
            )
            ref = 0.5 * (ref + ref_rc)
            if sub is not None and sub_rc is not None:
                sub = 0.5 * (sub + sub_rc)
        return ref, sub


def weights_key(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer of ``model`` is replaced, moved or modified in
    place (torch counts in-place writes in ``Tensor._version``), or its mode changes: a key
    for caching a :class:`CodePlan` (building one costs ~1 ms; a 100-sequence call ~3 ms)."""
    tensors = [*model.parameters(), *model.buffers()]
    return (model.training, *((id(t), t._version, t.device.type) for t in tensors))


def code_plan(model: nn.Module, *, n_value: float = 0.25) -> CodePlan | None:
    """A :class:`CodePlan` of ``model`` when it is on the CPU, in eval mode and of the covered
    form (conv branches over the four base channels → ``[BatchNorm] [activation] [Dropout]``
    → global pool → head), else None. ``n_value``: the one-hot value of N the model was
    trained with. None too when the fast path is switched off (:mod:`cislearn.fastpath`)."""
    if not enabled() or model.training or any(p.device.type != "cpu" for p in model.parameters()):
        return None
    plan = fast_plan(model)
    if plan is None:
        return None
    parts, branches = plan
    tables = [_table(b, n_value) for b in branches]
    if any(t is None for t in tables):
        return None
    return CodePlan(parts, tables, isinstance(model, RCAverage))  # type: ignore[arg-type]

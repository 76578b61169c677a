"""Fast exact mutagenesis engine for conv branches → position-wise ops → global pool → head.

A one-base substitution at input position ``i`` changes a branch's first-convolution output
only at positions ``j = i + pad_left - k * dilation`` (k = 0..K-1), by the weight column of
the new base minus that of the old one. So the new branch output differs from the cached one
only inside a window of ``span = (K - 1) * dilation + 1`` positions; the global max is the
maximum of (cached prefix max, recomputed window, cached suffix max) and the global mean is the
cached mean plus the window's change divided by the length. The head then runs once per mutant
on pooled features. Everything is vectorised over positions, bases and sequences with torch ops.

:func:`substitutions` and :func:`mutation_map` are the entry points
:mod:`cislearn.interpret.ism` calls (after :func:`available`); exact up to float32 rounding
(tests compare them with naive ISM).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from cislearn.fastpath import enabled
from cislearn.fastpath.ismkernel import pooled_block, running_max
from cislearn.fastpath.plan import Branch, fast_plan, kernel_spec
from cislearn.models.layers import LocalParts, RCAverage, reverse_complement_batch

__all__ = [
    "ELEMENT_BUDGET",
    "FastModel",
    "available",
    "mutation_map",
    "sequence_chunk",
    "single_substitutions",
    "substitutions",
]

#: Use the fused numba kernel on the CPU when it applies. Not the fast-path switch (that is
#: :func:`cislearn.fastpath.enabled`): tests turn this off to check the torch block path,
#: which GPUs and unusual branch layouts take.
USE_KERNEL = True


def _post(branch: Branch, z: Tensor, *, inplace: bool = False) -> Tensor:
    """Position-wise ops on values with features last (..., F)."""
    shape = z.shape
    out = z.reshape(-1, shape[-1])  # BatchNorm1d accepts (M, F)
    for module in branch.post:
        if inplace and type(module) is nn.ReLU:
            out = torch.relu_(out)  # saves a full-size allocation on the hot path
        elif not isinstance(module, (nn.Identity, nn.Dropout)):  # identities in eval mode
            out = module(out)
    return out.reshape(shape)


def _cummax(h: Tensor) -> Tensor:
    """Running maximum along axis 1 (GPU and non-float32 tensors; the CPU uses running_max)."""
    return torch.cummax(h, dim=1).values


class _Cache(NamedTuple):
    z: Tensor  # (n, Lout, F): conv output before the position-wise ops (view into zpad)
    zpad: Tensor  # (n, Lout + 2 (span - 1), F): z with span - 1 zeros on each side
    h: Tensor  # (n, Lout, F): branch output
    prefmax: Tensor  # (n, Lout + 1, F): max of h[:, :j]
    sufmax: Tensor  # (n, Lout + 1, F): max of h[:, j:]
    csum: Tensor  # (n, Lout + 1, F): sum of h[:, :j]
    mean: Tensor  # (n, F)
    w4: Tensor  # (F, 4, K): base columns of the conv weight
    wtaps: Tensor  # (4, K * F): w4 in window-offset order (tap k sits at (K-1-k) * dilation)
    taps: Tensor  # (4, span, F): each base's conv column placed at its window offsets


def _cache(branch: Branch, x: Tensor) -> _Cache:
    z = branch.conv(x).transpose(1, 2)  # (n, Lout, F); the conv applies its own padding
    pad = branch.span - 1
    zpad = nn.functional.pad(z, (0, 0, pad, pad))
    z = zpad[:, pad : zpad.shape[1] - pad]
    h = _post(branch, z)
    n, _, f = h.shape
    neg = h.new_full((n, 1, f), -torch.inf)
    if h.device.type == "cpu" and h.dtype == torch.float32:
        prefmax, sufmax = running_max(h)
    else:
        prefmax = torch.cat([neg, _cummax(h)], dim=1)
        sufmax = torch.cat([_cummax(h.flip(1)).flip(1), neg], dim=1)
    csum = torch.cat([h.new_zeros((n, 1, f)), h.cumsum(dim=1)], dim=1)
    w4 = branch.conv.weight[:, :4].detach()
    flipped = w4.flip(2).permute(1, 2, 0).contiguous()  # (4, K, F), offset order
    taps = h.new_zeros((4, branch.span, f))
    taps[:, :: branch.dilation] = flipped
    return _Cache(
        z, zpad, h, prefmax, sufmax, csum, h.mean(dim=1), w4, flipped.reshape(4, -1), taps
    )


class FastModel:
    """Substitution outputs of one strand of a batch of one-hot sequences x (n, C, L)."""

    def __init__(self, parts: LocalParts, branches: list[Branch], x: Tensor) -> None:
        self.parts, self.branches, self.x = parts, branches, x
        self.caches = [_cache(b, x) for b in branches]
        self.mode = parts.pool.mode
        self.length = x.shape[2]
        # Interior positions: every branch's window lies inside its output.
        lo = max(b.span - 1 - b.pad_left for b in branches)
        hi = min(c.z.shape[1] - b.pad_left for b, c in zip(branches, self.caches, strict=True))
        self.lo, self.hi = max(lo, 0), max(min(hi, self.length), max(lo, 0))
        # The fused numba kernel (CPU only) when every branch's post-ops fit it.
        specs = [
            kernel_spec(b.post, c.z.shape[2]) for b, c in zip(branches, self.caches, strict=True)
        ]
        use_kernel = USE_KERNEL and x.device.type == "cpu" and all(sp is not None for sp in specs)
        self.specs = specs if use_kernel else None

    def reference(self) -> Tensor:
        """Raw outputs of the unmodified inputs, (n, t)."""
        feats = [self.parts.pool(c.h.transpose(1, 2)) for c in self.caches]
        return self.parts.head(torch.cat(feats, dim=1))

    def rows(self, seq: Tensor, pos: Tensor, alt: Tensor) -> Tensor:
        """Raw outputs (R, t) of sequence ``seq[r]`` with base ``alt[r]`` at ``pos[r]``."""
        feats = [
            self._rows_branch(b, c, seq, pos, alt)
            for b, c in zip(self.branches, self.caches, strict=True)
        ]
        return self.parts.head(torch.cat(feats, dim=1))

    def _rows_branch(
        self, branch: Branch, cache: _Cache, seq: Tensor, pos: Tensor, alt: Tensor
    ) -> Tensor:
        n_rows, length = len(seq), cache.z.shape[1]
        d = -self.x[seq, :4, pos]  # (R, 4): one-hot of alt minus the current base channels
        d[torch.arange(n_rows, device=d.device), alt] += 1.0
        dw = torch.einsum("rc,fck->rkf", d, cache.w4)  # (R, K, F)
        start = pos + branch.pad_left - branch.span + 1  # window start (output position)
        j = start[:, None] + torch.arange(branch.span, device=d.device)
        valid = (j >= 0) & (j < length)
        jc = j.clamp(0, length - 1)
        new = cache.z[seq[:, None], jc]  # (R, span, F)
        new[:, :: branch.dilation] += dw.flip(1)  # offset (K-1-k)*dilation gets tap k
        new = _post(branch, new)
        pooled = []
        if self.mode in ("max", "maxmean"):
            lo, hi = start.clamp(0, length), (start + branch.span).clamp(0, length)
            win = new.masked_fill(~valid[:, :, None], -torch.inf).amax(dim=1)
            outside = torch.maximum(cache.prefmax[seq, lo], cache.sufmax[seq, hi])
            pooled.append(torch.maximum(outside, win))
        if self.mode in ("mean", "maxmean"):
            change = ((new - cache.h[seq[:, None], jc]) * valid[:, :, None]).sum(dim=1)
            pooled.append(cache.mean[seq] + change / length)
        return torch.cat(pooled, dim=1)

    def block(self, s0: int, s1: int, p0: int, p1: int) -> Tensor:
        """Raw outputs (s1 - s0, 4, p1 - p0, t) for every base at positions p0..p1-1."""
        feats = [
            self._block_branch(b, c, s0, s1, p0, p1)
            for b, c in zip(self.branches, self.caches, strict=True)
        ]
        f = torch.cat(feats, dim=-1)  # (nb, nP, 4, F_total)
        out = self.parts.head(f.reshape(-1, f.shape[-1]))
        return out.reshape(*f.shape[:3], -1).transpose(1, 2)

    def _block_branch(
        self, branch: Branch, cache: _Cache, s0: int, s1: int, p0: int, p1: int
    ) -> Tensor:
        n_pos, nb = p1 - p0, s1 - s0
        span, dil, length = branch.span, branch.dilation, cache.z.shape[1]
        first = p0 + branch.pad_left - span + 1  # window start (output position) of p0
        # (nb, nP, span, F) view of the zero-padded conv output, one window per position.
        windows = cache.zpad[s0:s1].unfold(1, span, 1)[:, first + span - 1 :][:, :n_pos]
        windows = windows.transpose(2, 3)
        # The current bases' contribution, in window-offset order: (nb, nP, K, F).
        x_cur = self.x[s0:s1, :4, p0:p1].transpose(1, 2)
        old = (x_cur @ cache.wtaps).reshape(nb, n_pos, -1, cache.w4.shape[0])
        if dil == 1:
            zr = windows - old
        else:
            zr = windows.clone()
            zr[:, :, ::dil] -= old
        new = _post(branch, zr[:, :, None] + cache.taps, inplace=True)  # (nb, nP, 4, span, F)
        starts = first + torch.arange(n_pos, device=new.device)
        lo, hi = starts.clamp(0, length), (starts + span).clamp(0, length)
        valid = None
        if first < 0 or first + n_pos - 1 + span > length:  # windows run past an end
            j = starts[:, None] + torch.arange(span, device=new.device)
            valid = ((j >= 0) & (j < length))[None, :, None, :, None]
        pooled = []
        if self.mode in ("max", "maxmean"):
            outside = torch.maximum(cache.prefmax[s0:s1, lo], cache.sufmax[s0:s1, hi])
            inside = new if valid is None else new.masked_fill(~valid, -torch.inf)
            pooled.append(torch.maximum(inside.amax(dim=3), outside[:, :, None]))
        if self.mode in ("mean", "maxmean"):
            inside = new if valid is None else new.masked_fill(~valid, 0.0)
            old_sum = cache.csum[s0:s1, hi] - cache.csum[s0:s1, lo]  # valid part of the window
            change = inside.sum(dim=3) - old_sum[:, :, None]
            pooled.append(cache.mean[s0:s1, None, None] + change / length)
        return torch.cat(pooled, dim=-1)

    def _kernel_map(self, s0: int, s1: int) -> Tensor:
        """Raw outputs (s1 - s0, 4, L, t) through the fused numba kernel."""
        feats = []
        x4 = self.x[s0:s1, :4].contiguous()
        for branch, cache, spec in zip(self.branches, self.caches, self.specs or (), strict=True):
            scale, shift = spec[0], spec[1]
            feats.append(
                pooled_block(
                    (cache.zpad[s0:s1] * scale + shift).contiguous(),
                    x4,
                    (cache.taps * scale).contiguous(),
                    branch.pad_left - branch.span + 1,
                    cache.z.shape[1],
                    spec,
                    cache.prefmax[s0:s1].contiguous(),
                    cache.sufmax[s0:s1].contiguous(),
                    cache.csum[s0:s1].contiguous(),
                    cache.mean[s0:s1].contiguous(),
                    self.mode,
                )
            )
        f = torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0]  # (nb, L, 4, F_total)
        out = self.parts.head(f.reshape(-1, f.shape[-1]))
        return out.reshape(*f.shape[:3], -1).transpose(1, 2)

    def row_elements(self) -> int:
        """Elements of the largest row intermediate per mutant, to size chunks."""
        return max(b.span * c.z.shape[2] for b, c in zip(self.branches, self.caches, strict=True))

    def block_elements(self) -> int:
        """Elements of the largest block intermediate per sequence, to size chunks."""
        return max(
            4 * self.length * b.span * c.z.shape[2]
            for b, c in zip(self.branches, self.caches, strict=True)
        )

    def full_map(self, *, budget: int, step: int | None, progress: Callable[[int], None]) -> Tensor:
        """Raw outputs (n, 4, L, t) with each base at each position (all four bases).

        ``step`` sequences at a time (default: as many as fit ``budget`` float32 elements).
        """
        n, length = self.x.shape[0], self.length
        out = self.x.new_empty((n, 4, length, self.reference().shape[1]))
        # Interior positions in one block; the few whose windows run past an end in two
        # small masked blocks (so the big one needs no mask).
        ranges = [(0, self.lo), (self.lo, self.hi), (self.hi, length)]
        ranges = [(a, b) for a, b in ranges if b > a]
        if self.specs is not None:
            width = sum(c.z.shape[2] for c in self.caches)
            step = step or max(1, budget // (8 * length * width))
            for s0 in range(0, n, step):
                s1 = min(n, s0 + step)
                out[s0:s1] = self._kernel_map(s0, s1)
                progress(s1 - s0)
            return out
        step = step or max(1, budget // max(self.block_elements(), 1))
        for s0 in range(0, n, step):
            s1 = min(n, s0 + step)
            for p0, p1 in ranges:
                out[s0:s1, :, p0:p1] = self.block(s0, s1, p0, p1)
            progress(s1 - s0)
        return out


def _apply_post(branch: Branch, z: Tensor, *, inplace: bool = False) -> Tensor:
    """Position-wise ops on values laid out (n, F, positions), as the branch itself runs them."""
    for module in branch.post:
        if inplace and type(module) is nn.ReLU:
            z = torch.relu_(z)  # no full-size allocation on the hot path
        elif not isinstance(module, (nn.Identity, nn.Dropout)):  # identities in eval mode
            z = module(z)
    return z


def single_substitutions(
    parts: LocalParts, branches: list[Branch], x: Tensor, pos: Tensor, alt: Tensor
) -> tuple[Tensor, Tensor]:
    """Raw outputs (n, t) of each sequence and of it with one substitution (``alt[i]`` at
    ``pos[i]``): one convolution pass plus a window update per sequence.

    For one substitution per sequence (variant scoring) this beats :class:`FastModel`,
    whose prefix/suffix maxima pay off only when many substitutions share a sequence. Here
    the maximum outside the changed window equals the reference maximum unless the window
    reaches it; only those (sequence, filter) rows are reduced again, window masked.
    """
    n = x.shape[0]
    rows = torch.arange(n, device=x.device)
    d = -x[rows, :4, pos]  # (n, 4): one-hot of alt minus the current base channels
    d[rows, alt] += 1.0
    ref_feats, alt_feats = [], []
    mode = parts.pool.mode
    for branch in branches:
        z = branch.conv(x)  # (n, F, Lout)
        f, length = z.shape[1], z.shape[2]
        start = pos + branch.pad_left - branch.span + 1  # first output position the base reaches
        j = start[:, None] + torch.arange(branch.span, device=x.device)  # (n, span)
        valid = (j >= 0) & (j < length)
        # Out-of-range window slots point at the first in-range one (always in the window).
        j = torch.where(valid, j, start.clamp(0, length - 1)[:, None])
        idx = j[:, None, :].expand(-1, f, -1)
        window = z.gather(2, idx)  # (n, F, span), before the position-wise ops
        h = _apply_post(branch, z, inplace=True)
        h_window = h.gather(2, idx)
        dw = torch.einsum("nc,fck->nfk", d, branch.conv.weight[:, :4])  # (n, F, K)
        window[:, :, :: branch.dilation] += dw.flip(2)  # tap k sits at offset (K-1-k)*dilation
        hw = _apply_post(branch, window, inplace=True)
        ref_pooled, alt_pooled = [], []
        if mode in ("max", "maxmean"):
            ref_max = h.amax(dim=2)
            outside = ref_max.clone()
            # (sequence, filter) rows whose maximum is (also) reached inside the window
            hit = h_window.masked_fill(~valid[:, None, :], -torch.inf).amax(dim=2) >= ref_max
            if bool(hit.any()):
                sel_n, sel_f = hit.nonzero(as_tuple=True)
                again = h[sel_n, sel_f]  # (k, Lout) copies
                again.scatter_(1, j[sel_n], -torch.inf)
                outside[sel_n, sel_f] = again.amax(dim=1)
            win = hw.masked_fill(~valid[:, None, :], -torch.inf).amax(dim=2)
            ref_pooled.append(ref_max)
            alt_pooled.append(torch.maximum(outside, win))
        if mode in ("mean", "maxmean"):
            mean = h.mean(dim=2)
            change = ((hw - h_window) * valid[:, None, :]).sum(dim=2)
            ref_pooled.append(mean)
            alt_pooled.append(mean + change / length)
        ref_feats.append(torch.cat(ref_pooled, dim=1))
        alt_feats.append(torch.cat(alt_pooled, dim=1))
    head = parts.head
    return head(torch.cat(ref_feats, dim=1)), head(torch.cat(alt_feats, dim=1))


# --------------------------------------------------------------------------- entry points
# What cislearn.interpret.ism calls: the model's plan, both strands, memory-bounded chunks.

#: Budget of float32 elements for the largest intermediate of one chunk (~64 MB).
ELEMENT_BUDGET = 1 << 24
#: Sequences per pass of the one-substitution-per-sequence fast path (CPU): the activations of
#: such a batch of a CNN1-sized model stay within the caches.
SINGLE_BATCH = 128


def available(model: nn.Module) -> bool:
    """True when the fast path is switched on and ``model`` (or the model inside an RCAverage)
    is of the form it covers."""
    return enabled() and fast_plan(model) is not None


def _plan(model: nn.Module) -> tuple[LocalParts, list[Branch]]:
    plan = fast_plan(model)
    if plan is None:  # callers check available() first
        raise ValueError(f"{type(model).__name__} has no fast plan")
    return plan


def _strands(model: nn.Module, x: Tensor, rc_average: bool) -> list[FastModel]:
    """Fast engines for the forward strand and, when averaging, the reverse complement."""
    parts, branches = _plan(model)
    strands = [FastModel(parts, branches, x)]
    if rc_average or isinstance(model, RCAverage):
        strands.append(FastModel(parts, branches, reverse_complement_batch(x)))
    return strands


def _chunked(
    fn: Callable[[Tensor, Tensor, Tensor], Tensor],
    seq: Tensor,
    pos: Tensor,
    alt: Tensor,
    batch_size: int,
) -> Tensor:
    return torch.cat(
        [
            fn(seq[s : s + batch_size], pos[s : s + batch_size], alt[s : s + batch_size])
            for s in range(0, len(seq), batch_size)
        ]
    )


def substitutions(
    model: nn.Module,
    x: Tensor,
    seq: Tensor,
    pos: Tensor,
    alt: Tensor,
    *,
    rc_average: bool,
    batch_size: int | None,
) -> tuple[Tensor, Tensor]:
    """Raw outputs of the inputs and of substituted copies, on the model's device.

    Parameters
    ----------
    model : nn.Module
        A model :func:`available` accepts, in eval mode.
    x : Tensor of shape (n, C, L)
        One-hot inputs.
    seq, pos, alt : Tensor of shape (R,), long
        Row r is sequence ``x[seq[r]]`` with base ``alt[r]`` (0..3) at ``pos[r]``.
    rc_average : bool
        Average over both strands (as an RCAverage model does anyway).
    batch_size : int, optional
        Rows evaluated at once.

    Returns
    -------
    tuple of Tensor
        Reference outputs (n, t) and row outputs (R, t).
    """
    if len(seq) == len(x) and bool((seq == torch.arange(len(x), device=seq.device)).all()):
        return _single(model, x, pos, alt, rc_average=rc_average, batch_size=batch_size)
    strands = _strands(model, x, rc_average)
    bs = batch_size or max(1, ELEMENT_BUDGET // (4 * strands[0].row_elements()))
    length = x.shape[2]
    ref = sum(fm.reference() for fm in strands) / len(strands)
    moved = [(pos, alt), (length - 1 - pos, 3 - alt)]  # the RC strand: mirrored, complemented
    outs = [_chunked(fm.rows, seq, p, a, bs) for fm, (p, a) in zip(strands, moved, strict=False)]
    return ref, sum(outs) / len(outs)  # type: ignore[return-value]


def _single(
    model: nn.Module,
    x: Tensor,
    pos: Tensor,
    alt: Tensor,
    *,
    rc_average: bool,
    batch_size: int | None,
) -> tuple[Tensor, Tensor]:
    """(reference, substituted) outputs (n, t): one substitution per sequence."""
    parts, branches = _plan(model)
    both = rc_average or isinstance(model, RCAverage)
    bs = batch_size or (SINGLE_BATCH if x.device.type == "cpu" else 4096)
    refs, outs = [], []
    length = x.shape[2]
    for s in range(0, len(x), bs):
        xb, pb, ab = x[s : s + bs], pos[s : s + bs], alt[s : s + bs]
        ref, out = single_substitutions(parts, branches, xb, pb, ab)
        if both:  # the RC strand: the base sits mirrored and complemented
            ref_rc, out_rc = single_substitutions(
                parts, branches, reverse_complement_batch(xb), length - 1 - pb, 3 - ab
            )
            ref, out = 0.5 * (ref + ref_rc), 0.5 * (out + out_rc)
        refs.append(ref)
        outs.append(out)
    return torch.cat(refs), torch.cat(outs)


def mutation_map(
    model: nn.Module,
    x: Tensor,
    *,
    rc_average: bool,
    batch_size: int | None,
    progress: Callable[[int], None],
) -> tuple[Tensor, Tensor]:
    """Raw outputs for every base at every position.

    Parameters
    ----------
    model : nn.Module
        A model :func:`available` accepts, in eval mode.
    x : Tensor of shape (n, C, L)
        One-hot inputs, at most :func:`sequence_chunk` of them for bounded memory.
    rc_average : bool
    batch_size : int, optional
        Mutated sequences evaluated at once.
    progress : callable
        Called with the number of sequences just finished.

    Returns
    -------
    tuple of Tensor
        Reference outputs (n, t) and the map (n, 4, L, t).
    """
    strands = _strands(model, x, rc_average)
    # The torch block path's intermediates are memory-bound; smaller blocks stay in cache.
    budget = ELEMENT_BUDGET // 4 if x.device.type == "cpu" else ELEMENT_BUDGET
    step = max(1, batch_size // (3 * x.shape[2])) if batch_size else None
    ref = sum(fm.reference() for fm in strands) / len(strands)
    maps = [
        fm.full_map(budget=budget, step=step, progress=progress if i == 0 else _ignore)
        for i, fm in enumerate(strands)
    ]
    if len(maps) == 2:  # base b at i on the RC strand is base 3-b at L-1-i on this one
        maps = [maps[0], maps[1].flip(1).flip(2)]
    return ref, sum(maps) / len(maps)  # type: ignore[return-value]


def _ignore(_n: int) -> None:
    return None


def sequence_chunk(model: nn.Module, length: int) -> int:
    """Sequences :func:`mutation_map` should get at once: it caches ~6 (n, L, filters)
    float32 arrays per strand."""
    _, branches = _plan(model)
    width = sum(b.conv.out_channels for b in branches)
    return max(1, ELEMENT_BUDGET // (8 * length * width))

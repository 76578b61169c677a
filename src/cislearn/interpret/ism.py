"""In-silico mutagenesis: single substitutions and full mutation maps, fast and exact for conv nets.

A one-base substitution changes a first-layer convolution's output only within the kernel span,
by a rank-1 amount (the weight column of the new base minus that of the old one). For models
that expose :meth:`~cislearn.models.layers.SequenceModel.local_parts` (conv branches →
position-wise ops → global pool → head) the *fast* path recomputes the position-wise ops on that
window only and updates the global pool from prefix/suffix maxima and the sequence sums; the
head then runs once per mutant on pooled features. Other models (recurrent, attention, deep
towers) take the *naive* path: every mutated sequence through the whole model, batched. Both
give the same numbers (to float32 rounding); tests check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from cislearn import fastpath
from cislearn.device import ModelSession
from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.fastpath import codeconv, mutagenesis
from cislearn.interpret.session import as_input
from cislearn.losses import output_activation
from cislearn.models.layers import RCAverage, reverse_complement_batch
from cislearn.types import Progress, no_progress

__all__ = [
    "METHODS",
    "SubstitutionResult",
    "MutationMap",
    "MapEffects",
    "substitution_logits",
    "saturation_mutagenesis",
    "map_effects",
    "delta_score",
    "fast_path_available",
]

#: Allowed values of ``method``.
METHODS: tuple[str, ...] = ("auto", "fast", "naive")
BASES = "ACGT"

# Budget of float32 elements for the largest intermediate of one chunk (~64 MB).
_ELEMENT_BUDGET = 1 << 24


class SubstitutionResult(NamedTuple):
    """Raw outputs before and after one substitution per sequence."""

    ref: np.ndarray
    """float32 (n, n_outputs): raw outputs (logits) of the unmodified inputs."""
    alt: np.ndarray
    """float32 (n, n_outputs): raw outputs with the one substitution applied."""


class MutationMap(NamedTuple):
    """Raw outputs for every base at every position (a saturation mutagenesis map)."""

    ref_logits: np.ndarray
    """float32 (n, n_outputs): raw outputs of the unmodified inputs."""
    logits: np.ndarray
    """float32 (n, 4, L, n_outputs): output with base b (A, C, G, T) at position i; at the
    reference base it is the reference output."""
    method: str
    """"fast" or "naive": the path that computed it."""


class MapEffects(NamedTuple):
    """Effects of every substitution derived from a :class:`MutationMap` for one task."""

    delta_logit: np.ndarray
    """float32 (n, 4, L, n_outputs): logit(alt) − logit(ref); 0 at the reference base."""
    prob: np.ndarray
    """float32 (n, 4, L, n_outputs): activated output with the substitution."""
    ref_prob: np.ndarray
    """float32 (n, n_outputs): activated output of the unmodified input."""
    delta_prob: np.ndarray
    """float32 (n, 4, L, n_outputs): prob(alt) − prob(ref)."""
    delta_score: np.ndarray
    """float32 (n, 4, L, n_outputs): (p_alt − p_ref) · max(p_alt, p_ref)."""


# --------------------------------------------------------------------------- helpers


def fast_path_available(model: nn.Module) -> bool:
    """True when ``model`` (or the model inside an RCAverage) supports the fast exact path and
    the fast path is switched on (:func:`cislearn.fastpath.enabled`)."""
    return mutagenesis.available(model)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(f"method: unknown value {method!r}; allowed: {', '.join(METHODS)}")


# --------------------------------------------------------------------------- naive path


def _naive_rows(
    forward: Callable[[Tensor], Tensor],
    x: Tensor,
    seq: Tensor,
    pos: Tensor,
    alt: Tensor,
    *,
    batch_size: int,
    progress: Callable[[int], None],
) -> Tensor:
    """Raw outputs of ``x[seq]`` with base ``alt`` at ``pos``, one full forward pass per row."""
    out = []
    for start in range(0, len(seq), batch_size):
        s, p, a = (t[start : start + batch_size] for t in (seq, pos, alt))
        xm = x[s].clone()
        rows = torch.arange(len(s), device=x.device)
        xm[rows, :4, p] = 0.0
        xm[rows, a, p] = 1.0
        out.append(forward(xm))
        progress(len(s))
    return torch.cat(out) if out else x.new_zeros((0, 0))


# --------------------------------------------------------------------------- engine


def _resolve(model: nn.Module, method: str) -> str:
    _check_method(method)
    available = fast_path_available(model)
    if method == "fast" and not available and fastpath.enabled():
        raise InputError(
            f"method='fast': {type(getattr(model, 'model', model)).__name__} does not expose "
            "conv branches → global pool → head (local_parts() is None or not position-wise); use "
            "method='auto' or 'naive'"
        )
    if method == "naive" or not available:
        return "naive"
    return "fast"


def _additive_parts(model: nn.Module, method: str) -> Any:
    """A model that is a sum of parts (``additive_parts()``, e.g. ``wide-deep``): its
    (member, scale) list and the strand-symmetric rest, scored part by part so that each
    member takes its own path (the fast one where it has it); None otherwise or on the
    naive path."""
    if method == "naive" or not fastpath.enabled():
        return None
    inner = model.model if isinstance(model, RCAverage) else model
    getter = getattr(inner, "additive_parts", None)
    return getter() if callable(getter) else None


def _sum_of_parts(
    model: nn.Module,
    parts: Any,
    rc_average: bool,
    device: str | torch.device | None,
    score: Callable[[nn.Module, bool, str], tuple[np.ndarray, np.ndarray, str]],
) -> tuple[np.ndarray, np.ndarray, str]:
    """(reference outputs, mutated outputs, method) of a sum-of-parts model: the rest (wide
    path + bias, strand-symmetric) naive, plus each member (its own path, both strands when
    asked) times its scale; added in float64. ``method`` names the members' paths."""
    members, rest = parts
    rc = rc_average or isinstance(model, RCAverage)
    with ModelSession(model, device):
        ref, out, _ = score(rest, False, "naive")
        ref, out = ref.astype(np.float64), out.astype(np.float64)
        methods = []
        for member, scale in members:
            r, o, how = score(member, rc, "auto")
            w = scale.float().cpu().numpy().astype(np.float64)
            ref, out = ref + r * w, out + o * w
            methods.append(how)
    return ref.astype(np.float32), out.astype(np.float32), "+".join(dict.fromkeys(methods))


def _naive_forward(model: nn.Module, rc_average: bool) -> Callable[[Tensor], Tensor]:
    """The model, averaged with its reverse-complement outputs when asked."""

    def forward(xb: Tensor) -> Tensor:
        out = model(xb)
        if rc_average:  # an RCAverage model is already symmetric; this keeps it exact anyway
            out = 0.5 * (out + model(reverse_complement_batch(xb)))
        return out

    return forward


def _naive_batch(x: Tensor, batch_size: int | None) -> int:
    return batch_size or max(1, _ELEMENT_BUDGET // (64 * x.shape[1] * x.shape[2]))


def _run_rows(
    model: nn.Module,
    x: Tensor,
    seq: Tensor,
    pos: Tensor,
    alt: Tensor,
    *,
    rc_average: bool,
    method: str,
    batch_size: int | None,
) -> tuple[Tensor, Tensor]:
    """(reference outputs (n, t), outputs of each row (R, t)) on the model's device."""
    if method == "naive":
        forward = _naive_forward(model, rc_average)
        bs = _naive_batch(x, batch_size)
        return forward(x), _naive_rows(
            forward, x, seq, pos, alt, batch_size=bs, progress=lambda _n: None
        )
    return mutagenesis.substitutions(
        model, x, seq, pos, alt, rc_average=rc_average, batch_size=batch_size
    )


# --------------------------------------------------------------------------- public API


def substitution_logits(
    model: nn.Module,
    x: np.ndarray | Tensor,
    positions: Any,
    alts: Any,
    *,
    rc_average: bool = False,
    batch_size: int | None = None,
    method: str = "auto",
    device: str | torch.device | None = None,
    n_value: float = 0.25,
    starts: np.ndarray | None = None,
) -> SubstitutionResult:
    """Raw outputs of each sequence before and after one base substitution.

    Parameters
    ----------
    model : nn.Module
        Maps (N, C, L) one-hot → (N, n_outputs) raw outputs (a cislearn model, possibly in
        :class:`~cislearn.models.layers.RCAverage`). Its device and train/eval mode are restored.
    x : ndarray or Tensor of shape (n, C, L), float; or integer codes (n, L)
        One-hot inputs, C = 4 (A, C, G, T) + extra tracks; or base codes (A, C, G, T, N =
        0..4, as :func:`cislearn.encode.to_codes` gives), the cheaper input on the CPU, where
        the fast path then runs from the codes (:mod:`cislearn.fastpath.codeconv`).
    positions : array-like of int, shape (n,)
        0-based position of the substitution in each sequence.
    alts : array-like of int, shape (n,)
        New base (0..3 = A, C, G, T): the position's base channels become its one-hot; extra
        tracks are unchanged.
    rc_average : bool
        Average outputs over each sequence and its reverse complement (the substitution then
        sits at L-1-pos with the complementary base on the other strand).
    batch_size : int, optional
        Mutated sequences evaluated at once (default: sized to ~64 MB of intermediates).
    method : {"auto", "fast", "naive"}
        ``auto`` takes the fast exact path when the model allows it, else naive ISM; ``fast``
        raises InputError when it is unavailable.
    device : str or torch.device, optional
        Default: the GPU when present, else the CPU.
    n_value : float
        One-hot value of N the model was trained with (used only for code inputs).
    starts : array of int, shape (n,), optional
        Where each sequence starts on one coordinate line (e.g. a genome's, contigs apart):
        sequences that overlap there hold the same bases where they overlap. With code
        inputs on the fast path, overlapping windows then share their convolution
        (:mod:`cislearn.fastpath.codeconv`; the same results, faster on dense variants).

    Returns
    -------
    SubstitutionResult
        ``ref`` and ``alt``, float32 arrays of shape (n, n_outputs).

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> from cislearn.encode import one_hot
    >>> net = build_model("cnn", length=30, n_outputs=1)
    >>> res = substitution_logits(net, one_hot(["ACGT" * 7 + "AC"]), [5], [3])
    >>> res.alt.shape
    (1, 1)
    """
    codes = x if isinstance(x, np.ndarray) and x.dtype.kind in "iu" else None
    if codes is not None:
        if codes.ndim != 2:
            raise InputError(f"x: expected codes of shape (n, L); got shape {codes.shape}")
        xt = None
        n, length = codes.shape
    else:
        xt = as_input(x)
        n, _, length = xt.shape
    pos = np.asarray(positions)
    alt = np.asarray(alts)
    for name, arr, hi in (("positions", pos, length), ("alts", alt, 4)):
        if arr.shape != (n,) or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise InputError(
                f"{name}: expected {n} integers (one per sequence); got shape {arr.shape} "
                f"dtype {arr.dtype}"
            )
        bad = np.flatnonzero((arr < 0) | (arr >= hi))
        if bad.size:
            raise InputError(
                f"{name}: value {arr[bad[0]]} for sequence {bad[0]} is outside 0..{hi - 1}"
            )
    parts = _additive_parts(model, method)
    if parts is not None and n > 0:
        common = {"batch_size": batch_size, "device": device, "n_value": n_value, "starts": starts}

        def part(module: nn.Module, rc: bool, how: str) -> tuple[np.ndarray, np.ndarray, str]:
            res = substitution_logits(module, x, pos, alt, rc_average=rc, method=how, **common)
            return res.ref, res.alt, how

        ref, out, _ = _sum_of_parts(model, parts, rc_average, device, part)
        return SubstitutionResult(ref, out)
    chosen = _resolve(model, method)
    if n == 0:
        empty = np.zeros((0, int(getattr(model, "n_outputs", 0))), np.float32)
        return SubstitutionResult(empty, empty.copy())
    refs, alts_out = [], []
    step = 4096  # one substitution per sequence: no per-sequence caches, bounded memory
    with ModelSession(model, device) as session, torch.inference_mode():
        dev = session.device
        plan = None
        if codes is not None and chosen == "fast" and dev.type == "cpu":
            plan = codeconv.code_plan(model, n_value=n_value)
        for s0 in range(0, n, step):  # bounded memory for any number of variants
            if plan is not None:
                ref, out = plan.logits(
                    codes[s0 : s0 + step],  # type: ignore[index]
                    pos[s0 : s0 + step],
                    alt[s0 : s0 + step],
                    rc_average=rc_average,
                    starts=None if starts is None else np.asarray(starts)[s0 : s0 + step],
                )
            else:
                xc = (
                    torch.from_numpy(one_hot(codes[s0 : s0 + step], n_value=n_value))
                    if xt is None
                    else xt[s0 : s0 + step]
                ).to(dev)
                ref, out = _run_rows(
                    model,
                    xc,
                    torch.arange(len(xc), device=dev),
                    torch.as_tensor(pos[s0 : s0 + step], dtype=torch.long, device=dev),
                    torch.as_tensor(alt[s0 : s0 + step], dtype=torch.long, device=dev),
                    rc_average=rc_average,
                    method=chosen,
                    batch_size=batch_size,
                )
            refs.append(ref.float().cpu().numpy())
            alts_out.append(out.float().cpu().numpy().reshape(ref.shape))  # type: ignore[union-attr]
    return SubstitutionResult(np.concatenate(refs), np.concatenate(alts_out))


def saturation_mutagenesis(
    model: nn.Module,
    x: np.ndarray | Tensor,
    *,
    rc_average: bool = False,
    batch_size: int | None = None,
    method: str = "auto",
    device: str | torch.device | None = None,
    progress: Progress | None = None,
) -> MutationMap:
    """Raw outputs for every base at every position of each sequence (full mutation map).

    Positions whose base channels are exactly one base keep the reference output at that
    base; other positions (N) get all four bases evaluated.

    Parameters
    ----------
    model : nn.Module
        As in :func:`substitution_logits`; device and mode are restored.
    x : ndarray or Tensor of shape (n, C, L), float
        One-hot inputs (C = 4 + tracks).
    rc_average : bool
        Average outputs over both strands.
    batch_size : int, optional
        Mutated sequences evaluated at once (default: sized to ~64 MB of intermediates).
    method : {"auto", "fast", "naive"}
    device : str or torch.device, optional
    progress : callable, optional
        ``progress("mutagenesis", done, total)`` in input sequences.

    Returns
    -------
    MutationMap
        ``ref_logits`` (n, n_outputs), ``logits`` (n, 4, L, n_outputs), ``method``.

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> from cislearn.encode import one_hot
    >>> net = build_model("cnn", length=30, n_outputs=1)
    >>> saturation_mutagenesis(net, one_hot(["ACGT" * 7 + "AC"])).logits.shape
    (1, 4, 30, 1)
    """
    xt = as_input(x)
    n, _, length = xt.shape
    parts = _additive_parts(model, method)
    if parts is not None and n > 0:
        common = {"batch_size": batch_size, "device": device, "progress": progress}

        def part(module: nn.Module, rc: bool, how: str) -> tuple[np.ndarray, np.ndarray, str]:
            mm = saturation_mutagenesis(module, xt, rc_average=rc, method=how, **common)
            return mm.ref_logits, mm.logits, mm.method

        return MutationMap(*_sum_of_parts(model, parts, rc_average, device, part))
    chosen = _resolve(model, method)
    report = progress or no_progress
    base = xt[:, :4]
    is_ref = (base == 1.0) & (base.sum(dim=1, keepdim=True) == 1.0)  # (n, 4, L)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        report("mutagenesis", done, n)

    with ModelSession(model, device) as session, torch.inference_mode():
        xd = xt.to(session.device)
        if chosen == "fast":
            step = mutagenesis.sequence_chunk(model, length)
            t = int(getattr(model, "n_outputs", 0))
            logits = np.empty((n, 4, length, t), dtype=np.float32)
            refs, maps = [], []
            for s0 in range(0, n, step):
                ref, full = mutagenesis.mutation_map(
                    model,
                    xd[s0 : s0 + step],
                    rc_average=rc_average,
                    batch_size=batch_size,
                    progress=tick,
                )
                refs.append(ref.float().cpu().numpy())
                maps.append(full.float().cpu().numpy())
            ref_np = np.concatenate(refs) if refs else np.zeros((0, t), np.float32)
            logits = np.concatenate(maps) if maps else logits
        else:
            seq_i, alt_i, pos_i = torch.nonzero(~is_ref, as_tuple=True)  # sequence-major
            ends = np.cumsum(np.bincount(seq_i.numpy(), minlength=n))
            rows_done = 0

            def rows_tick(k: int) -> None:  # report whole sequences done
                nonlocal rows_done
                rows_done += k
                tick(int(np.searchsorted(ends, rows_done, side="right")) - done)

            forward = _naive_forward(model, rc_average)
            ref_np = (
                torch.cat([forward(xd[i : i + 256]) for i in range(0, max(n, 1), 256)])
                .float()
                .cpu()
                .numpy()
            )
            out = _naive_rows(
                forward,
                xd,
                *(t.to(session.device) for t in (seq_i, pos_i, alt_i)),
                batch_size=_naive_batch(xd, batch_size),
                progress=rows_tick,
            )
            logits = np.empty((n, 4, length, ref_np.shape[1]), dtype=np.float32)
            if len(seq_i):
                logits[seq_i.numpy(), alt_i.numpy(), pos_i.numpy()] = out.float().cpu().numpy()
            if done < n:
                tick(n - done)
    ref_mask = is_ref.numpy()
    logits[ref_mask] = np.broadcast_to(ref_np[:, None, None, :], logits.shape)[ref_mask]
    return MutationMap(ref_np, np.ascontiguousarray(logits, dtype=np.float32), chosen)


def delta_score(p_alt: np.ndarray, p_ref: np.ndarray) -> np.ndarray:
    """The Δscore of a substitution, (p_alt − p_ref) · max(p_alt, p_ref) (broadcasting).

    Large only when the change is large *and* one of the two alleles is predicted bound.

    Examples
    --------
    >>> float(delta_score(np.float32(0.9), np.float32(0.1)))
    0.72
    """
    p_alt, p_ref = np.asarray(p_alt, np.float32), np.asarray(p_ref, np.float32)
    return ((p_alt - p_ref) * np.maximum(p_alt, p_ref)).astype(np.float32)


def map_effects(mutation_map: MutationMap, task: str) -> MapEffects:
    """Δlogit, probabilities, Δprob and Δscore of every substitution for a task.

    Parameters
    ----------
    mutation_map : MutationMap
    task : str
        Training task (``binary``, ``multilabel``, ``multiclass``, ``regression``, ``counts``);
        picks the output activation (sigmoid, softmax over outputs, identity, softplus).

    Returns
    -------
    MapEffects
        Arrays of shape (n, 4, L, n_outputs), ``ref_prob`` of shape (n, n_outputs).
    """
    act = output_activation(task)
    ref = mutation_map.ref_logits
    logits = mutation_map.logits
    with torch.no_grad():
        ref_prob = act(torch.from_numpy(np.asarray(ref, np.float32))).numpy()
        prob = act(torch.from_numpy(np.asarray(logits, np.float32))).numpy()
    ref_b = ref[:, None, None, :]
    pref_b = ref_prob[:, None, None, :]
    return MapEffects(
        delta_logit=(logits - ref_b).astype(np.float32),
        prob=prob.astype(np.float32),
        ref_prob=ref_prob.astype(np.float32),
        delta_prob=(prob - pref_b).astype(np.float32),
        delta_score=delta_score(prob, pref_b),
    )

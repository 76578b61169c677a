"""Models of the form conv branches → position-wise ops → global pool → head, made explicit.

:func:`fast_plan` checks a model's :class:`~cislearn.models.layers.LocalParts` for that form
and splits each branch into its first ``nn.Conv1d`` and the position-wise modules after it;
:func:`kernel_spec` folds those modules into (per-filter affine map, activation) for numba
kernels, and :func:`act_value` evaluates the activation inside them. Fast exact mutagenesis
(:mod:`cislearn.fastpath.mutagenesis`) and code-level inference (:mod:`cislearn.fastpath.codeconv`)
share them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import torch
from torch import nn

from cislearn.models.layers import GlobalPool, LocalParts, RCAverage

__all__ = ["ACT_CODES", "POSITIONWISE", "Branch", "act_value", "fast_plan", "kernel_spec"]

# Modules that act on each position independently (eval mode); only these may follow the
# first convolution of a branch for the fast path to be exact.
POSITIONWISE = (
    nn.ReLU,
    nn.ELU,
    nn.LeakyReLU,
    nn.GELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.SiLU,
    nn.Identity,
    nn.Dropout,
    nn.BatchNorm1d,
)


class Branch(NamedTuple):
    """A branch split into its first convolution and the position-wise modules after it."""

    conv: nn.Conv1d
    post: tuple[nn.Module, ...]
    pad_left: int
    span: int  # (K - 1) * dilation + 1: output positions one substitution can change
    dilation: int
    pad_right: int  # zeros the convolution adds after the input (output length L + both - span + 1)


def _branch(module: nn.Module) -> Branch | None:
    children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
    if not children:
        return None
    conv, post = children[0], children[1:]
    if not isinstance(conv, nn.Conv1d) or conv.stride[0] != 1 or conv.groups != 1:
        return None
    if conv.padding_mode != "zeros" or not all(isinstance(m, POSITIONWISE) for m in post):
        return None
    k, dil = conv.kernel_size[0], conv.dilation[0]
    span = dil * (k - 1) + 1
    same_pad = getattr(conv, "same_pad", None)  # cislearn's asymmetric "same" Conv1d
    if same_pad is not None:
        pad_left, pad_right = int(same_pad[0]), int(same_pad[1])
    elif isinstance(conv.padding, str):  # torch's padding="valid" / "same"
        pad_left = 0 if conv.padding == "valid" else (span - 1) // 2
        pad_right = 0 if conv.padding == "valid" else span - 1 - pad_left
    else:
        pad_left = pad_right = int(conv.padding[0])
    return Branch(conv, tuple(post), pad_left, span, dil, pad_right)


def fast_plan(model: nn.Module) -> tuple[LocalParts, list[Branch]] | None:
    """The model's local parts (unwrapping RCAverage) checked for the fast path, or None."""
    inner = model.model if isinstance(model, RCAverage) else model
    getter = getattr(inner, "local_parts", None)
    parts = getter() if callable(getter) else None
    if parts is None or not isinstance(parts.pool, GlobalPool):
        return None
    branches = [_branch(b) for b in parts.branches]
    if not branches or any(b is None for b in branches):
        return None
    return parts, branches  # type: ignore[return-value]


#: Activation → (code, parameter 1, parameter 2) understood by the kernel.
ACT_CODES = {
    nn.Identity: 0,
    nn.ReLU: 1,
    nn.ELU: 2,
    nn.LeakyReLU: 3,
    nn.GELU: 4,
    nn.Tanh: 6,
    nn.Sigmoid: 7,
    nn.Softplus: 8,
    nn.SiLU: 9,
}


def kernel_spec(post: tuple[nn.Module, ...], n_filters: int) -> tuple | None:
    """(scale (F,), shift (F,), act code, p1, p2) for ``[BN] [act] [Dropout]``, or None."""
    mods = [m for m in post if not isinstance(m, (nn.Dropout, nn.Identity))]
    scale = torch.ones(n_filters)
    shift = torch.zeros(n_filters)
    if mods and isinstance(mods[0], nn.BatchNorm1d):
        bn = mods.pop(0)
        if bn.running_mean is None or bn.running_var is None:
            return None
        inv = 1.0 / torch.sqrt(bn.running_var.detach().double() + bn.eps)
        g = bn.weight.detach().double() if bn.weight is not None else 1.0
        b = bn.bias.detach().double() if bn.bias is not None else 0.0
        scale = (inv * g).float()
        shift = (b - bn.running_mean.detach().double() * inv * g).float()
    if len(mods) > 1:
        return None
    code, p1, p2 = 0, 0.0, 0.0
    if mods:
        act = mods[0]
        if type(act) not in ACT_CODES:
            return None
        code = ACT_CODES[type(act)]
        if isinstance(act, nn.ELU):
            p1 = float(act.alpha)
        elif isinstance(act, nn.LeakyReLU):
            p1 = float(act.negative_slope)
        elif isinstance(act, nn.GELU) and act.approximate == "tanh":
            code = 5
        elif isinstance(act, nn.Softplus):
            p1, p2 = float(act.beta), float(act.threshold)
    return scale.cpu(), shift.cpu(), code, p1, p2


@numba.njit(inline="always")
def max_commutes(code, p1):  # pragma: no cover - compiled by numba
    """Whether activation ``code`` (parameter ``p1``) is non-decreasing, so that the max
    of activations is the activation of the max of pre-activations (identity, ReLU, ELU
    and leaky ReLU with a non-negative parameter, tanh, sigmoid, softplus)."""
    return (code == 0 or code == 1 or code == 2 or code == 3 or code == 6 or code == 7
            or code == 8) and p1 >= 0.0  # fmt: skip


@numba.njit(inline="always", fastmath=False)
def act_value(v, code, p1, p2):  # pragma: no cover - compiled by numba
    if code == 1:
        return v if v > 0.0 else 0.0
    if code == 0:
        return v
    if code == 2:
        return v if v > 0.0 else p1 * math.expm1(v)
    if code == 3:
        return v if v > 0.0 else p1 * v
    if code == 4:
        return 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))
    if code == 5:
        return 0.5 * v * (1.0 + math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
    if code == 6:
        return math.tanh(v)
    if code == 7:
        return 1.0 / (1.0 + math.exp(-v))
    if code == 8:
        return v if v * p1 > p2 else math.log1p(math.exp(v * p1)) / p1
    return v / (1.0 + math.exp(-v))  # 9: SiLU

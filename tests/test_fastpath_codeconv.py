"""Code-level inference (cislearn.fastpath.codeconv) equals the models' own forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_interpret_ism import CASES, Dilated, randomise

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.fastpath.codeconv import _overlap_pays, code_plan
from cislearn.models.registry import build_model

LENGTH = 30
TOL = 1e-5


def _model(arch: str, params: dict) -> torch.nn.Module:
    if arch == "dilated":
        return randomise(Dilated(), seed=4)
    return randomise(build_model(arch, params, length=LENGTH, n_outputs=2), seed=3)


def _forward(model: torch.nn.Module, codes: np.ndarray, n_value: float) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(one_hot(codes, n_value=n_value))).numpy()


@pytest.mark.parametrize("n_value", [0.25, 0.0])
@pytest.mark.parametrize("arch,params", CASES + [("dilated", {})])
def test_reference_and_substitution_equal_the_forward_pass(
    arch: str, params: dict, n_value: float
) -> None:
    model = _model(arch, params)
    plan = code_plan(model, n_value=n_value)
    assert plan is not None
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, (70, LENGTH)).astype(np.uint8)  # N (4) included
    pos = rng.integers(0, LENGTH, 70)
    alt = rng.integers(0, 4, 70)
    mutated = codes.copy()
    mutated[np.arange(70), pos] = alt
    with torch.inference_mode():
        ref, sub = plan.logits(codes, pos, alt)
        only_ref, none = plan.logits(codes)
    assert none is None
    np.testing.assert_allclose(ref.numpy(), _forward(model, codes, n_value), atol=TOL, rtol=0)
    np.testing.assert_allclose(only_ref.numpy(), ref.numpy(), atol=0, rtol=0)
    np.testing.assert_allclose(sub.numpy(), _forward(model, mutated, n_value), atol=TOL, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=LENGTH, max_size=LENGTH),
    st.integers(0, LENGTH - 1),
    st.integers(0, 3),
    st.booleans(),
)
def test_any_sequence_and_substitution(bases: list[int], pos: int, alt: int, rc: bool) -> None:
    model = _MODEL
    codes = np.array([bases], np.uint8)
    mutated = codes.copy()
    mutated[0, pos] = alt
    with torch.inference_mode():
        ref, sub = _PLAN.logits(codes, np.array([pos]), np.array([alt]), rc_average=rc)
    want_ref, want_sub = _forward(model, codes, 0.25), _forward(model, mutated, 0.25)
    if rc:
        rc_of = lambda c: np.where(c < 4, 3 - c, c)[:, ::-1].copy()  # noqa: E731
        want_ref = 0.5 * (want_ref + _forward(model, rc_of(codes), 0.25))
        want_sub = 0.5 * (want_sub + _forward(model, rc_of(mutated), 0.25))
    np.testing.assert_allclose(ref.numpy(), want_ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(sub.numpy(), want_sub, atol=TOL, rtol=0)


_MODEL = _model("cnn", {"filters": 10, "width": 6, "pool": "maxmean", "batch_norm": True})
_PLAN = code_plan(_MODEL)


def test_many_sequences_use_several_threads_same_result() -> None:
    model = _model("cnn-multi", {"filters": 6, "widths": (4, 9), "pool": "max"})
    plan = code_plan(model)
    codes = np.random.default_rng(0).integers(0, 4, (300, LENGTH)).astype(np.uint8)
    with torch.inference_mode():  # pooled features bit for bit (the head's GEMM may round)
        whole, _ = plan._pooled(codes, None, None)
        one_by_one = torch.cat([plan._pooled(codes[i : i + 1], None, None)[0] for i in range(300)])
    np.testing.assert_array_equal(whole.numpy(), one_by_one.numpy())


@pytest.mark.parametrize(
    "arch,params",
    [
        ("cnn-deep", {"filters": (4, 4), "widths": (3, 3), "pool_sizes": (2, 2), "dense": 3}),
        ("lstm", {}),
        ("basset", {}),
    ],
)
def test_models_of_other_forms_get_no_plan(arch: str, params: dict) -> None:
    model = build_model(arch, params, length=60, n_outputs=1).eval()
    assert code_plan(model) is None


def test_training_mode_and_tracks_get_no_plan() -> None:
    model = build_model("cnn", {"filters": 4, "width": 3}, length=LENGTH, n_outputs=1)
    assert code_plan(model.train()) is None  # dropout would differ
    assert code_plan(model.eval()) is not None
    hybrid = build_model("hybrid", length=LENGTH, n_outputs=1, n_tracks=1).eval()
    assert code_plan(hybrid) is None  # extra input channels: not on codes


def test_bad_codes_positions_and_bases_are_one_line_errors() -> None:
    codes = np.zeros((2, LENGTH), np.uint8)
    with torch.inference_mode():
        for args, message in [
            ((np.full((2, LENGTH), 5, np.uint8),), "values must be 0-4"),
            ((np.full((2, LENGTH), 260, np.int64),), "values must be 0-4"),  # not wrapped
            ((codes[0],), "shape"),
            ((codes, np.array([0, LENGTH]), np.array([0, 1])), "pos: values must be"),
            ((codes, np.array([0, 1]), np.array([0, 4])), "alt: values must be 0-3"),
            ((codes, np.array([0, 1]), None), "give both or neither"),
        ]:
            with pytest.raises(InputError, match=message):
                _PLAN.logits(*args)


class DilatedValid(Dilated):
    """Dilated branches without padding and max pooling: the form whose windows can share
    one convolution over a span (``CodePlan.spans_apply``)."""

    def __init__(self) -> None:
        super().__init__()
        from cislearn.models.layers import GlobalPool

        self.b1[0] = torch.nn.Conv1d(4, 5, 4, dilation=3)
        self.b1[2] = torch.nn.ReLU()
        self.pool = GlobalPool("max")
        self.head[0] = torch.nn.Linear(11, 7)


def _genome_windows(
    n: int, seed: int, genome: int = 400
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` windows of two random 'contigs' (with N runs), dense and overlapping, some
    repeated, in shuffled order: codes, starts (contigs 2**40 apart), positions, new bases."""
    rng = np.random.default_rng(seed)
    contigs = rng.integers(0, 4, (2, genome)).astype(np.uint8)
    contigs[0, 50:57] = 4
    contig = rng.integers(0, 2, n)
    start = rng.integers(0, genome - LENGTH + 1, n)
    start[: n // 10] = start[n // 10 : 2 * (n // 10)]  # the same window twice
    codes = contigs[contig[:, None], start[:, None] + np.arange(LENGTH)]
    pos = rng.integers(0, LENGTH, n)
    alt = (np.minimum(codes[np.arange(n), pos], 3) + rng.integers(1, 4, n)) % 4
    return codes, contig * (1 << 40) + start, pos, alt


@pytest.mark.parametrize("rc", [False, True])
@pytest.mark.parametrize("arch,params", CASES + [("dilated-valid", {})])
def test_overlapping_windows_share_the_convolution_same_bits(
    arch: str, params: dict, rc: bool
) -> None:
    """Windows given their starts on the genome give the same bits as one by one: shared
    spans where the model allows (max pooling, no padding), the per-window kernel else."""
    model = randomise(DilatedValid(), seed=5) if arch == "dilated-valid" else _model(arch, params)
    plan = code_plan(model)
    assert plan is not None
    shares = params.get("pool") == "max" and params.get("padding", "valid") == "valid"
    assert plan.spans_apply() == (shares or arch == "dilated-valid")
    codes, starts, pos, alt = _genome_windows(300, seed=len(params))
    assert _overlap_pays(starts, LENGTH)  # dense: the spans are used where they apply
    assert not _overlap_pays(np.arange(300) * LENGTH, LENGTH)  # apart: one by one
    with torch.inference_mode():
        want = plan.logits(codes, pos, alt, rc_average=rc)
        got = plan.logits(codes, pos, alt, rc_average=rc, starts=starts)
    np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    mutated = codes.copy()  # and the model's own forward pass on the mutated windows
    mutated[np.arange(len(codes)), pos] = alt
    forward = _forward(model, mutated, 0.25)
    if rc:
        forward = 0.5 * (forward + _forward(model, (3 - mutated.clip(max=3))[:, ::-1], 0.25))
        forward = None if (mutated == 4).any() else forward  # N stays N on the other strand
    if forward is not None:
        np.testing.assert_allclose(got[1].numpy(), forward, atol=TOL)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=60),
    st.integers(0, LENGTH - 1),
    st.integers(1, 3),
)
def test_any_window_layout_same_bits(starts: list[int], pos: int, shift: int) -> None:
    """Any starts (sorted or not, repeated, touching, apart, past the span cap) on a small
    genome."""
    model = _model("cnn", {"filters": 6, "width": 5, "pool": "max", "activation": "relu"})
    plan = code_plan(model)
    genome = np.random.default_rng(len(starts)).integers(0, 5, 300).astype(np.uint8)
    s = np.asarray(starts, np.int64)
    codes = genome[s[:, None] + np.arange(LENGTH)]
    p = np.full(len(s), pos)
    alt = (np.minimum(codes[:, pos], 3) + shift) % 4
    with torch.inference_mode():
        want = plan.logits(codes, p, alt)
        got = plan.logits(codes, p, alt, starts=s)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())

"""Mutagenesis: the fast path equals naive ISM; substitutions, maps and effects are consistent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from cislearn.encode import one_hot, to_codes
from cislearn.errors import InputError
from cislearn.fastpath import mutagenesis
from cislearn.interpret.ism import (
    delta_score,
    fast_path_available,
    map_effects,
    saturation_mutagenesis,
    substitution_logits,
)
from cislearn.models.layers import GlobalPool, LocalParts, RCAverage, SequenceModel
from cislearn.models.registry import build_model

TOL = 1e-4


def random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Spread weights and batch-norm statistics so that pooling picks varied positions."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 if "weight" in name else 0.2))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


CASES = [
    ("cnn", {"filters": 6, "width": 5, "activation": act, "pool": pool})
    for act, pool in [
        ("elu", "max"),
        ("tanh", "mean"),
        ("sigmoid", "maxmean"),
        ("softplus", "max"),
        ("leaky_relu", "maxmean"),
    ]
] + [
    ("cnn", {"filters": 12, "width": 7, "dense": 5, "pool": "max"}),
    ("cnn", {"filters": 12, "width": 8, "dense": 0, "pool": "mean", "padding": "same"}),
    ("cnn", {"filters": 10, "width": 6, "pool": "maxmean", "batch_norm": True}),
    ("cnn", {"filters": 9, "width": 5, "pool": "max", "padding": "same", "activation": "gelu"}),
    ("cnn", {"filters": 8, "width": 4, "pool": "maxmean", "padding": "same", "batch_norm": True}),
    ("cnn-multi", {"filters": 6, "widths": (3, 8, 11), "dense": 4, "pool": "maxmean"}),
    ("cnn-multi", {"filters": 6, "widths": (4, 9), "pool": "max", "padding": "same"}),
]


@pytest.fixture(params=[True, False], ids=["kernel", "torch"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test with the numba kernel and again with the torch block path."""
    monkeypatch.setattr(mutagenesis, "USE_KERNEL", request.param)
    return request.param


@pytest.mark.parametrize("arch,params", CASES)
def test_fast_map_equals_naive(arch: str, params: dict, kernel: bool) -> None:
    length = 40
    model = randomise(build_model(arch, params, length=length, n_outputs=3), seed=len(params))
    assert fast_path_available(model)
    x = one_hot(random_seqs(3, length, seed=1))
    fast = saturation_mutagenesis(model, x, method="fast", device="cpu")
    naive = saturation_mutagenesis(model, x, method="naive", device="cpu", batch_size=37)
    assert (fast.method, naive.method) == ("fast", "naive")
    assert fast.logits.shape == (3, 4, length, 3)
    np.testing.assert_allclose(fast.ref_logits, naive.ref_logits, atol=TOL)
    assert np.abs(fast.logits - naive.logits).max() <= TOL
    # The map is not trivially constant: substitutions change the outputs.
    assert np.abs(naive.logits - naive.ref_logits[:, None, None]).max() > 1e-2
    with torch.no_grad():
        direct = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(fast.ref_logits, direct, atol=TOL)


def test_map_at_reference_base_is_reference_output() -> None:
    model = randomise(build_model("cnn", {"filters": 8, "width": 5}, length=30, n_outputs=1))
    seqs = random_seqs(2, 30, seed=3)
    mm = saturation_mutagenesis(model, one_hot(seqs), device="cpu")
    for i, s in enumerate(seqs):
        for p, base in enumerate(s):
            assert mm.logits[i, "ACGT".index(base), p, 0] == mm.ref_logits[i, 0]


def test_substitutions_match_map_and_manual_edit() -> None:
    length = 35
    model = randomise(
        build_model(
            "cnn", {"filters": 8, "width": 6, "pool": "maxmean"}, length=length, n_outputs=2
        )
    )
    seqs = random_seqs(6, length, seed=5)
    x = one_hot(seqs)
    rng = np.random.default_rng(0)
    pos = rng.integers(0, length, size=6)
    alt = rng.integers(0, 4, size=6)
    res = substitution_logits(model, x, pos, alt, device="cpu")
    mm = saturation_mutagenesis(model, x, device="cpu")
    np.testing.assert_allclose(res.alt, mm.logits[np.arange(6), alt, pos], atol=TOL)
    edited = [
        "".join("ACGT"[a] if j == p else c for j, c in enumerate(s))
        for s, p, a in zip(seqs, pos, alt, strict=True)
    ]
    with torch.no_grad():
        manual = model(torch.from_numpy(one_hot(edited))).numpy()
    np.testing.assert_allclose(res.alt, manual, atol=TOL)
    np.testing.assert_allclose(res.ref, mm.ref_logits, atol=TOL)
    naive = substitution_logits(model, x, pos, alt, method="naive", device="cpu")
    np.testing.assert_allclose(res.alt, naive.alt, atol=TOL)


def test_edges_n_bases_and_tracks(kernel: bool) -> None:
    """Substitutions at both ends, at N positions, with extra tracks: fast equals naive."""
    length = 25
    model = randomise(
        build_model(
            "cnn",
            {"filters": 7, "width": 9, "padding": "same", "pool": "maxmean"},
            length=length,
            n_outputs=1,
            n_tracks=2,
        )
    )
    x = one_hot(["N" * 3 + s[3:-2] + "NN" for s in random_seqs(2, length, seed=9)])
    tracks = np.random.default_rng(1).normal(size=(2, 2, length)).astype(np.float32)
    x = np.concatenate([x, tracks], axis=1)
    fast = saturation_mutagenesis(model, x, method="fast", device="cpu")
    naive = saturation_mutagenesis(model, x, method="naive", device="cpu")
    assert np.abs(fast.logits - naive.logits).max() <= TOL
    # N positions get all four bases evaluated, none equal to the (ambiguous) reference.
    assert np.all(fast.logits[:, :, 0, 0] != fast.ref_logits[:, None, 0])


class Dilated(SequenceModel):
    """A hand-built model with a dilated first conv and two branches, exposing local parts."""

    arch = "dilated-test"

    def __init__(self) -> None:
        from cislearn.models.cnn import CNNConfig

        super().__init__(CNNConfig(), length=30, n_outputs=2)
        self.b1 = nn.Sequential(
            nn.Conv1d(4, 5, 4, dilation=3, padding=2), nn.BatchNorm1d(5), nn.ELU(), nn.Dropout(0.3)
        )
        self.b2 = nn.Sequential(nn.Conv1d(4, 6, 3), nn.Softplus())
        self.pool = GlobalPool("maxmean")
        self.head = nn.Sequential(nn.Linear(22, 7), nn.Tanh(), nn.Linear(7, 2))

    @classmethod
    def min_length(cls, config: object) -> int:
        return 10

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(torch.cat([self.pool(self.b1(x)), self.pool(self.b2(x))], dim=1))

    def local_parts(self) -> LocalParts:
        return LocalParts((self.b1, self.b2), self.pool, self.head)


def test_dilated_multi_branch_model(kernel: bool) -> None:
    model = randomise(Dilated(), seed=4)
    x = one_hot(random_seqs(3, 30, seed=2))
    fast = saturation_mutagenesis(model, x, method="fast", device="cpu")
    naive = saturation_mutagenesis(model, x, method="naive", device="cpu")
    assert np.abs(fast.logits - naive.logits).max() <= TOL


@pytest.mark.parametrize("wrapped", [False, True])
def test_rc_average(wrapped: bool, kernel: bool) -> None:
    params = {"filters": 8, "width": 5, "pool": "maxmean", "rc_average": wrapped}
    model = randomise(build_model("cnn", params, length=30, n_outputs=1), seed=2)
    assert isinstance(model, RCAverage) == wrapped
    x = one_hot(random_seqs(2, 30, seed=4))
    fast = saturation_mutagenesis(model, x, rc_average=not wrapped, device="cpu")
    naive = saturation_mutagenesis(model, x, rc_average=not wrapped, method="naive", device="cpu")
    assert fast.method == "fast"
    assert np.abs(fast.logits - naive.logits).max() <= TOL
    # Strand symmetry: the map of the reverse complement is the flipped, complemented map.
    xr = x[:, ::-1, ::-1].copy()
    rev = saturation_mutagenesis(model, xr, rc_average=not wrapped, device="cpu")
    np.testing.assert_allclose(rev.logits, fast.logits[:, ::-1, ::-1], atol=TOL)


def test_auto_falls_back_to_naive_for_recurrent_models() -> None:
    model = build_model("lstm", length=20, n_outputs=1).eval()
    assert not fast_path_available(model)
    x = one_hot(random_seqs(1, 20))
    assert saturation_mutagenesis(model, x, device="cpu").method == "naive"
    with pytest.raises(InputError, match="method='fast'"):
        saturation_mutagenesis(model, x, method="fast", device="cpu")


def test_model_mode_restored_and_batch_size_invariant() -> None:
    model = build_model("cnn", {"filters": 6, "width": 5, "dropout": 0.5}, length=20, n_outputs=1)
    model.train()
    x = one_hot(random_seqs(2, 20, seed=8))
    a = saturation_mutagenesis(model, x, batch_size=7, device="cpu")
    b = saturation_mutagenesis(model, x, batch_size=1000, device="cpu")
    assert model.training
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-6)


def test_progress_counts_mutants() -> None:
    model = build_model("cnn", {"filters": 6, "width": 5}, length=20, n_outputs=1)
    calls: list[tuple[str, int, int | None]] = []
    saturation_mutagenesis(
        model,
        one_hot(random_seqs(2, 20)),
        batch_size=50,
        device="cpu",
        progress=lambda s, d, t: calls.append((s, d, t)),
    )
    assert calls[-1] == ("mutagenesis", 2, 2)


def test_bad_inputs() -> None:
    model = build_model("cnn", {"filters": 6, "width": 5}, length=20, n_outputs=1)
    x = one_hot(random_seqs(2, 20))
    with pytest.raises(InputError, match="positions"):
        substitution_logits(model, x, [0, 20], [1, 1], device="cpu")
    with pytest.raises(InputError, match="alts"):
        substitution_logits(model, x, [0, 1], [1, 4], device="cpu")
    with pytest.raises(InputError, match="positions"):
        substitution_logits(model, x, [0], [1], device="cpu")
    with pytest.raises(InputError, match="method"):
        saturation_mutagenesis(model, x, method="quick", device="cpu")
    with pytest.raises(InputError, match="shape"):
        saturation_mutagenesis(model, x[0], device="cpu")


def test_map_effects_binary() -> None:
    model = randomise(build_model("cnn", {"filters": 6, "width": 5}, length=20, n_outputs=1))
    mm = saturation_mutagenesis(model, one_hot(random_seqs(2, 20)), device="cpu")
    eff = map_effects(mm, "binary")
    p_ref = 1 / (1 + np.exp(-mm.ref_logits))
    p = 1 / (1 + np.exp(-mm.logits))
    np.testing.assert_allclose(eff.ref_prob, p_ref, rtol=1e-5)
    np.testing.assert_allclose(eff.delta_prob, p - p_ref[:, None, None], atol=1e-6)
    np.testing.assert_allclose(eff.delta_logit, mm.logits - mm.ref_logits[:, None, None], atol=1e-6)
    expected = (p - p_ref[:, None, None]) * np.maximum(p, p_ref[:, None, None])
    np.testing.assert_allclose(eff.delta_score, expected, atol=1e-6)
    assert np.all(np.sign(eff.delta_score) == np.sign(eff.delta_prob))


def test_delta_score_values() -> None:
    assert delta_score(np.float32(0.9), np.float32(0.1)) == pytest.approx(0.72)
    assert delta_score(np.float32(0.1), np.float32(0.9)) == pytest.approx(-0.72)
    assert delta_score(np.float32(0.5), np.float32(0.5)) == 0


def test_small_memory_budget_chunks_sequences_same_results(monkeypatch) -> None:
    model = randomise(
        build_model("cnn", {"filters": 8, "width": 5, "pool": "maxmean"}, length=30, n_outputs=1)
    )
    x = one_hot(random_seqs(5, 30, seed=11))
    pos, alt = np.arange(5) * 3, np.arange(5) % 4
    whole = saturation_mutagenesis(model, x, device="cpu")
    subs = substitution_logits(model, x, pos, alt, device="cpu")
    monkeypatch.setattr(mutagenesis, "ELEMENT_BUDGET", 1000)  # one sequence per chunk
    assert mutagenesis.sequence_chunk(model, 30) == 1
    np.testing.assert_allclose(
        saturation_mutagenesis(model, x, device="cpu").logits, whole.logits, atol=1e-6
    )
    np.testing.assert_allclose(
        substitution_logits(model, x, pos, alt, device="cpu").alt, subs.alt, atol=1e-6
    )


def test_empty_input() -> None:
    model = build_model("cnn", {"filters": 4, "width": 5}, length=20, n_outputs=2)
    x = np.zeros((0, 4, 20), np.float32)
    res = substitution_logits(model, x, np.zeros(0, int), np.zeros(0, int), device="cpu")
    assert res.ref.shape == res.alt.shape == (0, 2)
    for method in ("fast", "naive"):
        assert saturation_mutagenesis(model, x, method=method, device="cpu").logits.shape == (
            0,
            4,
            20,
            2,
        )


@pytest.mark.parametrize("codes", [False, True], ids=["one-hot", "codes"])
@pytest.mark.parametrize("rc", [False, True])
@pytest.mark.parametrize("arch,params", CASES + [("dilated", {})])
def test_one_substitution_per_sequence_equals_naive(
    arch: str, params: dict, rc: bool, codes: bool
) -> None:
    """substitution_logits' own fast path (variant scoring): every position incl. the edges.

    Base codes take the code kernel (cislearn.fastpath.codeconv), one-hot inputs the torch path.
    """
    length = 30
    if arch == "dilated":
        model = randomise(Dilated(), seed=4)
    else:
        model = randomise(build_model(arch, params, length=length, n_outputs=2), seed=3)
    seqs = random_seqs(4 * length, length, seed=8)
    seqs[5] = seqs[5][:10] + "NN" + seqs[5][12:]  # an N base at and beside the substitution
    x = one_hot(seqs)
    pos = np.arange(4 * length) % length  # every position, each base
    alt = np.arange(4 * length) // length
    pos[5], alt[5] = 10, 2
    x_in = to_codes(seqs) if codes else x
    fast = substitution_logits(model, x_in, pos, alt, rc_average=rc, method="fast", device="cpu")
    naive = substitution_logits(model, x, pos, alt, rc_average=rc, method="naive", device="cpu")
    assert np.abs(fast.alt - naive.alt).max() <= TOL
    assert np.abs(fast.ref - naive.ref).max() <= TOL
    assert np.abs(fast.alt - fast.ref).max() > 1e-3  # the substitutions change the outputs


def test_running_max_matches_torch_cummax() -> None:
    from cislearn.fastpath.ismkernel import running_max

    h = torch.randn(3, 17, 5)
    pre, suf = running_max(h)
    assert pre.shape == suf.shape == (3, 18, 5)
    assert torch.equal(pre[:, 1:], torch.cummax(h, dim=1).values)
    assert torch.equal(suf[:, :-1], torch.cummax(h.flip(1), dim=1).values.flip(1))
    assert torch.isneginf(pre[:, 0]).all() and torch.isneginf(suf[:, -1]).all()

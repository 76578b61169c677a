"""Attributions: definitions checked against autograd and completeness, options, top positions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.interpret.attribution import (
    ATTRIBUTION_METHODS,
    attribute,
    position_scores,
    top_positions,
)
from cislearn.models.registry import build_model


def seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        "cnn", {"filters": 8, "width": 5, "pool": "mean", "dense": 4}, length=40, n_outputs=2
    ).eval()


def test_saliency_is_the_input_gradient(model) -> None:
    x = one_hot(seqs(4, 40))
    got = attribute(model, x, method="saliency", target=1, device="cpu")
    xt = torch.from_numpy(x).requires_grad_(True)
    model(xt)[:, 1].sum().backward()
    np.testing.assert_allclose(got, xt.grad.numpy(), atol=1e-6)
    gxi = attribute(model, x, method="grad-x-input", target=1, device="cpu")
    np.testing.assert_allclose(gxi, got * x, atol=1e-6)


def test_probability_saliency_is_chain_rule(model) -> None:
    x = one_hot(seqs(3, 40, seed=1))
    logit = attribute(model, x, output="logit", device="cpu")
    prob = attribute(model, x, output="prob", task="binary", device="cpu")
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(x))[:, 0]).numpy()
    np.testing.assert_allclose(prob, logit * (p * (1 - p))[:, None, None], rtol=1e-4, atol=1e-7)


def test_integrated_gradients_completeness(model) -> None:
    x = one_hot(seqs(3, 40, seed=2))
    attr = attribute(model, x, method="integrated-gradients", n_steps=64, device="cpu")
    base = x.copy()
    base[:, :4] = 0.25
    with torch.no_grad():
        diff = (model(torch.from_numpy(x)) - model(torch.from_numpy(base)))[:, 0].numpy()
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), diff, atol=2e-3 + 0.02 * np.abs(diff).max())


def test_occlusion_window_one_is_output_drop(model) -> None:
    x = one_hot(seqs(2, 40, seed=3))
    attr = attribute(model, x, method="occlusion", window=1, device="cpu")
    xm = x[:1].copy()
    xm[0, :4, 7] = 0.25
    with torch.no_grad():
        drop = (model(torch.from_numpy(x[:1])) - model(torch.from_numpy(xm)))[0, 0].item()
    # captum spreads the drop over the occluded cells (4 channels x 1 position).
    assert attr[0, :, 7].sum() == pytest.approx(4 * drop, rel=1e-4, abs=1e-6)


def test_deeplift_shap_shape_and_tracks_refused(model) -> None:
    x = one_hot(seqs(2, 40, seed=4))
    attr = attribute(model, x, method="deeplift-shap", n_shuffles=4, device="cpu")
    assert attr.shape == x.shape and np.isfinite(attr).all() and np.abs(attr).sum() > 0
    tracked = build_model("cnn", {"filters": 4, "width": 5}, length=40, n_outputs=1, n_tracks=1)
    xt = np.concatenate([x, np.zeros((2, 1, 40), np.float32)], axis=1)
    with pytest.raises(InputError, match="4 base channels"):
        attribute(tracked, xt, method="deeplift-shap", device="cpu")


@pytest.mark.parametrize("method", ATTRIBUTION_METHODS)
def test_batch_size_invariant_and_mode_restored(model, method: str) -> None:
    x = one_hot(seqs(5, 40, seed=5))
    model.train()
    try:
        kw = {"method": method, "device": "cpu", "n_shuffles": 3, "n_steps": 8, "seed": 1}
        a = attribute(model, x, batch_size=2, **kw)
        b = attribute(model, x, batch_size=5, **kw)
        assert model.training
    finally:
        model.eval()
    tol = 1e-2 if method == "deeplift-shap" else 1e-5  # references are drawn per batch
    if method != "deeplift-shap":
        np.testing.assert_allclose(a, b, atol=tol)
    assert a.shape == (5, 4, 40) and a.dtype == np.float32


def test_bad_options(model) -> None:
    x = one_hot(seqs(1, 40))
    with pytest.raises(InputError, match="method"):
        attribute(model, x, method="lime")
    with pytest.raises(InputError, match="output"):
        attribute(model, x, output="score")
    with pytest.raises(InputError, match="shape"):
        attribute(model, x[0])


def test_top_positions() -> None:
    x = one_hot(["ACGTN"])
    attr = np.zeros((1, 4, 5), np.float32)
    attr[0, 2, 2] = -3.0  # G at 2: strongest (absolute)
    attr[0, 3, 3] = 1.0
    attr[0, 0, 3] = 9.0  # not the observed base at 3: ignored
    assert position_scores(attr, x).tolist() == [[0, 0, -3, 1, 0]]
    table = top_positions(attr, x, ["s1"], k=3)
    assert table[["rank", "pos", "base", "score"]].values.tolist()[:2] == [
        [1, 2, "G", -3.0],
        [2, 3, "T", 1.0],
    ]
    assert table.loc[2, "base"] in "ACN"
    with pytest.raises(InputError, match="ids"):
        top_positions(attr, x, ["a", "b"])


@pytest.mark.parametrize("method", ["saliency", "integrated-gradients", "deeplift-shap"])
def test_a_strand_averaged_model_is_explained_on_both_strands(model, method: str) -> None:
    """A model that predicts the mean of both strands (RCAverage, as the default model's
    bundles predict) gets strand-symmetric attributions: those of rc(x), put back on x's
    strand, are those of x. DeepLIFT/SHAP explains the strands apart and averages them
    (its references are paired with inputs inside a batch)."""
    from cislearn.interpret.contributions import hypothetical_contributions
    from cislearn.interpret.session import strand_mean
    from cislearn.models.layers import RCAverage, reverse_complement_batch

    x = torch.from_numpy(one_hot(seqs(3, 40, seed=4)))
    rc = reverse_complement_batch(x)
    opts = dict(method=method, target=0, device="cpu", n_shuffles=4, seed=1)
    both = RCAverage(model).eval()
    got = attribute(both, x, **opts)
    put_back = reverse_complement_batch(torch.from_numpy(attribute(both, rc, **opts))).numpy()
    np.testing.assert_allclose(put_back, got, atol=1e-5)
    one = attribute(model, x, **opts)  # one strand: not symmetric
    one_rc = reverse_complement_batch(torch.from_numpy(attribute(model, rc, **opts))).numpy()
    assert np.abs(one - one_rc).max() > 1e-3
    if method == "deeplift-shap":
        np.testing.assert_allclose(got, strand_mean(one, attribute(model, rc, **opts)), atol=1e-6)
        kw = dict(method=method, n_shuffles=4, seed=1, device="cpu")
        hyp = hypothetical_contributions(both, x, **kw).hypothetical
        hyp_rc = hypothetical_contributions(both, rc, **kw).hypothetical
        np.testing.assert_allclose(
            reverse_complement_batch(torch.from_numpy(hyp_rc)).numpy(), hyp, atol=1e-5
        )

"""The fast-path switch: one setting sends prediction, mutagenesis and variant scoring down the
naive path, with the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.test_interpret_ism import random_seqs, randomise

from cislearn import fastpath
from cislearn.encode import one_hot, to_codes
from cislearn.fastpath import codeconv
from cislearn.interpret.ism import saturation_mutagenesis, substitution_logits
from cislearn.models.registry import build_model
from cislearn.predict import DeepPredictor

LENGTH = 30


@pytest.fixture
def model() -> torch.nn.Module:
    net = build_model("cnn", {"filters": 6, "width": 5, "dense": 3}, length=LENGTH, n_outputs=2)
    return randomise(net, seed=2)


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the code kernel fail loudly, to see which path a call takes."""

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("code kernel called")

    monkeypatch.setattr(codeconv.CodePlan, "logits", boom)


def test_switch_default_context_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fastpath.ENV_VAR, raising=False)
    assert fastpath.enabled()
    with fastpath.disabled():
        assert not fastpath.enabled()
        with fastpath.disabled():
            assert not fastpath.enabled()
        assert not fastpath.enabled()
    assert fastpath.enabled()
    for off in ("0", "false", "OFF"):
        monkeypatch.setenv(fastpath.ENV_VAR, off)
        assert not fastpath.enabled()
    monkeypatch.setenv(fastpath.ENV_VAR, "1")
    assert fastpath.enabled()
    fastpath.set_enabled(False)
    try:
        assert not fastpath.enabled()
    finally:
        fastpath.set_enabled(None)
    assert fastpath.enabled()


def test_predict_takes_the_naive_path_when_off(model, no_kernel) -> None:
    meta = {"task": "binary", "target_names": ["a", "b"], "length": LENGTH, "n_tracks": 0}
    predictor = DeepPredictor(model, meta, device=torch.device("cpu"))
    seqs = random_seqs(20, LENGTH, seed=3)
    with pytest.raises(RuntimeError, match="code kernel"):
        predictor.predict(seqs)  # on: strings run through the code kernel
    with fastpath.disabled():
        naive = predictor.predict(seqs).logits  # off: the model's own forward pass
    with torch.inference_mode():
        expected = model(torch.from_numpy(one_hot(seqs))).numpy()
    np.testing.assert_array_equal(naive, expected)


def test_mutagenesis_and_substitutions_fall_back_with_equal_numbers(model, no_kernel) -> None:
    seqs = random_seqs(4, LENGTH, seed=5)
    x = one_hot(seqs)
    fast = saturation_mutagenesis(model, x, device="cpu")
    with fastpath.disabled():
        naive = saturation_mutagenesis(model, x, device="cpu", method="fast")
    assert (fast.method, naive.method) == ("fast", "naive")
    np.testing.assert_allclose(fast.logits, naive.logits, atol=1e-4, rtol=0)
    pos, alt = np.arange(4) * 5, np.arange(4) % 4
    with pytest.raises(RuntimeError, match="code kernel"):
        substitution_logits(model, to_codes(seqs), pos, alt, device="cpu")
    with fastpath.disabled():
        off = substitution_logits(model, to_codes(seqs), pos, alt, device="cpu")
    on = substitution_logits(model, x, pos, alt, device="cpu")  # one-hot: the torch fast path
    np.testing.assert_allclose(off.alt, on.alt, atol=1e-4, rtol=0)
    np.testing.assert_allclose(off.ref, on.ref, atol=1e-4, rtol=0)

"""Learned-feature embeddings: penultimate activations, PCA, the figure, the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.interpret.embedding import embed_2d, penultimate_features
from cislearn.models.registry import build_model
from cislearn.report.embedding import plot_embedding


def _seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


@pytest.mark.parametrize(("arch", "width"), [("cnn", 10), ("layers", 10), ("graph", 32)])
def test_penultimate_features_are_the_output_layer_input(arch: str, width: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch, {}, length=40, n_outputs=1).eval()
    x = one_hot(_seqs(9, 40))
    feats = penultimate_features(model, x, batch_size=4)
    assert feats.shape == (9, width)
    # the output layer applied to the features gives the model's output
    layer = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    head = next(m for m in reversed(layer) if m.in_features == width)
    with torch.no_grad():
        out = model(torch.from_numpy(x)).numpy()
        again = head(torch.from_numpy(feats).float()).numpy()
    if arch == "layers":  # the workshop's extra 1-unit dense layer follows
        again = layer[-1](torch.from_numpy(again)).detach().numpy()
    np.testing.assert_allclose(again, out, rtol=1e-4, atol=1e-5)
    # batch size changes nothing; the mode is restored
    np.testing.assert_allclose(penultimate_features(model, x, batch_size=9), feats, atol=1e-6)
    model.train()
    penultimate_features(model, x)
    assert model.training


def test_embed_2d_separates_separable_features() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    feats = rng.normal(size=(60, 8)) + labels[:, None] * 4.0
    emb = embed_2d(feats)
    assert emb.coords.shape == (60, 2) and emb.n_features == 8 and emb.method == "pca"
    assert 0 < emb.explained[1] <= emb.explained[0] <= 1
    pc1 = emb.coords[:, 0]
    assert (pc1[labels == 0].max() < pc1[labels == 1].min()) or (
        pc1[labels == 1].max() < pc1[labels == 0].min()
    )
    with pytest.raises(InputError, match="n >= 3"):
        embed_2d(feats[:2])
    with pytest.raises(InputError, match="NaN"):
        embed_2d(np.full((5, 3), np.nan))


def test_plot_embedding_writes_png(tmp_path: Path) -> None:
    coords = np.random.default_rng(1).normal(size=(20, 2))
    path = plot_embedding(
        coords, np.repeat([0.0, 1.0], 10), tmp_path / "e.png", explained=[0.5, 0.2]
    )
    assert path.read_bytes()[:4] == b"\x89PNG"
    cont = plot_embedding(coords, np.linspace(0, 1, 20), tmp_path / "c.png")  # a colour scale
    assert cont.is_file()
    with pytest.raises(InputError, match="coords"):
        plot_embedding(coords[:, :1], np.zeros(20), tmp_path / "x.png")

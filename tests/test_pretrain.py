"""Masked-LM pretraining (cislearn.pretrain): span masking, pretrain, fine-tune from the encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cislearn.config import TrainConfig
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.io.bundle import read_bundle, save_bundle
from cislearn.predict import load
from cislearn.pretrain import mask_tokens, pretrain
from cislearn.train import fit
from synthetic import motif_data


def test_mask_tokens_masks_spans_of_k() -> None:
    k = 3
    tokens = torch.randint(4, 68, (200, 60))
    tokens[:, 0] = 3  # CLS
    tokens[:5, 50:] = 0  # PAD
    gen = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(tokens, k=k, fraction=0.15, vocab=68, generator=gen)
    masked = labels != -100
    assert not masked[:, 0].any() and not masked[:5, 50:].any()
    assert 0.10 < masked.float().mean() < 0.20
    assert torch.equal(labels[masked], tokens[masked])
    assert torch.equal(inputs[~masked], tokens[~masked])
    assert 0.7 < (inputs[masked] == 2).float().mean() < 0.9  # mostly MASK
    # masked runs come in spans of at least k (away from the edges)
    row = masked[10, 1:-k].int().tolist()
    runs = "".join(map(str, row)).strip("0").split("0")
    assert all(len(r) >= k for r in runs if r)


def test_pretrain_then_fine_tune_from_the_encoder(tmp_path: Path) -> None:
    ds = motif_data(64, length=40)
    params = {"d_model": 8, "heads": 2, "layers": 1, "ff": 16, "k": 3}
    cfg = TrainConfig(arch="transformer", model=params, max_epochs=2, batch_size=16)
    pre = pretrain(list(ds.sequences), cfg, workdir=tmp_path / "pre")
    assert len(pre.history) == 2 and pre.meta["task"] == "mlm"
    assert {"train_loss", "valid_loss", "valid_accuracy"} <= set(pre.history.columns)
    save_bundle(tmp_path / "pre", pre.model.state_dict(), pre.meta)
    with pytest.raises(ModelLoadError, match="cannot predict targets"):
        load(tmp_path / "pre")
    # lr ~0: after fine-tuning the encoder still holds the pretrained weights
    tune = TrainConfig(arch="transformer", init=str(tmp_path / "pre"), max_epochs=1, lr=1e-12)
    result = fit(ds, tune, workdir=tmp_path / "tune")
    pretrained, _ = read_bundle(tmp_path / "pre")
    for key, value in result.model.encoder.state_dict().items():
        torch.testing.assert_close(value, pretrained[f"encoder.{key}"])
    with pytest.raises(ConfigError, match="cannot initialise arch 'cnn'"):
        fit(ds, TrainConfig(arch="cnn", init=str(tmp_path / "pre")), workdir=tmp_path / "x")


def test_pretrain_rejects_bad_input(tmp_path: Path) -> None:
    cfg = TrainConfig(arch="transformer", model={"k": 3}, max_epochs=1)
    seqs = ["ACGTACGTAC"] * 4
    with pytest.raises(ConfigError, match="pretraining needs transformer; got 'cnn'"):
        pretrain(seqs, TrainConfig(arch="cnn"), workdir=tmp_path)
    with pytest.raises(ConfigError, match=r"mask_fraction must be in \(0, 0.5\]"):
        pretrain(seqs, cfg, workdir=tmp_path, mask_fraction=0.6)
    with pytest.raises(InputError, match="at least 2 sequences"):
        pretrain(seqs[:1], cfg, workdir=tmp_path)
    with pytest.raises(InputError, match="record 3.*sequence 3 is shorter than k=3"):
        pretrain([*seqs[:2], "AC"], cfg, workdir=tmp_path)

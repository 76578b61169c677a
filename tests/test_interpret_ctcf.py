"""Interpretation on the real CTCF data: learned motifs match CTCF, saliency marks the site."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cislearn.config import TrainConfig
from cislearn.data import SequenceDataset
from cislearn.encode import one_hot
from cislearn.interpret.attribution import attribute, position_scores
from cislearn.interpret.compare import learned_motifs
from cislearn.io.jaspar import load_jaspar
from cislearn.train import fit
from conftest import read_fa

CTCF_IDS = ("MA0139", "MA1929", "MA1930", "MA1102")  # CTCF and CTCFL (BORIS) matrices


@pytest.fixture(scope="module")
def ctcf_model(ctcf: Path, tmp_path_factory: pytest.TempPathFactory):
    """A small cnn (16 filters of width 19) trained for 3 epochs on 3,000 CTCF sequences."""
    pos, neg = read_fa(ctcf / "pos.fa.gz"), read_fa(ctcf / "neg.fa.gz")
    ds = SequenceDataset.from_arrays(pos[:1500] + neg[:1500], [1] * 1500 + [0] * 1500)
    cfg = TrainConfig(
        arch="cnn",
        model={"filters": 16, "width": 19, "dense": 0, "dropout": 0.1},
        lr=5e-3,
        batch_size=64,
        max_epochs=3,
        patience=0,
        seed=0,
        accelerator="cpu",
    )
    res = fit(ds, cfg, workdir=tmp_path_factory.mktemp("ctcf_run"))
    assert res.best_score > 0.85  # valid AUROC: the model learned something
    held_pos = one_hot(pos[2000:2600])
    held_neg = one_hot(neg[2000:2600])
    return res.model, held_pos, held_neg


def test_most_influential_motif_is_ctcf(ctcf_model) -> None:
    model, pos, neg = ctcf_model
    found = learned_motifs(model, pos, neg, device="cpu")
    top = found.table.iloc[0]
    assert str(top["match_id"]).startswith(CTCF_IDS), found.table.head()
    assert top["match_name"] in ("CTCF", "CTCFL") and top["name"] == top["match_name"]
    assert top["match_q"] < 0.05
    # named only when significant; the influence is the positives' logit drop, not noise
    significant = found.table["match_q"] < 0.05
    assert (found.table["name"][~significant] == "no match").all()
    assert (found.table["name"][significant] == found.table["match_name"][significant]).all()
    assert top["influence"] > 2 * top["influence_se"] and top["frac_down"] > 0.5
    # Enriched in the positives, and the table is ordered by influence.
    assert top["pos_frac"] > 2 * top["neg_frac"] and top["fisher_p"] < 1e-10
    assert found.table["influence"].is_monotonic_decreasing
    assert found.motifs[0].name in ("CTCF", "CTCFL")
    assert set(found.filters["filter"]) >= set(found.table["motif"])


def test_saliency_concentrates_on_ctcf_site(ctcf_model) -> None:
    from memelite import fimo

    model, pos, _ = ctcf_model
    x = pos[:200]
    motif = load_jaspar(["MA0139"])[0]
    hits = fimo({"ctcf": motif.pfm}, x, threshold=1e-5)[0]
    best = hits.sort_values("p-value").drop_duplicates("sequence_name")
    assert len(best) > 50
    scores = np.abs(position_scores(attribute(model, x, method="saliency", device="cpu"), x))
    frac = [
        scores[i, s:e].sum() / scores[i].sum()
        for i, s, e in zip(best["sequence_name"], best["start"], best["end"], strict=True)
    ]
    share = (best["end"] - best["start"]).mean() / x.shape[2]  # site share of the sequence
    assert np.mean(frac) > 3 * share, (np.mean(frac), share)
    assert not model.training and next(model.parameters()).device == torch.device("cpu")

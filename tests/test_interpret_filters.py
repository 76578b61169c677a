"""Filters → motifs, influence, Tomtom matches, clusters and FIMO enrichment on planted motifs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cislearn.encode import one_hot
from cislearn.interpret import filters as filters_mod
from cislearn.interpret.compare import cluster_motifs, match_motifs, motif_enrichment
from cislearn.interpret.filters import FilterSet, filter_influence, filter_motifs
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif
from cislearn.models.registry import build_model

MOTIF = "GGGCGG"


def planted(n: int = 200, length: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random sequences; every other one carries MOTIF at a random place."""
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for i in range(n):
        s = rng.choice(list("ACGT"), length)
        if i % 2:
            p = rng.integers(0, length - len(MOTIF))
            s[p : p + len(MOTIF)] = list(MOTIF)
        out.append("".join(s))
        labels.append(i % 2)
    return one_hot(out), np.array(labels)


@pytest.fixture(scope="module")
def detector() -> torch.nn.Module:
    """cnn whose filter 0 detects MOTIF (and filter 1 is noise); output = filter 0's max."""
    torch.manual_seed(0)
    model = build_model(
        "cnn", {"filters": 3, "width": 8, "dense": 0, "dropout": 0.0}, length=50, n_outputs=1
    ).eval()
    with torch.no_grad():
        w = torch.full((3, 4, 8), -1.0)
        for k, b in enumerate(MOTIF, start=1):  # motif at kernel columns 1..6
            w[0, "ACGT".index(b), k] = 1.0
        w[0, :, 0] = w[0, :, 7] = 0.0
        w[1] = torch.randn(4, 8) * 0.1
        w[2] = 0.0
        model.conv.conv.weight.copy_(w)
        model.conv.conv.bias.copy_(torch.tensor([-4.0, 0.0, -1.0]))
        model.head.output.weight.copy_(torch.tensor([[1.0, 0.1, 0.0]]))
        model.head.output.bias.zero_()
    return model


def test_filter_pfm_recovers_planted_motif(detector) -> None:
    x, _ = planted()
    found = filter_motifs(detector, x, threshold=0.5, min_sites=20, min_ic=3, device="cpu")
    table = found.table.set_index("filter")
    assert table.loc["filter0", "kept"] and table.loc["filter0", "consensus"] == MOTIF
    assert table.loc["filter0", "n_sites"] == pytest.approx(100, abs=5)  # the planted half
    assert table.loc["filter0", "ic"] > 10
    assert table.loc["filter2", "reason"] == "never active" and not table.loc["filter2", "kept"]
    assert [m.id for m in found.motifs] == list(table.index[table["kept"]])


def test_influence_is_the_mean_logit_drop_on_positives(detector) -> None:
    x, y = planted(seed=1)
    pos = x[y == 1]
    infl = filter_influence(detector, pos, device="cpu").set_index("filter")
    assert infl["metric"].iloc[0] == "logit_drop"
    # output = 1.0 * max(filter0) + 0.1 * max(filter1): zeroing filter0 removes its pooled
    # maximum from every positive's logit, exactly
    maps = filters_mod.filter_activations(detector, pos, device="cpu")[0]
    pooled0 = maps[:, 0].max(axis=1)
    assert infl.loc["filter0", "influence"] == pytest.approx(pooled0.mean(), rel=1e-5)
    assert infl.loc["filter0", "influence_sd"] == pytest.approx(pooled0.std(ddof=1), rel=1e-4)
    assert infl.loc["filter0", "frac_down"] == pytest.approx((pooled0 > 0).mean()) and (
        (pooled0 > 0).mean() > 0.9
    )
    assert infl.loc["filter0", "influence"] > 10 * abs(infl.loc["filter1", "influence"])
    assert infl.loc["filter2", "influence"] == 0 and infl.loc["filter2", "influence_sd"] == 0
    assert infl.loc["filter0", "base"] - infl.loc["filter0", "zeroed"] == pytest.approx(
        infl.loc["filter0", "influence"], rel=1e-5
    )


def test_head_only_influence_equals_hooked_full_passes(detector, monkeypatch) -> None:
    x, _ = planted(seed=2)
    fast = filter_influence(detector, x, device="cpu")
    hooked = FilterSet((detector.conv.conv,), (detector.conv,), False)
    monkeypatch.setattr(filters_mod, "first_layer", lambda _m: hooked)
    slow = filter_influence(detector, x, device="cpu")
    for col in ("influence", "influence_sd"):
        np.testing.assert_allclose(fast[col], slow[col], atol=1e-5)


def test_filters_of_other_architectures() -> None:
    model = build_model(
        "cnn-deep",
        {"filters": (4, 4), "widths": (5, 3), "pool_sizes": (2, 2)},
        length=50,
        n_outputs=1,
    )
    x, y = planted(40)
    found = filter_motifs(model, x, min_sites=1, min_ic=0.0, device="cpu")
    assert len(found.table) == 4
    assert len(filter_influence(model, x, device="cpu")) == 4


def test_match_motifs_finds_jaspar_ctcf_itself() -> None:
    ctcf = load_jaspar(["MA0139"])[0]
    noisy = Motif("q1", "", ctcf.pfm * 50 + 1)
    table = match_motifs([noisy, noisy.reverse_complement()], n_best=2)
    best = table[table["rank"] == 1].set_index("motif")
    assert len(table) == 4
    assert best["target_id"].str.startswith("MA0139").all()
    assert set(best["strand"]) == {"+", "-"} or len(best) == 1
    assert (best["p_value"] < 1e-6).all() and (best["q_value"] < 0.05).all()
    assert (best["q_value"] >= best["p_value"]).all()


def test_cluster_motifs_groups_copies() -> None:
    ctcf, rest = load_jaspar(["MA0139"])[0], load_jaspar(["MA0079", "MA0106"])
    copy = Motif("copy", "", ctcf.counts)
    frame = cluster_motifs([rest[0], ctcf, copy, rest[1]], order=["copy", ctcf.id])
    cl = frame.set_index("motif")
    assert cl.loc["copy", "cluster"] == cl.loc[ctcf.id, "cluster"] == 0
    assert cl.loc["copy", "representative"] and not cl.loc[ctcf.id, "representative"]
    assert cl["cluster"].nunique() == 3 and cl["representative"].sum() == 3


def test_motif_enrichment_planted() -> None:
    x, y = planted(200, seed=3)
    motif = Motif("gc", "", one_hot([MOTIF])[0] * 20 + 0.1)
    other = Motif("at", "", one_hot(["ATATAT"])[0] * 20 + 0.1)
    table = motif_enrichment([motif, other], x[y == 1], x[y == 0], threshold=1e-3)
    row = table.set_index("motif").loc["gc"]
    assert row["pos_frac"] == 1.0 and row["neg_frac"] < 0.3 and row["fisher_p"] < 1e-10
    assert table.set_index("motif").loc["at", "fisher_p"] > 1e-3
    alone = motif_enrichment([motif], x[y == 1], threshold=1e-3)
    assert np.isnan(alone["fisher_p"].iloc[0]) and alone["pos_hits"].iloc[0] == 100

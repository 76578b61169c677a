"""Hypothetical contributions, the attribution audit, in-silico experiments and greedy design on
tiny models (invariants and exact cases); the real-data checks are in test_interpret_modisco.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.interpret.audit import audit_attributions
from cislearn.interpret.captured import captured_warnings
from cislearn.interpret.contributions import actual_contributions, hypothetical_contributions
from cislearn.interpret.design import greedy_design, parse_goal
from cislearn.interpret.experiments import ablate_motif, marginalize_motif, motif_spacing
from cislearn.interpret.modisco import hits_in_genome
from cislearn.io.motifs import Motif
from cislearn.models import build_model
from cislearn.pipelines.inputs import parse_ranges, regions_for, resolve_motif


class Linear(nn.Module):
    """Output = sum of W * x: every attribution method is exact on it."""

    def __init__(self, length: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(4, length, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2))[:, None]


class Motif3(nn.Module):
    """Logit = 4 * (number of 'GAT' words) - 2: a known motif with a known effect."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = x[:, 2, :-2] * x[:, 0, 1:-1] * x[:, 3, 2:]
        return (4 * hit.sum(dim=1) - 2)[:, None]


def _seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


@pytest.mark.parametrize("method", ["ism", "deeplift-shap", "integrated-gradients"])
def test_hypothetical_contributions_exact_on_a_linear_model(method: str) -> None:
    model = Linear(24)
    x = one_hot(_seqs(5, 24))
    c = hypothetical_contributions(model, x, method=method, device="cpu", n_shuffles=4)
    w = model.w.detach().numpy()
    # Base b at position i contributes w[b, i] up to a per-position constant.
    centred = c.hypothetical - c.hypothetical.mean(axis=1, keepdims=True)
    expect = np.broadcast_to(w - w.mean(axis=0, keepdims=True), centred.shape)
    assert np.allclose(centred, expect, atol=1e-4)
    if method != "ism":
        assert np.nanmax(c.delta) < 1e-3  # linear: nothing to converge
    else:
        assert np.isnan(c.delta).all()
    assert c.warnings == "no warnings"


def test_ism_contributions_are_the_mutation_map_minus_the_base_mean() -> None:
    net = build_model("cnn", {"filters": 4, "width": 5}, length=30, n_outputs=1)
    x = one_hot(_seqs(3, 30, seed=1))
    c = hypothetical_contributions(net, x, method="ism", device="cpu")
    import cislearn

    mm = cislearn.saturation_mutagenesis(net, x, device="cpu")
    d = mm.logits[..., 0]
    assert np.allclose(c.hypothetical, d - d.mean(axis=1, keepdims=True), atol=1e-5)
    assert np.allclose(c.hypothetical.sum(axis=1), 0, atol=1e-4)
    # The observed base's score: output minus the mean of the four base choices.
    scores = actual_contributions(c.hypothetical, x)
    assert scores.shape == (3, 30)


def test_contributions_reject_bad_input() -> None:
    net = Linear(10)
    with pytest.raises(InputError, match="method"):
        hypothetical_contributions(net, one_hot(["ACGTACGTAC"]), method="magic")
    with pytest.raises(InputError, match="4 base channels"):
        hypothetical_contributions(net, np.zeros((1, 5, 10), np.float32))
    with pytest.raises(InputError, match="n_steps"):
        hypothetical_contributions(
            net, one_hot(["ACGTACGTAC"]), method="integrated-gradients", n_steps=0
        )


def test_captured_warnings_count_without_printing(recwarn) -> None:
    with captured_warnings("demo", log=False) as seen:
        for k in range(30):
            warnings.warn(
                f"Convergence deltas are {k}.5% of the output", RuntimeWarning, stacklevel=1
            )
        warnings.warn("other", UserWarning, stacklevel=1)
    assert seen.total == 31 and len(recwarn) == 0
    assert "30x" in seen.summary() and "#" in seen.summary()


def test_audit_passes_a_linear_model_and_flags_a_max_pool() -> None:
    x = one_hot(_seqs(12, 24, seed=2))
    ok = audit_attributions(
        Linear(24), x, methods=("deeplift-shap", "integrated-gradients"), sample=8, device="cpu"
    )
    assert ok.verdict == "ok", ok.line
    assert (ok.table["corr_median"] > 0.99).all()
    assert "deeplift-shap r=1.00" in ok.line and "-> OK" in ok.line
    # A global max written as a tensor max has no DeepLIFT rule: the audit must notice.
    net = build_model("cnn", {"filters": 6, "width": 5}, length=24, n_outputs=1)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 1.0)
    bad = audit_attributions(net, x, methods=("deeplift-shap",), sample=8, device="cpu")
    row = bad.table.iloc[0]
    assert row["delta_median"] > 0.05 and row["verdict"] == "check", bad.line
    assert "integrated gradients" in row["suggestion"]
    with pytest.raises(InputError, match="methods"):
        audit_attributions(Linear(24), x, methods=("magic",))


def test_marginalize_measures_the_known_effect() -> None:
    x = one_hot([s.replace("GAT", "GCT") for s in _seqs(20, 30, seed=3)])
    res = marginalize_motif(Motif3(), x, "GAT", output="logit", device="cpu")
    assert np.allclose(res.table["delta"], 4.0)
    s = res.summary.iloc[0]
    assert s["n"] == 20 and s["mean_delta"] == pytest.approx(4.0) and s["sd_delta"] == 0
    with pytest.raises(InputError, match="unexpected 'X'"):
        marginalize_motif(Motif3(), x, "GXT")
    with pytest.raises(InputError, match="outside"):
        marginalize_motif(Motif3(), x, "GAT", start=29)


def test_ablate_removes_the_motif() -> None:
    seqs = [s[:10] + "GATGATGAT" + s[19:] for s in _seqs(10, 30, seed=4)]
    x = one_hot(seqs)
    gat = Motif("gat", "", np.eye(4)[:, [2, 0, 3, 2, 0, 3, 2, 0, 3]])
    res = ablate_motif(Motif3(), x, gat, mode="mask", threshold=1e-3, output="logit", device="cpu")
    assert len(res.table) == 10
    # The 3 planted words (logit 4 each) are gone; N (0.25 per base) leaves 4 * 0.25**3 each
    # plus partial words at the edges.
    assert (res.table["delta"] < -10).all() and (res.table["n_sites"] >= 1).all()
    with pytest.raises(InputError, match="nothing to ablate"):
        ablate_motif(Motif3(), one_hot(["A" * 30]), gat, threshold=1e-3)
    with pytest.raises(InputError, match="mode"):
        ablate_motif(Motif3(), x, gat, mode="delete")


def test_spacing_table_covers_every_spacing_and_orientation() -> None:
    x = one_hot(["C" * 40] * 3)
    res = motif_spacing(Motif3(), x, "GA", "TAC", spacings=[0, 1, 5], output="logit", device="cpu")
    assert len(res.table) == 4 * 3 * 3
    s = res.summary.set_index(["orientation", "spacing"])["mean_delta"]
    # "GA" then "T" at spacing 0 makes one GAT; separated by 1 or 5 it does not.
    assert s[("++", 0)] == pytest.approx(4.0) and s[("++", 5)] == pytest.approx(0.0)
    with pytest.raises(InputError, match="does not fit"):
        motif_spacing(Motif3(), x, "GA", "TAC", spacings=[39])
    with pytest.raises(InputError, match="orientations"):
        motif_spacing(Motif3(), x, "GA", "TAC", orientations=["+x"])


def test_greedy_design_improves_within_budget_and_protected_positions() -> None:
    model = Linear(20, seed=5)
    x = one_hot(_seqs(3, 20, seed=5))
    fixed = np.zeros(20, bool)
    fixed[5:15] = True
    res = greedy_design(model, x, goal="maximize", budget=4, fixed=fixed, output="logit")
    traj = res.trajectory
    assert set(traj["step"]) == {0, 1, 2, 3, 4}
    assert not traj.loc[traj["step"] > 0, "position"].between(5, 14).any()
    for _, g in traj.groupby("seq_id"):
        assert g["logit"].is_monotonic_increasing
    # On a linear model each greedy step takes the best remaining column: exact check.
    w = model.w.detach().numpy()
    first = traj[(traj["seq_id"] == "seq0") & (traj["step"] == 1)].iloc[0]
    gain = w.max(axis=0) - (w * x[0]).sum(axis=0)
    gain[5:15] = -np.inf
    assert first["position"] == int(np.argmax(gain))
    assert res.sequences[0][5:15] == "".join("ACGT"[i] for i in x[0].argmax(0)[5:15])
    target = greedy_design(model, x[:1], goal="0", budget=20, output="logit")
    assert abs(target.trajectory["logit"].iloc[-1]) < abs(target.trajectory["logit"].iloc[0])
    with pytest.raises(InputError, match="goal"):
        parse_goal("higher")
    with pytest.raises(InputError, match="every position"):
        greedy_design(model, x, fixed=np.ones(20, bool))


def test_hits_in_genome_maps_both_strands() -> None:
    hits = pd.DataFrame(
        {
            "seq_index": [0, 1],
            "start": [10, 10],
            "end": [15, 15],
            "strand": ["+", "+"],
            "pattern": ["pos_0", "pos_0"],
            "name": ["CTCF", ""],
            "p_value": [1e-5, 1e-6],
        }
    )
    regions = pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [100, 200], "end": [130, 230], "strand": ["+", "-"]}
    )
    bed = hits_in_genome(hits, regions)
    assert bed[["start", "end"]].values.tolist() == [[110, 115], [215, 220]]
    assert bed["strand"].tolist() == ["+", "-"] and bed["name"].tolist() == ["pos_0:CTCF", "pos_0"]
    with pytest.raises(InputError, match="one region per sequence"):
        hits_in_genome(hits, regions.iloc[:1])


def test_inputs_motif_specs_ranges_and_regions(tmp_path) -> None:
    assert resolve_motif("MA0139.2").name == "CTCF"
    assert resolve_motif("gatn").consensus == "GATA"  # N: uniform column (argmax A)
    with pytest.raises(InputError, match="not a JASPAR ID"):
        resolve_motif("CTCF!")
    assert parse_ranges("2-4,7", 10).nonzero()[0].tolist() == [2, 3, 7]
    with pytest.raises(InputError, match="--fixed"):
        parse_ranges("5-20", 10)
    with pytest.raises(InputError, match="--fixed"):
        parse_ranges("a-b", 10)
    assert regions_for(["chr1:10-40", "chr2:5-35(-)"], 30)["strand"].tolist() == ["+", "-"]
    assert regions_for(["chr1_1"], 30) is None
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t11\t40\n")  # GRanges style: 1-based, inclusive
    assert regions_for(["a"], 30, bed)[["start", "end"]].values.tolist() == [[10, 40]]
    bed.write_text("chr1\t11\t20\n")
    with pytest.raises(InputError, match="interval of 9 bp"):
        regions_for(["a"], 30, bed)

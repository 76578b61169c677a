"""Tests for cislearn.simulate: Markov background, motif implants, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from cislearn.errors import InputError
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif
from cislearn.simulate import (
    HUMAN_DINUCLEOTIDES,
    HUMAN_TRANSITIONS,
    estimate_transitions,
    markov_background,
    simulate,
    stationary,
)

_COMP = str.maketrans("ACGT", "TGCA")


def revcomp(s: str) -> str:
    return s.translate(_COMP)[::-1]


def one_hot(seqs: list[str]) -> np.ndarray:
    codes = np.frombuffer("".join(seqs).encode(), np.uint8).reshape(len(seqs), -1)
    return (codes[:, None, :] == np.frombuffer(b"ACGT", np.uint8)[None, :, None]).astype(float)


def max_scan(seqs: list[str], pwm: np.ndarray) -> np.ndarray:
    """Best log-odds over all positions and both strands: the reference PWM scan."""
    x = one_hot(seqs)  # (n, 4, L)
    w = pwm.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=2)  # (n, 4, L-w+1, w)
    fwd = np.einsum("nalw,aw->nl", windows, pwm)
    rev = np.einsum("nalw,aw->nl", windows, pwm[::-1, ::-1])
    return np.maximum(fwd, rev).max(axis=1)


def dinucleotide_frequencies(seqs: list[str]) -> np.ndarray:
    counts = np.zeros((4, 4))
    x = one_hot(seqs)
    counts += np.einsum("nal,nbl->ab", x[:, :, :-1], x[:, :, 1:])
    return counts / counts.sum()


def test_constants_are_consistent():
    f = HUMAN_DINUCLEOTIDES
    assert f.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(f.sum(axis=0), f.sum(axis=1))  # rows = columns
    np.testing.assert_allclose(f, f[::-1, ::-1].T)  # strand symmetric
    p = f.sum(axis=1)
    assert p[1] + p[2] == pytest.approx(0.41)
    assert 0.15 < f[1, 2] / (p[1] * p[2]) < 0.3  # CpG depleted
    np.testing.assert_allclose(HUMAN_TRANSITIONS.sum(axis=1), 1.0)
    np.testing.assert_allclose(stationary(HUMAN_TRANSITIONS), p)


def test_background_matches_dinucleotide_expectation():
    seqs = markov_background(3000, 201, seed=3)
    assert len(seqs) == 3000 and {len(s) for s in seqs} == {201}
    assert set("".join(seqs)) == set("ACGT")
    observed = dinucleotide_frequencies(seqs)
    np.testing.assert_allclose(observed, HUMAN_DINUCLEOTIDES, atol=0.0015)
    gc = sum(s.count("G") + s.count("C") for s in seqs) / (3000 * 201)
    assert gc == pytest.approx(0.41, abs=0.005)
    # and the estimator recovers the chain
    np.testing.assert_allclose(estimate_transitions(seqs), HUMAN_TRANSITIONS, atol=0.01)


def test_custom_transitions_and_estimator():
    t = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]], float)
    seqs = markov_background(5, 12, transitions=t, seed=0)
    for s in seqs:
        assert s in ("ACGTACGTACGTACGT"[i : i + 12] for i in range(4))
    np.testing.assert_array_equal(estimate_transitions(seqs, pseudocount=0), t)


def test_estimator_case_n_and_empty_rows(caplog):
    est = estimate_transitions(["acgN", "TT"], pseudocount=0)  # case-insensitive, N pairs skipped
    assert est[0, 1] == 1 and est[1, 2] == 1 and est[3, 3] == 1
    np.testing.assert_allclose(est[2], 0.25)  # G is never followed by a base: uniform row
    assert "no pairs start with G" in caplog.text
    with pytest.raises(InputError, match="transitions"):
        markov_background(2, 5, transitions=np.ones((3, 3)))


@settings(max_examples=40, deadline=None)
@given(seqs=st.lists(st.text("ACGTN", max_size=30), min_size=1, max_size=6))
def test_estimate_transitions_counts_pairs(seqs):
    est = estimate_transitions(seqs, pseudocount=1.0)
    counts = np.ones((4, 4))
    for s in seqs:
        for a, b in zip(s, s[1:], strict=False):
            if a in "ACGT" and b in "ACGT":
                counts["ACGT".index(a), "ACGT".index(b)] += 1
    np.testing.assert_allclose(est, counts / counts.sum(axis=1, keepdims=True))


def test_implants_are_recorded_exactly():
    sim = simulate(
        n_positive=300,
        n_negative=200,
        length=120,
        motifs=("MA0139", "MA0002"),
        motif_prob=(0.7, 0.5),
        copies=2,
        poisson=True,
        negative_decoys=True,
        seed=5,
    )
    n = 500
    assert len(sim.ids) == len(sim.sequences) == sim.labels.size == n
    assert (
        sim.ids[0] == "sim_pos_1" and sim.ids[300] == "sim_neg_1" and sim.ids[-1] == "sim_neg_200"
    )
    assert sim.labels.dtype == np.int64 and sim.labels.sum() == 300
    assert {len(s) for s in sim.sequences} == {120}
    seq = dict(zip(sim.ids, sim.sequences, strict=True))
    imp = sim.implants
    assert list(imp.columns) == [
        "id", "motif_id", "motif_name", "start", "end", "strand", "site", "decoy"
    ]  # fmt: skip
    widths = {m.id: m.width for m in sim.motifs}
    for row in imp.itertuples():
        placed = seq[row.id][row.start : row.end]
        assert placed == (row.site if row.strand == "+" else revcomp(row.site))
        assert row.end - row.start == widths[row.motif_id.removesuffix("_decoy")]
    # instances never overlap
    for _, group in imp.groupby("id"):
        starts, ends = group["start"].to_numpy(), group["end"].to_numpy()
        assert np.all(starts[1:] >= ends[:-1])
    # every positive has a real motif; negatives only decoys; both strands used
    real = imp[~imp["decoy"]]
    assert set(real["id"]) == set(sim.ids[:300])
    assert set(imp.loc[imp["decoy"], "id"]) <= set(sim.ids[300:])
    assert set(imp["strand"]) == {"+", "-"}
    assert imp.loc[imp["decoy"], "motif_id"].str.endswith("_decoy").all()
    presence = sim.presence()
    assert presence.shape == (n, 2) and list(presence.columns) == ["MA0139.2", "MA0002.3"]
    assert presence.iloc[:300].any(axis=1).all() and not presence.iloc[300:].any().any()
    assert 0.6 < presence.iloc[:300, 0].mean() < 0.9
    # Poisson copies: more than one instance of a motif in some sequences
    assert real.groupby(["id", "motif_id"]).size().max() > 1


def test_sites_follow_the_pfm():
    (ctcf,) = load_jaspar(["MA0139"])
    sim = simulate(n_positive=4000, n_negative=0, seed=2)
    sites = sim.implants["site"].tolist()
    freq = one_hot(sites).mean(axis=0)  # (4, width)
    np.testing.assert_allclose(freq, ctcf.pfm, atol=0.03)
    assert (sim.implants["strand"] == "+").mean() == pytest.approx(0.5, abs=0.03)
    starts = sim.implants["start"].to_numpy()
    assert starts.min() == 0 and starts.max() == 201 - ctcf.width


def test_pwm_scan_separates_positives():
    sim = simulate(n_positive=500, n_negative=500, seed=0)
    (ctcf,) = sim.motifs
    assert ctcf.name == "CTCF"
    score = max_scan(sim.sequences, ctcf.pwm())
    auc = roc_auc_score(sim.labels, score)
    assert auc > 0.9
    # decoys keep composition but not the motif: still separable
    decoyed = simulate(n_positive=500, n_negative=500, negative_decoys=True, seed=0)
    assert roc_auc_score(decoyed.labels, max_scan(decoyed.sequences, ctcf.pwm())) > 0.9


def test_reproducible_by_seed():
    a = simulate(n_positive=50, n_negative=50, seed=11)
    b = simulate(n_positive=50, n_negative=50, seed=11)
    c = simulate(n_positive=50, n_negative=50, seed=12)
    assert a.sequences == b.sequences and a.ids == b.ids
    pd.testing.assert_frame_equal(a.implants, b.implants)
    assert a.sequences != c.sequences
    assert markov_background(4, 30, seed=1) == markov_background(4, 30, seed=1)
    assert markov_background(4, 30, seed=1) != markov_background(4, 30, seed=2)


def test_motif_objects_and_bad_arguments(caplog):
    toy = Motif("toy", "AAAA", [[1] * 4, [0] * 4, [0] * 4, [0] * 4])
    sim = simulate(n_positive=10, n_negative=3, length=8, motifs=[toy], seed=0)
    assert all("AAAA" in s or "TTTT" in s for s in sim.sequences[:10])
    assert sim.motifs == [toy]
    with pytest.raises(InputError, match="wider than the 3-bp"):
        simulate(n_positive=1, n_negative=0, length=3, motifs=[toy])
    crowded = simulate(n_positive=20, n_negative=0, length=7, motifs=[toy], copies=2)
    assert 20 <= len(crowded.implants) < 40 and "no free room" in caplog.text
    assert set(crowded.implants["id"]) == set(crowded.ids)
    with pytest.raises(InputError, match="motif_prob"):
        simulate(n_positive=2, motifs=[toy], motif_prob=1.5)
    with pytest.raises(InputError, match="copies"):
        simulate(n_positive=2, motifs=[toy], copies=1.5)
    with pytest.raises(InputError, match="MA9999"):
        simulate(n_positive=2, motifs=["MA9999"])
    with pytest.raises(InputError, match="at least one motif"):
        simulate(n_positive=2, motifs=[])


def test_speed_10k_sequences():
    import time

    simulate(n_positive=10, n_negative=10)  # JASPAR load and caches outside the timing
    t0 = time.perf_counter()
    sim = simulate(n_positive=5000, n_negative=5000, length=201, seed=0)
    elapsed = time.perf_counter() - t0
    assert len(sim.sequences) == 10_000
    assert elapsed < 3.0  # target < 1 s; generous bound for a shared 2-core machine


# -- simulated sets and SNVs with a known effect (cislearn.simsets) -------------------------


def _best_llr_by_hand(seq: str, lo: np.ndarray) -> float:
    """Best log-odds over positions and both strands, by plain loops (independent of numpy
    fancy indexing in simsets)."""
    w = lo.shape[0]
    best = -np.inf
    for s in (seq, revcomp(seq)):
        for p in range(len(s) - w + 1):
            best = max(best, sum(lo[i, "ACGT".index(s[p + i])] for i in range(w)))
    return best


def test_true_logit_matches_hand_scoring() -> None:
    from cislearn.simsets import logistic_set, true_logit

    sim, model = logistic_set(n=12, length=40, seed=3)
    want = [
        model.beta * sum(max(0.0, _best_llr_by_hand(s, lo)) for lo in model.log_odds)
        + model.intercept
        for s in sim.sequences
    ]
    np.testing.assert_allclose(true_logit(model, sim.sequences), want, rtol=1e-9)


def test_logistic_labels_follow_the_model() -> None:
    from cislearn.simsets import logistic_set, true_logit

    sim, model = logistic_set(n=2000, length=100, seed=1)
    z = true_logit(model, sim.sequences)
    assert 0.35 < sim.labels.mean() < 0.65  # intercept centres the median
    assert roc_auc_score(sim.labels, z) > 0.8  # labels are drawn from sigmoid(z)


def test_simulated_snvs_inside_outside_and_true_effect() -> None:
    from cislearn.simsets import logistic_set, simulated_snvs, true_logit

    sim, model = logistic_set(n=300, length=80, seed=2)
    table = simulated_snvs(sim.sequences, sim.ids, sim.implants, model, n=200, seed=5)
    assert len(table) == 200 and table["in_motif"].sum() == 100
    assert not table.duplicated(["chrom", "pos"]).any()
    seqs = dict(zip(sim.ids, sim.sequences, strict=True))
    spans = sim.implants.groupby("id")
    for row in table.itertuples():
        seq = seqs[row.chrom]
        assert seq[row.pos - 1] == row.ref != row.alt
        starts = spans.get_group(row.chrom) if row.chrom in spans.groups else None
        covered = starts is not None and any(
            a <= row.pos - 1 < b for a, b in zip(starts["start"], starts["end"], strict=True)
        )
        assert covered == row.in_motif
    # the true effect is the change of the label logit, recomputed here
    for row in table.head(20).itertuples():
        seq = seqs[row.chrom]
        alt = seq[: row.pos - 1] + row.alt + seq[row.pos :]
        delta = true_logit(model, [alt])[0] - true_logit(model, [seq])[0]
        assert abs(delta - row.true_effect) < 1e-9
    inside = table.loc[table["in_motif"], "true_effect"].abs().mean()
    outside = table.loc[~table["in_motif"], "true_effect"].abs().mean()
    assert inside > 3 * outside
    again = simulated_snvs(sim.sequences, sim.ids, sim.implants, model, n=200, seed=5)
    pd.testing.assert_frame_equal(table, again)


def test_benchmark_sets_have_their_character() -> None:
    from cislearn.simsets import grammar_set, weak_gc_set

    weak = weak_gc_set(n_positive=300, n_negative=300, seed=0)
    gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in weak.sequences])
    assert gc[weak.labels == 1].mean() > gc[weak.labels == 0].mean() + 0.01
    assert weak.implants.groupby("id").size().reindex(weak.ids).notna().all()
    grammar = grammar_set(n_positive=200, n_negative=200, seed=0)
    arr = grammar.implants.set_index("id").loc[grammar.ids, "arrangement"].to_numpy()
    assert (arr[grammar.labels == 1] == 0).all() and (arr[grammar.labels == 0] > 0).all()
    assert len({len(s) for s in grammar.sequences}) == 1

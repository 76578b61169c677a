"""Prediction from bundles: round trip, invariants (batch size, RC), streaming, input errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cislearn.encode import one_hot, reverse_complement
from cislearn.errors import InputError, ModelLoadError
from cislearn.io.bundle import META_FILE, save_bundle
from cislearn.models.registry import build_model
from cislearn.predict import Predictor, load, predict_records

LENGTH = 30


def _save(
    path: Path,
    arch: str,
    params: dict,
    *,
    task: str = "binary",
    n_outputs: int = 1,
    n_tracks: int = 0,
    target_names: list[str] | None = None,
    **extra,
) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(arch, params, length=LENGTH, n_outputs=n_outputs, n_tracks=n_tracks)
    names = target_names or [f"t{i}" for i in range(n_outputs)]
    meta = {
        "arch": arch,
        "model": model.config.model_dump(mode="json"),
        "length": LENGTH,
        "n_outputs": n_outputs,
        "n_tracks": n_tracks,
        "task": task,
        "target_names": names,
        **extra,
    }
    save_bundle(path, model.state_dict(), meta)
    return model.eval()


def _seqs(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        "".join(rng.choice(list("ACGTN"), LENGTH, p=[0.24, 0.24, 0.24, 0.24, 0.04]))
        for _ in range(n)
    ]


CNN = {"filters": 8, "width": 5, "dense": 4}


@pytest.fixture(scope="module")
def cnn_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    path = tmp_path_factory.mktemp("b") / "cnn"
    return path, _save(path, "cnn", CNN, target_names=["label"])


@pytest.fixture(scope="module")
def predictor(cnn_bundle) -> Predictor:
    return load(cnn_bundle[0], device="cpu")


def test_round_trip_gives_identical_predictions(cnn_bundle, predictor: Predictor) -> None:
    _, model = cnn_bundle
    seqs = _seqs(50)
    with torch.inference_mode():
        expected = model(torch.from_numpy(one_hot(seqs))).numpy()
    # one-hot inputs take the model's own forward pass: bit for bit the saved model
    pred = predictor.predict(one_hot(seqs))
    np.testing.assert_array_equal(pred.logits, expected)
    np.testing.assert_allclose(pred.probs, 1 / (1 + np.exp(-expected)), rtol=1e-6)
    assert pred.logits.dtype == np.float32 and pred.logits.shape == (50, 1)
    np.testing.assert_array_equal(
        predictor.predict(torch.from_numpy(one_hot(seqs))).logits, expected
    )
    # strings and base codes run through the code kernel: equal up to float32 rounding
    np.testing.assert_allclose(predictor.predict(seqs).logits, expected, rtol=0, atol=1e-6)
    codes = predictor.codes(seqs)
    assert codes.dtype == np.uint8 and codes.shape == (50, LENGTH)
    np.testing.assert_allclose(predictor.predict(codes).logits, expected, rtol=0, atol=1e-6)
    assert predictor.predict(seqs[0]).logits.shape == (1, 1)
    assert predictor.predict([]).logits.shape == (0, 1)


def test_string_and_one_hot_paths_agree_with_rc_average_and_ns(predictor: Predictor) -> None:
    seqs = [s[:10] + "N" * 5 + s[15:] for s in _seqs(40)]
    for rc in (False, True):
        a = predictor.predict(seqs, rc_average=rc).logits
        b = predictor.predict(one_hot(seqs), rc_average=rc).logits
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    with pytest.raises(InputError, match="base codes must be 0-4"):
        predictor.predict(np.full((2, LENGTH), 7, np.uint8))
    with pytest.raises(InputError, match=r"base codes must have shape \(n, "):
        predictor.predict(np.zeros((2, LENGTH + 1), np.uint8))


def test_attributes(predictor: Predictor) -> None:
    assert predictor.task == "binary"
    assert predictor.target_names == ["label"] == predictor.output_names
    assert predictor.length == LENGTH
    assert predictor.device == torch.device("cpu")
    assert predictor.meta["arch"] == "cnn"
    assert "cnn" in repr(predictor)


@settings(max_examples=15, deadline=None)
@given(batch_size=st.integers(min_value=1, max_value=70))
def test_batch_size_does_not_change_predictions(predictor: Predictor, batch_size: int) -> None:
    seqs = _seqs(37, seed=1)
    reference = predictor.predict(seqs, batch_size=1024).logits
    np.testing.assert_allclose(
        predictor.predict(seqs, batch_size=batch_size).logits, reference, rtol=1e-5, atol=1e-6
    )


def test_rc_average_is_strand_symmetric(predictor: Predictor) -> None:
    seqs = _seqs(20, seed=2)
    rc = reverse_complement(seqs)
    fwd = predictor.predict(seqs, rc_average=True).logits
    np.testing.assert_allclose(predictor.predict(rc, rc_average=True).logits, fwd, atol=1e-6)
    plain = predictor.predict(seqs).logits
    plain_rc = predictor.predict(rc).logits
    np.testing.assert_allclose(fwd, (plain + plain_rc) / 2, atol=1e-6)
    assert not np.allclose(plain, plain_rc)  # the model itself is not symmetric


def test_model_mode_is_restored(predictor: Predictor) -> None:
    seqs = _seqs(10, seed=3)
    reference = predictor.predict(seqs).logits
    predictor.model.train()
    try:
        np.testing.assert_array_equal(predictor.predict(seqs).logits, reference)  # no dropout
        assert predictor.model.training
    finally:
        predictor.model.eval()


def test_wrong_length_names_the_record(predictor: Predictor) -> None:
    seqs = _seqs(5)
    seqs[3] = seqs[3][:-2]
    with pytest.raises(
        InputError,
        match=rf"record 4: sequence length {LENGTH - 2}; the model "
        rf"takes {LENGTH} bp",
    ):
        predictor.predict(seqs)
    records = [(f"r{i}", s) for i, s in enumerate(seqs)]
    with pytest.raises(InputError) as info:
        list(predict_records(predictor, records, chunk_size=2, path="in.fa"))
    assert str(info.value).startswith('in.fa, record 4 ("r3"): sequence length')
    with pytest.raises(InputError, match=r"shape \(n, 4, 30\)"):
        predictor.predict(np.zeros((2, 4, LENGTH + 1), np.float32))


def test_predict_records_streams_in_order(predictor: Predictor) -> None:
    seqs = _seqs(12, seed=4)
    records = [(f"id{i}", s) for i, s in enumerate(seqs)]
    calls = []
    chunks = list(
        predict_records(
            predictor,
            iter(records),
            chunk_size=5,
            batch_size=3,
            progress=lambda s, d, t: calls.append((s, d, t)),
        )
    )
    assert [len(c) for c in chunks] == [5, 5, 2]
    assert calls == [("predict", 5, None), ("predict", 10, None), ("predict", 12, None)]
    frame = np.concatenate([c[["label_prob", "label_logit"]].to_numpy() for c in chunks])
    assert list(chunks[0].columns) == ["id", "label_prob", "label_logit"]
    assert [i for c in chunks for i in c["id"]] == [r[0] for r in records]
    pred = predictor.predict(seqs)
    np.testing.assert_allclose(frame[:, 0], pred.probs[:, 0], rtol=1e-6)
    np.testing.assert_allclose(frame[:, 1], pred.logits[:, 0], rtol=1e-6)
    only = next(predict_records(predictor, records, output="logit"))
    assert list(only.columns) == ["id", "label_logit"]


def test_multiclass_and_regression_columns(tmp_path: Path) -> None:
    _save(
        tmp_path / "mc",
        "cnn",
        CNN,
        task="multiclass",
        n_outputs=3,
        target_names=["cls"],
        output_names=["cls_0", "cls_1", "cls_2"],
    )
    pred = load(tmp_path / "mc")
    out = pred.predict(_seqs(6))
    np.testing.assert_allclose(out.probs.sum(axis=1), 1.0, rtol=1e-5)
    assert pred.columns("prob") == ["cls_0_prob", "cls_1_prob", "cls_2_prob"]
    _save(tmp_path / "reg", "cnn", CNN, task="regression", n_outputs=2)
    reg = load(tmp_path / "reg")
    out = reg.predict(_seqs(6))
    np.testing.assert_array_equal(out.probs, out.logits)
    assert reg.columns() == ["t0_pred", "t1_pred", "t0_raw", "t1_raw"]


def test_hybrid_needs_tracks(tmp_path: Path) -> None:
    params = {"filters": 4, "width": 5, "track_filters": 2, "track_width": 3, "dense": 4}
    model = _save(tmp_path / "hy", "hybrid", params, n_tracks=1, track_names=["dnase"])
    pred = load(tmp_path / "hy")
    with pytest.raises(InputError, match=r"needs 1 input track\(s\) \(dnase\)"):
        pred.predict(_seqs(2))
    x = np.concatenate(
        [one_hot(_seqs(4)), np.random.default_rng(0).random((4, 1, LENGTH))], axis=1
    ).astype(np.float32)
    with torch.inference_mode():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(pred.predict(x, batch_size=3).logits, expected)


def test_weights_that_do_not_fit_the_description(tmp_path: Path) -> None:
    _save(tmp_path / "m", "cnn", CNN)
    meta_path = tmp_path / "m" / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["model"]["filters"] = 16
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="the weights do not fit the 'cnn' model") as info:
        load(tmp_path / "m")
    assert "\n" not in str(info.value)
    meta["model"]["filters"] = 8
    meta["arch"] = "cnn-xl"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="does not describe a buildable model.*cnn-xl"):
        load(tmp_path / "m")
    meta["arch"], meta["task"] = "cnn", "mlm"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="cannot predict targets"):
        load(tmp_path / "m")


def test_predict_module_does_not_import_lightning(cnn_bundle) -> None:
    code = (
        "import sys\n"
        "from cislearn.predict import load\n"
        f"p = load({str(cnn_bundle[0])!r})\n"
        f"p.predict(['A' * {LENGTH}])\n"
        "print([m for m in sys.modules if 'lightning' in m])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Keras HDF5 import against forward passes written independently in numpy from the weights.

The shared workshop model is read with h5py directly here (not via the importer); small
Keras-like files for the other layers are written with h5py in the layout Keras 2 uses
(``model_config`` JSON attribute, ``model_weights/<layer>/<layer>/<name>:0`` datasets).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score as auroc

from cislearn.encode import one_hot
from cislearn.errors import ModelLoadError
from cislearn.models.keras import read_keras
from conftest import read_fa

SHARED = Path(__file__).parents[2] / "shared" / "data"
CNN1 = SHARED / "workshop_models" / "CNN1_model_CTCF.hdf5"
L = 30
RNG = np.random.default_rng(3)


# -- numpy reference layers (Keras semantics, channels last) ---------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_conv(x, kernel, bias, padding="valid"):
    width = kernel.shape[0]
    if padding == "same":
        total = width - 1
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, width, axis=1)  # (n, L', C, W)
    return np.einsum("nlcw,wcf->nlf", win, kernel) + bias


def np_lstm(x, kernel, rec, bias, *, sequences=False):
    n, length, _ = x.shape
    units = rec.shape[0]
    h, c, out = np.zeros((n, units)), np.zeros((n, units)), []
    for t in range(length):
        z = x[:, t] @ kernel + h @ rec + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1) if sequences else h


def np_gru(x, kernel, rec, bias, *, sequences=False):
    n, length, _ = x.shape
    units = rec.shape[0]
    h, out = np.zeros((n, units)), []
    for t in range(length):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        hz, hr, hh = np.split(h @ rec + bias[1], 3, axis=1)
        z, r = sigmoid(xz + hz), sigmoid(xr + hr)
        h = z * h + (1 - z) * np.tanh(xh + r * hh)
        out.append(h)
    return np.stack(out, 1) if sequences else h


def np_simple_rnn(x, kernel, rec, bias, *, sequences=False):
    h, out = np.zeros((x.shape[0], rec.shape[0])), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ rec + bias)
        out.append(h)
    return np.stack(out, 1) if sequences else h


# -- writing Keras-like HDF5 files -----------------------------------------------------------


def keras_layer(cls: str, name: str, **config) -> dict:
    return {"class_name": cls, "config": {"name": name, "trainable": True, **config}}


def write_keras(path: Path, model_config: dict, weights: dict[str, list[tuple[str, np.ndarray]]]):
    """``weights``: layer name → [(path inside the layer group, array)] in Keras order."""
    with h5py.File(path, "w") as fh:
        fh.attrs["model_config"] = json.dumps(model_config).encode()
        fh.attrs["keras_version"] = b"2.3.0-tf"
        fh.attrs["backend"] = b"tensorflow"
        group = fh.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode() for n in weights])
        for name, items in weights.items():
            layer = group.create_group(name)
            layer.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w, _ in items])
            for w, value in items:
                layer.create_dataset(f"{name}/{w}", data=value.astype(np.float32))


def sequential(layers: list[dict], channels: int = 4, length: int | None = L) -> dict:
    layers[0]["config"]["batch_input_shape"] = [None, length, channels]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}


def rand(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def onehot(n: int, length: int = L) -> np.ndarray:
    """(n, length, 4) channels-last one-hot, A, C, G, T."""
    return np.eye(4, dtype=np.float32)[RNG.integers(0, 4, (n, length))]


def predict(path: Path, x_last: np.ndarray) -> np.ndarray:
    """Probabilities of the imported model for channels-last input."""
    km = read_keras(path)
    model = km.build()
    with torch.no_grad():
        raw = model(torch.from_numpy(np.ascontiguousarray(x_last.transpose(0, 2, 1))))
    return torch.sigmoid(raw).numpy() if km.task in ("binary", "multilabel") else raw.numpy()


# -- the shared workshop model -----------------------------------------------------------------


def cnn1_numpy(x_last: np.ndarray) -> np.ndarray:
    with h5py.File(CNN1, "r") as fh:
        g = fh["model_weights"]

        def w(layer, name):
            return g[f"{layer}/{layer}_1/{name}:0"][()].astype(np.float64)

        h = np.maximum(np_conv(x_last, w("conv1d_cnn1", "kernel"), w("conv1d_cnn1", "bias")), 0)
        h = h.max(axis=1)  # global max pool; dropout is the identity at prediction
        h = np.maximum(h @ w("10dense_cnn1", "kernel") + w("10dense_cnn1", "bias"), 0)
        h = h @ w("2ndlastlayer_cnn1", "kernel") + w("2ndlastlayer_cnn1", "bias")
        return sigmoid(h @ w("lastlayer_cnn1", "kernel") + w("lastlayer_cnn1", "bias"))


def test_workshop_cnn1_matches_numpy_on_ctcf(ctcf) -> None:
    pos, neg = read_fa(ctcf / "pos.fa.gz"), read_fa(ctcf / "neg.fa.gz")
    km = read_keras(CNN1)
    assert (km.arch, km.task, km.length, km.n_outputs, km.n_tracks) == (
        "layers",
        "binary",
        201,
        1,
        0,
    )
    assert km.info["final_activation"] == "sigmoid"
    model = km.build()
    x = one_hot(pos + neg)  # (n, 4, 201), A, C, G, T
    with torch.no_grad():
        probs = torch.sigmoid(model(torch.from_numpy(x))).numpy()[:, 0]
    subset = np.r_[0:600, len(pos) : len(pos) + 600]
    want = cnn1_numpy(x[subset].transpose(0, 2, 1).astype(np.float64))[:, 0]
    assert np.abs(probs[subset] - want).max() <= 1e-5
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    assert abs(auroc(labels, probs) - 0.988) < 0.005  # the README's figure
    assert abs(((probs > 0.5) == labels).mean() - 0.945) < 0.01
    assert model.local_parts() is not None  # fast mutation maps apply


# -- small hand-written files, each against numpy --------------------------------------------


def test_conv_batchnorm_maxpool_flatten_dense(tmp_path) -> None:
    k, b = rand(5, 4, 6), rand(6)
    gamma, beta, mean, var = rand(6), rand(6), rand(6), np.abs(rand(6)) + 0.5
    dk, db = rand(15 * 6, 1), rand(1)
    layers = [
        keras_layer(
            "Conv1D",
            "conv",
            filters=6,
            kernel_size=[5],
            strides=[1],
            padding="same",
            dilation_rate=[1],
            activation="linear",
            use_bias=True,
        ),
        keras_layer(
            "BatchNormalization",
            "bn",
            axis=-1,
            momentum=0.99,
            epsilon=0.001,
            center=True,
            scale=True,
        ),
        keras_layer("Activation", "act", activation="relu"),
        keras_layer("MaxPooling1D", "pool", pool_size=[2], strides=[2], padding="valid"),
        keras_layer("Flatten", "flat"),
        keras_layer("Dense", "out", units=1, activation="sigmoid", use_bias=True),
    ]
    weights = {
        "conv": [("kernel:0", k), ("bias:0", b)],
        "bn": [
            ("gamma:0", gamma),
            ("beta:0", beta),
            ("moving_mean:0", mean),
            ("moving_variance:0", var),
        ],
        "act": [],
        "pool": [],
        "flat": [],
        "out": [("kernel:0", dk), ("bias:0", db)],
    }
    write_keras(tmp_path / "m.h5", sequential(layers), weights)
    x = onehot(7)
    h = np_conv(x, k, b, "same")  # (7, 30, 6)
    h = np.maximum((h - mean) / np.sqrt(var + 1e-3) * gamma + beta, 0)
    h = h.reshape(7, 15, 2, 6).max(axis=2)  # max pool 2
    want = sigmoid(h.reshape(7, -1) @ dk + db)  # Keras flattens (length, channels) row-major
    km = read_keras(tmp_path / "m.h5")
    assert km.model["layers"][1] == {
        "type": "batchnorm",
        "eps": 0.001,
        "momentum": pytest.approx(0.01),
    }
    np.testing.assert_allclose(predict(tmp_path / "m.h5", x), want, atol=1e-5)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("mode", ["last", "bi_sequences", "bi_last"])
def test_recurrent_layers(tmp_path, cell, mode) -> None:
    bidirectional, sequences = mode.startswith("bi"), mode == "bi_sequences"
    units, gates = 5, {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cell]
    ref = {"LSTM": np_lstm, "GRU": np_gru, "SimpleRNN": np_simple_rnn}[cell]
    rnn_cfg = {
        "units": units,
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "return_sequences": sequences,
        "use_bias": True,
    }
    if cell == "GRU":
        rnn_cfg["reset_after"] = True
    if cell == "SimpleRNN":
        rnn_cfg.pop("recurrent_activation")

    def params():
        bias = rand(2, gates * units) if cell == "GRU" else rand(gates * units)
        return rand(6, gates * units), rand(units, gates * units), bias

    conv_k, conv_b = rand(4, 4, 6), rand(6)
    conv = keras_layer(
        "Conv1D",
        "conv",
        filters=6,
        kernel_size=[4],
        strides=[1],
        padding="valid",
        dilation_rate=[1],
        activation="relu",
        use_bias=True,
    )
    fwd, bwd = params(), params()
    names = ("kernel:0", "recurrent_kernel:0", "bias:0")
    if bidirectional:
        rnn = {
            "class_name": "Bidirectional",
            "config": {
                "name": "bi",
                "merge_mode": "concat",
                "layer": {"class_name": cell, "config": {"name": "r", **rnn_cfg}},
            },
        }
        rnn_weights = [(f"bi/forward_r/{n}", v) for n, v in zip(names, fwd, strict=True)]
        rnn_weights += [(f"bi/backward_r/{n}", v) for n, v in zip(names, bwd, strict=True)]
        tail = [keras_layer("GlobalMaxPooling1D", "gmp")] if sequences else []
    else:
        rnn = keras_layer(cell, "bi", **rnn_cfg)
        rnn_weights = [(f"bi/{n}", v) for n, v in zip(names, fwd, strict=True)]
        tail = []
    width = 2 * units if bidirectional else units
    dk, db = rand(width, 3), rand(3)
    layers = [conv, rnn, *tail, keras_layer("Dense", "out", units=3, activation="linear")]
    weights = {"conv": [("conv/kernel:0", conv_k), ("conv/bias:0", conv_b)], "bi": rnn_weights}
    weights |= {"gmp": []} if tail else {}
    weights["out"] = [("out/kernel:0", dk), ("out/bias:0", db)]
    # write_keras prefixes the layer name; strip ours
    weights = {k: [(n.split("/", 1)[1], v) for n, v in items] for k, items in weights.items()}
    write_keras(tmp_path / "r.h5", sequential(layers), weights)
    x = onehot(4)
    h = np.maximum(np_conv(x, conv_k, conv_b), 0)
    if sequences:
        f = ref(h, *fwd, sequences=True)
        b = ref(h[:, ::-1], *bwd, sequences=True)[:, ::-1]
        h = np.concatenate([f, b], axis=2).max(axis=1)
    elif bidirectional:  # final states: forward after the last base, backward after the first
        h = np.concatenate([ref(h, *fwd), ref(h[:, ::-1], *bwd)], axis=1)
    else:
        h = ref(h, *fwd)
    km = read_keras(tmp_path / "r.h5")
    assert km.task == "regression"
    np.testing.assert_allclose(predict(tmp_path / "r.h5", x), h @ dk + db, atol=1e-5)


def functional(layers, inputs, output) -> dict:
    return {
        "class_name": "Model",
        "config": {
            "name": "m",
            "layers": layers,
            "input_layers": [[n, 0, 0] for n in inputs],
            "output_layers": [[output, 0, 0]],
        },
    }


def node(cls, name, sources, **config):
    layer = keras_layer(cls, name, **config)
    layer["inbound_nodes"] = [[[s, 0, 0, {}] for s in sources]]
    return layer


def test_functional_parallel_convs_and_track_input(tmp_path) -> None:
    k1, b1, k2, b2 = rand(3, 4, 5), rand(5), rand(6, 4, 5), rand(5)
    kt, bt = rand(3, 2, 4), rand(4)
    dk, db = rand(14, 1), rand(1)
    conv = {"strides": [1], "padding": "valid", "dilation_rate": [1], "activation": "relu"}
    inp = keras_layer("InputLayer", "dna", batch_input_shape=[None, L, 4])
    inp["inbound_nodes"] = []
    acc = keras_layer("InputLayer", "acc", batch_input_shape=[None, L, 2])
    acc["inbound_nodes"] = []
    layers = [
        inp,
        acc,
        node("Conv1D", "c3", ["dna"], filters=5, kernel_size=[3], **conv),
        node("Conv1D", "c6", ["dna"], filters=5, kernel_size=[6], **conv),
        node("Conv1D", "ct", ["acc"], filters=4, kernel_size=[3], **conv),
        node("GlobalMaxPooling1D", "p3", ["c3"]),
        node("GlobalMaxPooling1D", "p6", ["c6"]),
        node("GlobalAveragePooling1D", "pt", ["ct"]),
        node("Concatenate", "cat", ["p3", "p6", "pt"], axis=-1),
        node("Dropout", "drop", ["cat"], rate=0.3),
        node("Dense", "out", ["drop"], units=1, activation="sigmoid"),
    ]
    weights = {
        "c3": [("kernel:0", k1), ("bias:0", b1)],
        "c6": [("kernel:0", k2), ("bias:0", b2)],
        "ct": [("kernel:0", kt), ("bias:0", bt)],
        "out": [("kernel:0", dk), ("bias:0", db)],
    }
    write_keras(tmp_path / "f.h5", functional(layers, ["dna", "acc"], "out"), weights)
    km = read_keras(tmp_path / "f.h5")
    assert (km.arch, km.n_tracks, km.task) == ("graph", 2, "binary")
    x = onehot(5)
    tracks = RNG.random((5, L, 2)).astype(np.float32)
    feats = [
        np.maximum(np_conv(x, k1, b1), 0).max(1),
        np.maximum(np_conv(x, k2, b2), 0).max(1),
        np.maximum(np_conv(tracks, kt, bt), 0).mean(1),
    ]
    want = sigmoid(np.concatenate(feats, axis=1) @ dk + db)
    got = predict(tmp_path / "f.h5", np.concatenate([x, tracks], axis=2))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_unsupported_layers_and_files_are_named(tmp_path) -> None:
    layers = [
        keras_layer("Conv1D", "conv", filters=2, kernel_size=[3], activation="relu"),
        keras_layer("Reshape", "reshape_7", target_shape=[56]),
        keras_layer("Dense", "out", units=1, activation="sigmoid"),
    ]
    write_keras(
        tmp_path / "u.h5",
        sequential(layers),
        {"conv": [("kernel:0", rand(3, 4, 2)), ("bias:0", rand(2))]},
    )
    with pytest.raises(
        ModelLoadError,
        match=r"u\.h5: Keras layer 'reshape_7' \(Reshape\): layer class 'Reshape' is not supported",
    ):
        read_keras(tmp_path / "u.h5")
    gru = keras_layer("GRU", "g", units=2, reset_after=False)
    write_keras(
        tmp_path / "g.h5",
        sequential([gru, keras_layer("Dense", "out", units=1)]),
        {"g": [("kernel:0", rand(4, 6)), ("recurrent_kernel:0", rand(2, 6)), ("bias:0", rand(6))]},
    )
    with pytest.raises(ModelLoadError, match="reset_after=False has no torch equivalent"):
        read_keras(tmp_path / "g.h5")
    hard = keras_layer("LSTM", "l", units=2, recurrent_activation="hard_sigmoid")
    write_keras(
        tmp_path / "h.h5",
        sequential([hard, keras_layer("Dense", "out", units=1)]),
        {"l": [("kernel:0", rand(4, 8)), ("recurrent_kernel:0", rand(2, 8)), ("bias:0", rand(8))]},
    )
    with pytest.raises(ModelLoadError, match="hard_sigmoid"):
        read_keras(tmp_path / "h.h5")
    with h5py.File(tmp_path / "w.h5", "w") as fh:
        fh.create_group("conv")
    with pytest.raises(ModelLoadError, match="no model_config attribute"):
        read_keras(tmp_path / "w.h5")
    (tmp_path / "z.keras").write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(ModelLoadError, match="not an HDF5 file"):
        read_keras(tmp_path / "z.keras")
    relu_out = [
        keras_layer("Conv1D", "conv", filters=2, kernel_size=[3]),
        keras_layer("GlobalMaxPooling1D", "p"),
        keras_layer("Dense", "out", units=1, activation="relu"),
    ]
    write_keras(
        tmp_path / "r.h5",
        sequential(relu_out),
        {
            "conv": [("kernel:0", rand(3, 4, 2)), ("bias:0", rand(2))],
            "p": [],
            "out": [("kernel:0", rand(2, 1)), ("bias:0", rand(1))],
        },
    )
    with pytest.raises(ModelLoadError, match="final activation 'relu' has no cislearn task"):
        read_keras(tmp_path / "r.h5")


def test_unfixed_length_needs_a_length(tmp_path) -> None:
    layers = [
        keras_layer("Conv1D", "conv", filters=2, kernel_size=[3], activation="relu"),
        keras_layer("GlobalMaxPooling1D", "p"),
        keras_layer("Dense", "out", units=2, activation="softmax"),
    ]
    weights = {
        "conv": [("kernel:0", rand(3, 4, 2)), ("bias:0", rand(2))],
        "p": [],
        "out": [("kernel:0", rand(2, 2)), ("bias:0", rand(2))],
    }
    write_keras(tmp_path / "n.h5", sequential(layers, length=None), weights)
    with pytest.raises(ModelLoadError, match="input length is not fixed"):
        read_keras(tmp_path / "n.h5")
    km = read_keras(tmp_path / "n.h5", length=50)
    assert (km.length, km.task, km.n_outputs) == (50, "multiclass", 2)

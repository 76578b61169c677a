"""Layer-list models: every brick's shape inference, one-batch training, errors, round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cislearn.config import resolve_config
from cislearn.errors import ConfigError, InputError
from cislearn.models.layerlist import BRICKS, Shape, infer_shapes, parse_bricks
from cislearn.models.registry import arch_config, build_model

L = 40

CONV = {"conv1d": {"filters": 8, "width": 5, "activation": "relu"}}
#: One small stack per brick: (stack, index of the brick under test, expected output shape).
CASES = {
    "conv1d": ([CONV, "global_max_pool", {"dense": {}}], 0, (8, 36)),
    "conv1d_same_stride": (
        [{"conv1d": {"filters": 6, "width": 4, "padding": "same"}}, "flatten", {"dense": {}}],
        0,
        (6, 40),
    ),
    "maxpool1d": ([CONV, {"maxpool1d": 3}, "global_max_pool", {"dense": {}}], 1, (8, 12)),
    "avgpool1d": (
        [CONV, {"avgpool1d": {"size": 4, "stride": 2}}, "global_max_pool", {"dense": {}}],
        1,
        (8, 17),
    ),
    "global_max_pool": ([CONV, "global_max_pool", {"dense": {}}], 1, (8,)),
    "global_avg_pool": ([CONV, "global_avg_pool", {"dense": {}}], 1, (8,)),
    "batchnorm": ([CONV, "batchnorm", "global_max_pool", {"dense": {}}], 1, (8, 36)),
    "dropout": ([CONV, {"dropout": 0.3}, "global_max_pool", {"dense": {}}], 1, (8, 36)),
    "dense": (
        [CONV, "global_max_pool", {"dense": {"units": 7, "activation": "elu"}}, {"dense": {}}],
        2,
        (7,),
    ),
    "dense_per_position": ([CONV, {"dense": 3}, "flatten", {"dense": {}}], 1, (3, 36)),
    "flatten": ([CONV, "flatten", {"dense": {}}], 1, (288,)),
    "activation": ([CONV, {"activation": "gelu"}, "global_max_pool", {"dense": {}}], 1, (8, 36)),
    "maxout": (
        [CONV, {"activation": {"name": "maxout", "pieces": 4}}, "global_max_pool", {"dense": {}}],
        1,
        (2, 36),
    ),
    "lstm": ([CONV, {"lstm": 6}, {"dense": {}}], 1, (6,)),
    "gru": (
        [CONV, {"gru": {"units": 5, "return_sequences": True}}, "global_max_pool", {"dense": {}}],
        1,
        (5, 36),
    ),
    "rnn": ([CONV, {"simple_rnn": {"units": 4, "activation": "relu"}}, {"dense": {}}], 1, (4,)),
    "bidirectional": (
        [
            CONV,
            {"bidirectional": {"lstm": {"units": 3, "return_sequences": True}}},
            "flatten",
            {"dense": {}},
        ],
        1,
        (6, 36),
    ),
    "attention": (
        [CONV, {"attention": {"heads": 2}}, "global_avg_pool", {"dense": {}}],
        1,
        (8, 36),
    ),
    "residual": (
        [
            CONV,
            {"residual": [{"conv1d": {"filters": 8, "width": 3, "padding": "same"}}, "batchnorm"]},
            "global_max_pool",
            {"dense": {}},
        ],
        1,
        (8, 36),
    ),
    "embedding": (
        [{"embedding": {"k": 3, "dim": 6}}, CONV, "global_max_pool", {"dense": {}}],
        0,
        (6, 38),
    ),
}


def one_hot_batch(n: int, length: int = L, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]).transpose(
        1, 2
    )


def test_every_brick_has_a_case() -> None:
    covered = {next(iter(s[i])) if isinstance(s[i], dict) else s[i] for s, i, _ in CASES.values()}
    covered |= {"maxout", "rnn"}
    assert set(BRICKS) <= covered | {"simple_rnn"}


@pytest.mark.parametrize("name", list(CASES))
def test_shape_inference_matches_the_forward_pass(name: str) -> None:
    stack, index, expected = CASES[name]
    model = build_model("layers", {"layers": stack}, length=L, n_outputs=2)
    shapes = infer_shapes(model.bricks, Shape(True, 4, L))
    shown = (
        (shapes[index + 1].channels, shapes[index + 1].length)
        if shapes[index + 1].seq
        else (shapes[index + 1].channels,)
    )
    assert shown == expected
    # every inferred shape is the real one
    x = one_hot_batch(3)
    model.eval()
    with torch.no_grad():
        for module, shape in zip(model.layers, shapes[1:], strict=True):
            x = module(x)
            want = (3, shape.channels, shape.length) if shape.seq else (3, shape.channels)
            assert tuple(x.shape) == want, module


@pytest.mark.parametrize("name", list(CASES))
def test_one_batch_train_and_predict(name: str) -> None:
    torch.manual_seed(0)
    stack, _, _ = CASES[name]
    model = build_model("layers", {"layers": stack}, length=L, n_outputs=2)
    x, y = one_hot_batch(8), torch.randint(0, 2, (8, 2)).float()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model.eval()
    with torch.no_grad():
        out1, out2 = model(x), model(x[:4])
    assert out1.shape == (8, 2) and torch.isfinite(out1).all()
    torch.testing.assert_close(out1[:4], out2, atol=1e-5, rtol=1e-5)  # batch-independent


def test_config_round_trips_through_model_dump() -> None:
    stack = CASES["bidirectional"][0]
    model = build_model("layers", {"layers": stack}, length=L, n_outputs=1)
    again = build_model("layers", model.config.model_dump(mode="json"), length=L, n_outputs=1)
    assert list(model.state_dict()) == list(again.state_dict())
    assert again.config == model.config


def test_shorthand_and_canonical_forms_agree() -> None:
    short = parse_bricks(["flatten", {"dropout": 0.2}, {"dense": 4}, {"activation": "relu"}])
    long = parse_bricks(
        [
            {"type": "flatten"},
            {"dropout": {"rate": 0.2}},
            {"type": "dense", "units": 4},
            {"activation": {"name": "relu"}},
        ]
    )
    assert short == long


@pytest.mark.parametrize(
    ("stack", "expect"),
    [
        ([{"conv1d": {"filters": -3, "width": 2}}], "model.layers[0].conv1d: filters"),
        ([{"conv1d": {"filter": 3, "width": 2}}], "did you mean 'filters'?"),
        ([{"conv": {}}], "unknown layer 'conv' (did you mean 'conv1d'?)"),
        (["flatten", "global_max_pool"], "model.layers[1] (global_max_pool)"),
        ([{"dense": {}}, {"dense": 3}], "model.layers[0].dense: units may be left out only"),
        ([{"bidirectional": {"dense": 3}}], "wraps lstm, gru or rnn"),
        ([[1, 2]], "model.layers[0]: each layer is a one-key mapping"),
        ([{"activation": "swish"}], "model.layers[0].activation: name"),
    ],
)
def test_bad_configs_fail_at_config_time_with_one_line(stack, expect) -> None:
    with pytest.raises(ConfigError) as info:
        arch_config("layers", {"layers": stack})
    assert expect in str(info.value)
    assert "\n" not in str(info.value)


def test_impossible_stack_names_layer_and_shape_at_build() -> None:
    stack = [{"conv1d": {"filters": 3, "width": 20}}, {"maxpool1d": 10}, "flatten", {"dense": {}}]
    with pytest.raises(
        ConfigError, match=r"model\.layers\[1\] \(maxpool1d\).*input shape \(3, 6\)"
    ):
        build_model("layers", {"layers": stack}, length=25, n_outputs=1)
    with pytest.raises(ConfigError, match="gives 4 values but the data has 1"):
        build_model(
            "layers", {"layers": [CONV, "global_max_pool", {"dense": 4}]}, length=L, n_outputs=1
        )
    with pytest.raises(ConfigError, match="output layer must be linear"):
        build_model(
            "layers",
            {"layers": [CONV, "global_max_pool", {"dense": {"units": 1, "activation": "sigmoid"}}]},
            length=L,
            n_outputs=1,
        )
    with pytest.raises(ConfigError, match="must be a vector"):
        build_model("layers", {"layers": [CONV]}, length=L, n_outputs=1)
    with pytest.raises(ConfigError, match="maxout: 8 channels do not split into 3s"):
        build_model(
            "layers",
            {"layers": [CONV, {"activation": {"name": "maxout", "pieces": 3}}]},
            length=L,
            n_outputs=1,
        )
    with pytest.raises(ConfigError, match="embedding reads the one-hot"):
        build_model("layers", {"layers": CASES["embedding"][0]}, length=L, n_outputs=1, n_tracks=1)


def test_min_length_and_fixed_length() -> None:
    pooled = build_model("layers", {"layers": CASES["maxpool1d"][0]}, length=L, n_outputs=1)
    assert pooled.min_length(pooled.config) == 7  # conv 5 → 3 positions → one pool window of 3
    assert pooled(one_hot_batch(2, 7)).shape == (2, 1)
    with pytest.raises(InputError, match="length must be >= 7"):
        pooled(one_hot_batch(2, 6))
    flat = build_model("layers", {"layers": CASES["flatten"][0]}, length=L, n_outputs=1)
    with pytest.raises(InputError, match="built for input length 40"):
        flat(one_hot_batch(2, 41))


def test_maxout_takes_the_max_of_each_channel_group() -> None:
    model = build_model(
        "layers",
        {"layers": [{"activation": {"name": "maxout", "pieces": 2}}, "flatten", {"dense": {}}]},
        length=3,
        n_outputs=1,
    )
    x = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    out = model.layers[0](x)
    torch.testing.assert_close(out, torch.maximum(x[:, 0::2], x[:, 1::2]))


def test_local_parts_reproduce_the_forward_pass() -> None:
    stack = [
        CONV,
        "batchnorm",
        {"dropout": 0.2},
        "global_max_pool",
        {"dense": {"units": 4, "activation": "relu"}},
        {"dense": {}},
    ]
    model = build_model("layers", {"layers": stack}, length=L, n_outputs=1).eval()
    parts = model.local_parts()
    assert parts is not None and isinstance(parts.branches[0][0], torch.nn.Conv1d)
    x = one_hot_batch(5)
    with torch.no_grad():
        via = parts.head(torch.cat([parts.pool(b(x)) for b in parts.branches], dim=1))
        torch.testing.assert_close(via, model(x))
    rnn = build_model("layers", {"layers": CASES["lstm"][0]}, length=L, n_outputs=1)
    assert rnn.local_parts() is None


def test_train_config_detects_layer_lists() -> None:
    cfg = resolve_config({"layers": [CONV, "global_max_pool", {"dense": {}}]})
    assert cfg.arch == "layers" and len(cfg.model["layers"]) == 3
    assert resolve_config({"model": {"nodes": []}}).arch == "graph"
    assert resolve_config({"arch": "cnn", "model": {"filters": 8}}).arch == "cnn"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("conv1d"),
                st.integers(1, 6),
                st.integers(1, 9),
                st.sampled_from(["valid", "same"]),
            ),
            st.tuples(st.just("maxpool1d"), st.integers(1, 4), st.booleans()),
            st.tuples(st.just("avgpool1d"), st.integers(1, 4), st.booleans()),
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 60),
)
def test_inferred_lengths_equal_torch_lengths(layers, length) -> None:
    stack = []
    for item in layers:
        if item[0] == "conv1d":
            stack.append({"conv1d": {"filters": item[1], "width": item[2], "padding": item[3]}})
        else:
            stack.append({item[0]: {"size": item[1], "ceil": item[2]}})
    bricks = parse_bricks(stack)
    try:
        shapes = infer_shapes(bricks, Shape(True, 4, length))
    except ConfigError:
        shapes = None
    model_stack = [*stack, "global_max_pool", {"dense": {}}]
    if shapes is None:
        with pytest.raises(ConfigError):
            build_model("layers", {"layers": model_stack}, length=length, n_outputs=1)
        return
    model = build_model("layers", {"layers": model_stack}, length=length, n_outputs=1)
    x = one_hot_batch(1, length)
    for module, shape in zip(list(model.layers)[: len(stack)], shapes[1:], strict=True):
        x = module(x)
        assert tuple(x.shape[1:]) == (shape.channels, shape.length)

"""Models: every architecture builds, runs at several lengths, trains, and keeps its invariants."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.models import (
    ACTIVATIONS,
    ARCHITECTURES,
    REGISTRY,
    RCAverage,
    activation,
    arch_config,
    build_model,
    kmer_token_ids,
    reverse_complement_batch,
    summarize,
)
from cislearn.models.transformer import CLS, N_SPECIAL, UNK, vocab_size


def assert_close(
    got: torch.Tensor, want: torch.Tensor, *, atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Like torch.testing.assert_close, without its slow first import (sympy, ~2 s)."""
    np.testing.assert_allclose(
        got.detach().cpu().numpy(), want.detach().cpu().numpy(), atol=atol, rtol=rtol
    )


# Small non-default options per architecture (also keeps the parametrised tests fast).
TWEAKS: dict[str, dict[str, Any]] = {
    "cnn": {
        "filters": 8,
        "width": 6,
        "dense": 0,
        "activation": "elu",
        "batch_norm": True,
        "padding": "same",
        "pool": "maxmean",
    },
    "cnn-multi": {"filters": 6, "widths": [3, 10], "dense": 5, "activation": "gelu"},
    "cnn-deep": {"filters": [8, 8], "widths": [5, 4], "pool_sizes": [4, 2], "pool": "mean"},
    "lstm": {"cell": "gru", "units": 8, "layers": 2, "pool": "last", "dense": 4},
    "cnn-lstm": {"filters": 8, "width": 9, "pool_size": 4, "cell": "rnn", "units": 6},
    "basset": {"filters": [8, 8, 8], "dense": [16], "batch_norm": False, "activation": "tanh"},
    "resnet": {"filters": 8, "blocks": 3, "stem_pool": 4, "pool": "maxmean", "dense": 8},
    "transformer": {"k": 3, "d_model": 16, "heads": 2, "layers": 1, "ff": 32, "pool": "mean"},
    "hybrid": {"filters": 8, "track_filters": 3, "track_pool": "max", "batch_norm": True},
    # layer lists and graphs hold validated brick configs: compare like with like
    "layers": {
        "layers": list(
            arch_config(
                "layers",
                {
                    "layers": [
                        {"conv1d": {"filters": 8, "width": 5, "activation": "relu"}},
                        {"maxpool1d": 2},
                        {"bidirectional": {"gru": {"units": 4, "return_sequences": True}}},
                        "global_avg_pool",
                        {"dense": {"units": 4, "activation": "elu"}},
                        {"dense": {}},
                    ]
                },
            ).layers
        )
    },
    "graph": {
        "nodes": list(
            arch_config(
                "graph",
                {
                    "nodes": [
                        {
                            "name": "a",
                            "inputs": "sequence",
                            "layers": [{"conv1d": {"filters": 4, "width": 3}}, "global_max_pool"],
                        },
                        {
                            "name": "b",
                            "inputs": "sequence",
                            "layers": [{"conv1d": {"filters": 4, "width": 9}}, "global_avg_pool"],
                        },
                        {"name": "out", "inputs": ["a", "b"], "layers": [{"dense": {}}]},
                    ]
                },
            ).nodes
        )
    },
    "wide-deep": {
        "deep_arch": ["cnn"],
        "deep": [
            arch_config("cnn", {"filters": 6, "width": 5, "dense": 0}).model_dump(mode="json")
        ],
        "k": 3,
        "fit": "joint",
    },
}
LENGTHS = (50, 201, 1000)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small ops on a shared 2-core machine run up to 20x slower with 2 intra-op threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_tracks_for(arch: str) -> int:
    return 2 if arch == "hybrid" else 0


def one_hot_batch(n: int, length: int, *, n_tracks: int = 0, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=gen)
    x = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float()
    if n_tracks:
        x = torch.cat([x, torch.rand(n, n_tracks, length, generator=gen)], dim=1)
    return x


def build(arch: str, params: dict | None, length: int, n_outputs: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        arch, params, length=length, n_outputs=n_outputs, n_tracks=n_tracks_for(arch)
    )


def test_registry_lists_every_architecture() -> None:
    assert ARCHITECTURES == tuple(REGISTRY) == tuple(TWEAKS)
    for config_class, model_class in REGISTRY.values():
        assert config_class.model_config["extra"] == "forbid"
        assert model_class.arch in ARCHITECTURES


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_defaults_forward_shapes(arch: str, length: int) -> None:
    # The default lstm reads 1 kb sequentially (slow on CPU); its small tweak covers 1 kb.
    params = TWEAKS[arch] if arch == "lstm" and length == 1000 else None
    for n_outputs in (1, 3):
        model = build(arch, params, length, n_outputs).eval()
        assert model.arch == arch
        assert model.config == arch_config(arch, params)
        with torch.no_grad():
            out = model(one_hot_batch(2, length, n_tracks=n_tracks_for(arch)))
        assert out.shape == (2, n_outputs)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_tweaked_config_trains_and_is_deterministic(arch: str) -> None:
    model = build(arch, TWEAKS[arch], 201, 3)
    for key, value in TWEAKS[arch].items():
        got = getattr(model.config, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key
    x = one_hot_batch(4, 201, n_tracks=n_tracks_for(arch))
    model.train()
    model(x).square().sum().backward()
    for name, param in model.named_parameters():
        if name.startswith("mlm_head."):  # pretraining head: not used by forward
            assert param.grad is None
            continue
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_batch_size_does_not_change_predictions(arch: str) -> None:
    model = build(arch, TWEAKS[arch], 120, 2).eval()
    x = one_hot_batch(5, 120, n_tracks=n_tracks_for(arch), seed=1)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(5)])
        pairs = torch.cat([model(x[:2]), model(x[2:])])
    assert_close(together, alone, atol=1e-5, rtol=1e-4)
    assert_close(together, pairs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_rc_average_is_strand_symmetric(arch: str) -> None:
    model = build(arch, {**TWEAKS[arch], "rc_average": True}, 80, 2).eval()
    assert isinstance(model, RCAverage)
    assert model.arch == arch and model.config.rc_average
    x = one_hot_batch(3, 80, n_tracks=n_tracks_for(arch), seed=2)
    with torch.no_grad():
        assert_close(model(x), model(reverse_complement_batch(x)), atol=1e-5, rtol=1e-4)
        plain = model.model(x)
    assert not torch.allclose(plain, model.model(reverse_complement_batch(x)), atol=1e-4)


def test_rc_wrapper_config_rebuilds_the_same_module_tree() -> None:
    wrapped = RCAverage(build("cnn", TWEAKS["cnn"], 60))
    assert wrapped.config.rc_average and not wrapped.model.config.rc_average
    dumped = json.loads(json.dumps(wrapped.config.model_dump()))
    rebuilt = build_model(wrapped.arch, dumped, length=60, n_outputs=1)
    assert isinstance(rebuilt, RCAverage)
    rebuilt.load_state_dict(wrapped.state_dict())  # same keys, "model." prefix
    x = one_hot_batch(2, 60)
    assert_close(rebuilt.eval()(x), wrapped.eval()(x))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_config_round_trips_through_json(arch: str) -> None:
    model = build(arch, TWEAKS[arch], 100, 2)
    dumped = json.loads(json.dumps(model.config.model_dump()))
    again = build_model(
        model.arch, dumped, length=model.length, n_outputs=model.n_outputs, n_tracks=model.n_tracks
    )
    assert again.config == model.config
    again.load_state_dict(model.state_dict())


def test_reverse_complement_batch() -> None:
    seq = "AACGTTTGCAN"
    lookup = {"A": 0, "C": 1, "G": 2, "T": 3}
    x = torch.zeros(1, 5, len(seq))
    for i, base in enumerate(seq):
        if base in lookup:
            x[0, lookup[base], i] = 1
    x[0, 4] = torch.arange(len(seq), dtype=torch.float32)
    rc = reverse_complement_batch(x)
    comp = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
    expected = "".join(comp[b] for b in reversed(seq))
    decoded = "".join("ACGT"[int(col.argmax())] if col.sum() else "N" for col in rc[0, :4].T)
    assert decoded == expected
    assert rc[0, 4].tolist() == list(reversed(range(len(seq))))  # tracks: reversed only
    assert torch.equal(reverse_complement_batch(rc), x)


def test_bad_config_key_or_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^model\.filters: must be > 0 \(got -3\)$"):
        arch_config("cnn", {"filters": -3})
    with pytest.raises(ConfigError, match=r"model\.filterz: unknown key .*did you mean 'filters'"):
        arch_config("cnn", {"filterz": 3})
    with pytest.raises(ConfigError, match=r"model\.activation: must be one of .*'relux'"):
        arch_config("cnn", {"activation": "relux"})
    with pytest.raises(ConfigError, match=r"model\.widths\[1\]: must be > 0"):
        arch_config("cnn-multi", {"widths": [3, 0]})
    with pytest.raises(ConfigError, match=r"model\.dropout: must be < 1"):
        arch_config("basset", {"dropout": 1.0})
    with pytest.raises(ConfigError, match=r"model\.units: must be an integer"):
        arch_config("lstm", {"units": "many"})
    with pytest.raises(ConfigError, match=r"model\.cell: must be one of"):
        arch_config("cnn-lstm", {"cell": "transformer"})
    with pytest.raises(ConfigError, match="divisible by heads"):
        arch_config("transformer", {"d_model": 30, "heads": 4})
    with pytest.raises(ConfigError, match=r"model\.filters: needs at least 1 value"):
        arch_config("basset", {"filters": []})
    with pytest.raises(ConfigError, match="pool_sizes has 3"):
        arch_config("cnn-deep", {"filters": [8, 8]})
    with pytest.raises(ConfigError, match="allowed: cnn, cnn-multi"):
        arch_config("cnnn")
    with pytest.raises(ConfigError, match="mapping"):
        arch_config("cnn", [("filters", 3)])  # type: ignore[arg-type]
    for arch in ARCHITECTURES:  # every problem message is one line
        with pytest.raises(ConfigError) as info:
            arch_config(arch, {"nope": 1, "rc_average": "maybe"})
        assert "\n" not in str(info.value) and "model.nope" in str(info.value)


def test_build_rejects_shapes_the_arch_cannot_take() -> None:
    with pytest.raises(ConfigError, match="hybrid: needs at least 1 extra per-base track"):
        build_model("hybrid", length=100, n_outputs=1)
    with pytest.raises(ConfigError, match="length must be >= 16"):
        build_model("cnn", length=10, n_outputs=1)
    with pytest.raises(ConfigError, match="length must be >= 48"):
        build_model("basset", length=40, n_outputs=1)
    with pytest.raises(ConfigError, match="n_outputs must be >= 1"):
        build_model("resnet", length=100, n_outputs=0)


def test_forward_rejects_wrong_input() -> None:
    model = build_model("cnn", length=100, n_outputs=1)
    with pytest.raises(InputError, match=r"expected 4 input channels .*got 5"):
        model(torch.zeros(2, 5, 100))
    with pytest.raises(InputError, match="float tensor"):
        model(torch.zeros(2, 4, 100, dtype=torch.long))
    with pytest.raises(InputError, match="length must be >= 16"):
        model(torch.zeros(2, 4, 12))
    assert model(torch.zeros(2, 4, 300)).shape == (2, 1)  # global pooling: longer is fine
    basset = build_model("basset", TWEAKS["basset"], length=100, n_outputs=1)
    with pytest.raises(InputError, match="built for input length 100; got 120"):
        basset(torch.zeros(1, 4, 120))


def test_activation_factory() -> None:
    x = torch.linspace(-2, 2, 9)
    for name in ACTIVATIONS:
        module = activation(name)
        assert module(x).shape == x.shape
        assert module is not activation(name)  # a fresh module each call
    with pytest.raises(ConfigError, match="allowed: relu, elu"):
        activation("swish")


def slow_kmer_ids(x: torch.Tensor, k: int) -> list[list[int]]:
    """Reference: decode each position to a letter, then read each k-mer as a base-4 number."""
    rows = []
    for sample in x[:, :4]:
        letters = ""
        for col in sample.T.tolist():
            letters += "N" if len(set(col)) == 1 else "ACGT"[col.index(max(col))]
        ids = []
        for i in range(len(letters) - k + 1):
            kmer = letters[i : i + k]
            if "N" in kmer:
                ids.append(UNK)
            else:
                ids.append(
                    N_SPECIAL + sum("ACGT".index(b) * 4 ** (k - 1 - j) for j, b in enumerate(kmer))
                )
        rows.append(ids)
    return rows


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet="ACGTN", min_size=1, max_size=30),
    st.integers(1, 6),
    st.sampled_from([0.0, 0.25]),
)
def test_kmer_tokens_match_slow_reference(seq: str, k: int, n_value: float) -> None:
    x = torch.zeros(1, 4, len(seq))
    for i, base in enumerate(seq):
        if base == "N":
            x[0, :, i] = n_value
        else:
            x[0, "ACGT".index(base), i] = 1
    if len(seq) < k:
        return
    assert kmer_token_ids(x, k).tolist() == slow_kmer_ids(x, k)


def test_transformer_tokens_mlm_head_and_encoder_transfer() -> None:
    params = TWEAKS["transformer"]
    model = build("transformer", params, 40)
    x = one_hot_batch(3, 40, seed=4)
    x[0, :, 5] = 0.25  # an N
    tokens = model.tokenize(x)
    assert tokens.shape == (3, 40 - 3 + 2)
    assert (tokens[:, 0] == CLS).all() and (tokens[0, 4:7] == UNK).all()
    assert tokens.max() < vocab_size(3)
    states = model.forward_tokens(tokens)
    assert states.shape == (3, tokens.shape[1], 16)
    assert model.mlm_head(states).shape == (3, tokens.shape[1], vocab_size(3))
    # fine-tuning: a fresh classifier takes the pretrained encoder and encodes identically
    torch.manual_seed(1)
    clf = build_model("transformer", params, length=40, n_outputs=2).eval()
    model.eval()
    clf.load_encoder_state_dict(model.encoder_state_dict())
    with torch.no_grad():
        assert_close(clf.forward_tokens(tokens), model.forward_tokens(tokens))
    other = build_model("transformer", {**params, "d_model": 32}, length=40, n_outputs=1)
    with pytest.raises(ModelLoadError, match="do not fit"):
        other.load_encoder_state_dict(model.encoder_state_dict())


def test_transformer_learned_positions_cap_the_length() -> None:
    model = build_model(
        "transformer", {**TWEAKS["transformer"], "positional": "learned"}, length=30, n_outputs=1
    )
    assert model(one_hot_batch(2, 30)).shape == (2, 1)
    with pytest.raises(InputError, match="learned positions cover 29"):
        model(one_hot_batch(2, 31))


def test_transformer_ignores_padding_tokens() -> None:
    model = build("transformer", TWEAKS["transformer"], 30).eval()
    tokens = model.tokenize(one_hot_batch(1, 30))
    padded = torch.cat([tokens, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        short = model.forward_tokens(tokens)
        long = model.forward_tokens(padded)[:, : tokens.shape[1]]
    assert_close(short, long, atol=1e-5, rtol=1e-4)


def test_summary_table_and_mode_restored() -> None:
    model = build("cnn", None, 201)
    model.train()
    text = summarize(model, length=201)
    assert model.training
    n_params = sum(p.numel() for p in model.parameters())
    assert f"Total params: {n_params:,}" in text
    assert "Conv1d" in text and "[1, 128, 186]" in text  # valid conv: 201 - 16 + 1
    text = summarize(build("hybrid", TWEAKS["hybrid"], 100), length=100, n_tracks=2)
    assert "Trainable params" in text


def test_cnn_learns_a_motif() -> None:
    rng = np.random.default_rng(0)
    n, length = 400, 60
    codes = rng.integers(0, 4, size=(n, length))
    labels = np.arange(n) % 2
    motif = ["ACGT".index(b) for b in "GGGCGG"]
    for i in np.flatnonzero(labels):
        start = rng.integers(0, length - 6)
        codes[i, start : start + 6] = motif
    x = torch.nn.functional.one_hot(torch.as_tensor(codes), 4).transpose(1, 2).float()
    y = torch.as_tensor(labels, dtype=torch.float32)
    torch.manual_seed(0)
    model = build_model("cnn", {"filters": 16}, length=length, n_outputs=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        scores = model.eval()(x)[:, 0].numpy()
    assert roc_auc_score(labels, scores) > 0.9

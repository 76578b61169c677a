"""Graph models: parallel branches, sequence + track inputs, merges, errors, bundle round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cislearn.errors import ConfigError
from cislearn.io.bundle import save_bundle
from cislearn.models.registry import arch_config, build_model
from cislearn.predict import load

L = 40


def branch(name: str, width: int, source: str = "sequence", pool: str = "global_max_pool") -> dict:
    return {
        "name": name,
        "inputs": source,
        "layers": [{"conv1d": {"filters": 6, "width": width, "activation": "relu"}}, pool],
    }


HEAD = {"dropout": 0.5}, {"dense": {"units": 8, "activation": "relu"}}, {"dense": {}}
CNN2 = {
    "nodes": [
        branch("c5", 5),
        branch("c9", 9),
        {"name": "head", "inputs": ["c5", "c9"], "layers": list(HEAD)},
    ]
}
DEEPG4 = {
    "nodes": [
        branch("seq", 7),
        branch("acc", 3, source="tracks", pool="global_avg_pool"),
        {"name": "merged", "inputs": ["seq", "acc"], "merge": "concat"},
        {"name": "out", "inputs": "merged", "layers": [{"dense": {}}]},
    ]
}
ADD = {
    "nodes": [
        {
            "name": "a",
            "inputs": "input",
            "layers": [{"conv1d": {"filters": 4, "width": 3, "padding": "same"}}],
        },
        {
            "name": "b",
            "inputs": "a",
            "layers": [{"conv1d": {"filters": 4, "width": 5, "padding": "same"}}],
        },
        {"name": "sum", "inputs": ["a", "b"], "merge": "add", "layers": ["flatten", {"dense": {}}]},
    ]
}


def batch(n: int, channels: int = 4, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, L))].transpose(0, 2, 1)
    if channels > 4:
        x = np.concatenate([x, rng.random((n, channels - 4, L), dtype=np.float32)], axis=1)
    return torch.from_numpy(np.ascontiguousarray(x))


@pytest.mark.parametrize(("config", "tracks"), [(CNN2, 0), (DEEPG4, 2), (ADD, 0)])
def test_one_batch_train_and_predict(config, tracks) -> None:
    torch.manual_seed(0)
    model = build_model("graph", config, length=L, n_outputs=2, n_tracks=tracks)
    x, y = batch(8, 4 + tracks), torch.randint(0, 2, (8, 2)).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    torch.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (8, 2) and torch.isfinite(out).all()
    torch.testing.assert_close(model(x[:3]), out[:3], atol=1e-5, rtol=1e-5)


def test_branches_compute_what_the_nodes_say() -> None:
    model = build_model("graph", CNN2, length=L, n_outputs=1).eval()
    x = batch(4)
    with torch.no_grad():
        c5, c9 = model.nodes["c5"](x), model.nodes["c9"](x)
        assert c5.shape == (4, 6) and c9.shape == (4, 6)
        torch.testing.assert_close(model(x), model.nodes["head"](torch.cat([c5, c9], dim=1)))


def test_track_branch_reads_only_the_tracks() -> None:
    model = build_model("graph", DEEPG4, length=L, n_outputs=1, n_tracks=2).eval()
    assert model.nodes["acc"][0].conv.in_channels == 2
    assert model.nodes["seq"][0].conv.in_channels == 4
    x = batch(3, 6)
    y = x.clone()
    y[:, 4:] += 1.0
    with torch.no_grad():
        torch.testing.assert_close(model.nodes["seq"](x[:, :4]), model.nodes["seq"](y[:, :4]))
        assert not torch.allclose(model(x), model(y))
    with pytest.raises(ConfigError, match="reads 'tracks' but the data has no extra"):
        build_model("graph", DEEPG4, length=L, n_outputs=1)


def test_local_parts_of_parallel_convolutions() -> None:
    model = build_model("graph", CNN2, length=L, n_outputs=1).eval()
    parts = model.local_parts()
    assert parts is not None and len(parts.branches) == 2
    x = batch(5)
    with torch.no_grad():
        via = parts.head(torch.cat([parts.pool(b(x)) for b in parts.branches], dim=1))
        torch.testing.assert_close(via, model(x))
    assert build_model("graph", ADD, length=L, n_outputs=1).local_parts() is None
    assert build_model("graph", DEEPG4, length=L, n_outputs=1, n_tracks=1).local_parts() is None


@pytest.mark.parametrize(
    ("nodes", "expect"),
    [
        ([{"name": "a", "inputs": "seq"}], "input 'seq' is not sequence, tracks, input"),
        ([{"name": "sequence", "inputs": "input"}], "nodes[0].name: 'sequence' is taken"),
        (
            [branch("a", 3), {"name": "b", "inputs": ["a", "sequence"]}],
            "cannot concat shapes (6,), (4, L)",
        ),
        (
            [{"name": "a", "inputs": "sequence", "layers": [{"conv1d": {"filters": 0}}]}],
            "model.nodes[0].layers[0].conv1d: filters",
        ),
        ([{"name": "a", "input": "sequence"}], "nodes[0].inputs: required"),
        ([{"name": "a", "inputs": "b"}, {"name": "b", "inputs": "sequence"}], "an earlier node"),
    ],
)
def test_bad_graphs_fail_with_one_line(nodes, expect) -> None:
    with pytest.raises(ConfigError) as info:
        arch_config("graph", {"nodes": nodes})
    assert expect in str(info.value) and "\n" not in str(info.value)


def test_bundle_round_trip(tmp_path) -> None:
    model = build_model("graph", DEEPG4, length=L, n_outputs=1, n_tracks=2).eval()
    meta = {
        "arch": "graph",
        "model": model.config.model_dump(mode="json"),
        "length": L,
        "n_outputs": 1,
        "n_tracks": 2,
        "task": "binary",
        "target_names": ["label"],
    }
    save_bundle(tmp_path / "run", model.state_dict(), meta)
    pred = load(tmp_path / "run", device="cpu")
    x = batch(6, 6)
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(pred.predict(x.numpy()).logits, want, atol=1e-6)

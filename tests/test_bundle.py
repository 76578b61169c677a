"""Model bundles: round trip, and every kind of damaged bundle is a one-line ModelLoadError."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch

from cislearn.errors import ModelLoadError
from cislearn.io.bundle import (
    FORMAT_VERSION,
    META_FILE,
    WEIGHTS_FILE,
    is_bundle,
    read_bundle,
    read_meta,
    save_bundle,
)

META = {
    "arch": "cnn",
    "model": {"filters": 4, "width": 3},
    "length": 20,
    "n_outputs": 1,
    "n_tracks": 0,
    "task": "binary",
    "target_names": ["label"],
    "seed": 0,
}


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(4, 4, 3, generator=gen)
    return {
        "conv.weight": weight,
        "conv.bias": torch.zeros(4),
        "view": weight[:2],  # shares storage with conv.weight: must still save
        "steps": torch.tensor(7, dtype=torch.long),
    }


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    save_bundle(tmp_path / "run", _state(), META)
    return tmp_path / "run"


def test_round_trip(bundle: Path) -> None:
    assert is_bundle(bundle)
    state, meta = read_bundle(bundle)
    expected = _state()
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value)
        assert state[key].dtype == value.dtype
    assert {k: meta[k] for k in META} == META
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["alphabet"] == "ACGT"
    assert "cislearn_version" in meta and len(meta["weights_sha256"]) == 64
    # a file inside the bundle works as well as the directory
    assert read_bundle(bundle / META_FILE).meta == meta


def test_save_refuses_incomplete_meta_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks arch"):
        save_bundle(tmp_path / "a", _state(), {k: v for k, v in META.items() if k != "arch"})
    with pytest.raises(ValueError, match="cannot store a object"):
        save_bundle(tmp_path / "b", _state(), {**META, "odd": object()})
    assert not (tmp_path / "b" / WEIGHTS_FILE).exists()


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_things(tmp_path: Path, bundle: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model bundle") as info:
        read_bundle(tmp_path / "nope")
    _one_line(info)
    (bundle / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: missing"):
        read_bundle(bundle)
    (bundle / META_FILE).unlink()
    with pytest.raises(ModelLoadError, match=r"model\.json: missing"):
        read_bundle(bundle)


def test_tampered_json(bundle: Path) -> None:
    path = bundle / META_FILE
    text = path.read_text()
    path.write_text(text.replace('"arch": "cnn",', '"arch": "cnn"'))  # a comma lost
    with pytest.raises(ModelLoadError, match=r"model\.json, line \d+: invalid JSON") as info:
        read_bundle(bundle)
    _one_line(info)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": FORMAT_VERSION + 1}, "newer than this cislearn reads"),
        ({"format_version": "1"}, "invalid format_version"),
        ({"format": "keras"}, "not a cislearn model description"),
        ({"arch": None, "drop": "arch"}, "missing key"),
    ],
)
def test_bad_metadata(bundle: Path, change: dict, message: str) -> None:
    path = bundle / META_FILE
    meta = json.loads(path.read_text())
    drop = change.pop("drop", None)
    meta.update(change)
    if drop:
        del meta[drop]
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=message) as info:
        read_meta(bundle)
    assert META_FILE in _one_line(info)


def _flip_last_byte(bundle: Path) -> None:
    path = bundle / WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("drop_hash", [False, True])
def test_changed_weights_fail_the_hash_check(bundle: Path, drop_hash: bool) -> None:
    """Flipped weight bytes are caught, and so is a removed checksum (which would otherwise
    load a silently wrong model)."""
    message = "SHA-256 differs"
    if drop_hash:
        meta = json.loads((bundle / META_FILE).read_text())
        del meta["weights_sha256"]
        (bundle / META_FILE).write_text(json.dumps(meta))
        message = "no 'weights_sha256'.*cannot be verified"
    _flip_last_byte(bundle)
    with pytest.raises(ModelLoadError, match=message) as info:
        read_bundle(bundle)
    _one_line(info)


def _set_weights(bundle: Path, data: bytes) -> None:
    """Write ``data`` as the weights and record its hash, so the safetensors parser itself is
    exercised."""
    (bundle / WEIGHTS_FILE).write_bytes(data)
    meta = json.loads((bundle / META_FILE).read_text())
    meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (bundle / META_FILE).write_text(json.dumps(meta))


def test_truncated_safetensors(bundle: Path) -> None:
    path = bundle / WEIGHTS_FILE
    _set_weights(bundle, path.read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match="not a valid safetensors file") as info:
        read_bundle(bundle)
    assert WEIGHTS_FILE in _one_line(info)


class _Payload:
    """Unpickling this would create the marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_pickle_renamed_to_safetensors_is_refused_and_never_run(
    tmp_path: Path, bundle: Path
) -> None:
    marker = tmp_path / "code_ran"
    payload = pickle.dumps({"conv.weight": _Payload(marker)})
    pickle.loads(payload)  # proves the payload works when unpickled ...
    assert marker.exists()
    marker.unlink()
    _set_weights(bundle, payload)
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        read_bundle(bundle)
    assert not marker.exists()  # ... and read_bundle never unpickled it
    torch.save({"conv.weight": torch.zeros(1)}, bundle / WEIGHTS_FILE)  # a torch zip pickle
    _set_weights(bundle, (bundle / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ModelLoadError, match="not a valid safetensors file"):
        read_bundle(bundle)


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    state = _state()
    state["conv.bias"][1] = float("nan")
    save_bundle(tmp_path / "nan", state, META)
    with pytest.raises(ModelLoadError, match="'conv.bias' holds NaN"):
        read_bundle(tmp_path / "nan")


def test_resave_replaces_both_files(bundle: Path) -> None:
    state = {k: v + 1 if v.is_floating_point() else v for k, v in _state().items()}
    save_bundle(bundle, state, {**META, "seed": 5})
    new_state, meta = read_bundle(bundle)
    assert meta["seed"] == 5
    assert torch.equal(new_state["conv.bias"], torch.ones(4))
    assert not [p for p in bundle.iterdir() if p.name.endswith(".tmp")]

"""TrainConfig: defaults, one-line error messages naming key and allowed values, config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cislearn.config import (
    DEFAULT_ARCH,
    TrainConfig,
    dump_config,
    load_config,
    resolve_config,
)
from cislearn.errors import ConfigError


def test_defaults_and_auto_arch() -> None:
    cfg = TrainConfig()
    assert cfg.arch == DEFAULT_ARCH
    assert resolve_config({"arch": "auto"}).arch == DEFAULT_ARCH
    assert resolve_config({"arch": "cnn"}).arch == "cnn"
    # the default model's recipe (40 epochs at most) unless given; other archs keep 20
    assert (cfg.max_epochs, cfg.rc_augment, cfg.rc_average) == (40, True, True)
    assert resolve_config({"arch": "auto", "max_epochs": 7}).max_epochs == 7
    assert resolve_config({"arch": "cnn"}).max_epochs == 20
    assert (cfg.task, cfg.optimizer, cfg.monitor, cfg.precision) == ("auto", "adam", "auto", "auto")
    assert cfg.num_threads is None and cfg.init is None


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        TrainConfig().lr = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"optimizer": "adan"},
            "config key 'optimizer': must be one of sgd, adam, adamw, rmsprop (got 'adan')",
        ),
        (
            {"task": "clf"},
            "config key 'task': must be one of auto, binary, multilabel, multiclass, "
            "regression, counts (got 'clf')",
        ),
        ({"scheduler": "step"}, "must be one of none, plateau, cosine (got 'step')"),
        ({"devices": "all"}, "config key 'devices': must be a positive integer or one of auto"),
        ({"devices": 0}, "config key 'devices': must be a positive integer or one of auto (got 0)"),
        ({"lr": -1}, "config key 'lr': must be > 0.0 (got -1)"),
        ({"batch_size": 1.5}, "config key 'batch_size': must be an integer (got 1.5)"),
        ({"patience": -1}, "config key 'patience': must be >= 0 (got -1)"),
        ({"rc_augment": "maybe"}, "config key 'rc_augment': must be true or false (got 'maybe')"),
        ({"batch_sise": 64}, "config key 'batch_sise': unknown key; did you mean 'batch_size'?"),
        (
            {"valid_fraction": 0.5, "test_fraction": 0.6},
            "config key 'test_fraction': valid_fraction + test_fraction must be < 1 (got 1.1)",
        ),
        ({"model": [1, 2]}, "config key 'model': must be a mapping"),
        ({"loss": "hinge"}, "config key 'loss': must be one of mse, mae, huber, null"),
    ],
)
def test_error_messages_name_key_and_allowed_values(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(values)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_error_names_the_source_file_and_joins_problems() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config({"optimizer": "x", "lr": 0}, source="cfg.yaml")
    text = str(info.value)
    assert text.startswith("cfg.yaml: config key 'optimizer'")
    assert "; config key 'lr'" in text


def test_overrides_win_none_is_not_given_and_model_merges() -> None:
    cfg = resolve_config(
        {"lr": 0.01, "batch_size": 64, "model": {"filters": 32, "width": 8}},
        {"lr": 0.1, "batch_size": None, "model": {"width": 12}, "max-epochs": 3},
    )
    assert cfg.lr == 0.1
    assert cfg.batch_size == 64
    assert cfg.model == {"filters": 32, "width": 12}
    assert cfg.max_epochs == 3


def test_chromosome_lists_from_strings() -> None:
    cfg = resolve_config({}, {"valid_chroms": "chr8, chr9", "split": "chromosome"})
    assert cfg.valid_chroms == ("chr8", "chr9")
    assert cfg.split_kwargs()["valid_chroms"] == ("chr8", "chr9")
    assert cfg.split_kwargs()["method"] == "chromosome"


def test_load_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "c.yaml"
    yml.write_text("arch: cnn\nlr: 1e-3\nbatch-size: 32\nmodel:\n  filters: 16\n")
    values = load_config(yml)
    assert values == {"arch": "cnn", "lr": "1e-3", "batch_size": 32, "model": {"filters": 16}}
    assert resolve_config(values).lr == 1e-3
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"optimizer": "sgd", "momentum": 0.5}))
    assert resolve_config(load_config(js)).momentum == 0.5
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert load_config(empty) == {}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "arch: cnn\nlr: [1, 2\nseed: 3\n", r"bad\.yaml, line \d+: invalid YAML"),
        ("dup.yaml", "lr: 0.1\nseed: 1\nlr: 0.2\n", r"dup\.yaml, line 3: .*duplicate key 'lr'"),
        ("bad.json", '{"lr": 0.1,\n "seed": }', r"bad\.json, line 2: invalid JSON"),
        ("list.yaml", "- 1\n- 2\n", r"list\.yaml: a config file must be a mapping"),
    ],
)
def test_load_config_errors_name_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_python_tags_are_not_constructed(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("lr: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)
    assert not (tmp_path / "pwned").exists()


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(min_value=1e-8, max_value=10.0, allow_nan=False),
    batch_size=st.integers(min_value=1, max_value=4096),
    optimizer=st.sampled_from(["sgd", "adam", "adamw", "rmsprop"]),
    chroms=st.lists(st.text("chrXY0123456789_", min_size=1, max_size=6), max_size=3),
    devices=st.one_of(st.just("auto"), st.integers(min_value=1, max_value=8)),
    grad_clip=st.one_of(st.none(), st.floats(min_value=0.01, max_value=100.0)),
)
def test_dump_then_load_round_trips(
    tmp_path_factory: pytest.TempPathFactory,
    lr: float,
    batch_size: int,
    optimizer: str,
    chroms: list[str],
    devices: int | str,
    grad_clip: float | None,
) -> None:
    cfg = TrainConfig(
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        test_chroms=tuple(chroms),
        devices=devices,
        grad_clip=grad_clip,
        model={"widths": [8, 16], "dropout": 0.1},
    )
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_text(dump_config(cfg))
    again = resolve_config(load_config(path))
    assert again == cfg


def test_train_flags_are_exactly_the_config_keys() -> None:
    """One declaration: a TrainConfig field without a `train` flag (or a flag without a
    field) fails here; `--set model.KEY=VALUE` covers the NO_FLAG fields."""
    import inspect

    from cislearn.cli.app import NO_FLAG, train_keys
    from cislearn.cli.training import TRAIN_INPUTS, train

    flags = [p for p in inspect.signature(train).parameters if p not in TRAIN_INPUTS]
    assert sorted(flags) == sorted(train_keys())
    assert set(train_keys()) | set(NO_FLAG) == set(TrainConfig.model_fields)
    assert not set(NO_FLAG) & set(flags)

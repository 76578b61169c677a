"""Typed training configuration: the TrainConfig schema, YAML/JSON config files, validation."""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cislearn.errors import ConfigError, where

__all__ = [
    "DEFAULT_ARCH",
    "DEFAULT_RECIPE",
    "MONITORS",
    "MAX_SEED",
    "N_BOOT",
    "N_NULL",
    "Seed",
    "check_seed",
    "TrainConfig",
    "load_config",
    "resolve_config",
    "dump_config",
    "config_error",
]

#: Architecture used for ``arch: auto``: ``wide-deep``, a ``cnn`` and a ``cnn-lstm`` stacked
#: with a strand-merged 6-mer lasso, weights learned on the validation part
#: (``cislearn.stack``). Chosen by mean rank of held-out AUROC over the shared CTCF and DNase
#: sets and two simulated sets (benchmarks/default_arch.py; README "Default model" lists the
#: seeds that were run).
DEFAULT_ARCH = "wide-deep"

#: Training keys that ``arch: auto`` implies unless they are given: the recipe that won with
#: :data:`DEFAULT_ARCH` (reverse-complement augmentation of training batches,
#: strand-averaged validation and prediction, and up to 40 epochs: with 20 the CNN member
#: was still improving at the cap on every DNase split; early stopping still decides).
DEFAULT_RECIPE: dict[str, Any] = {"rc_augment": True, "rc_average": True, "max_epochs": 40}

#: Metrics that can be monitored for early stopping and the best checkpoint.
MONITORS: tuple[str, ...] = (
    "auto",
    "valid_loss",
    "valid_auroc",
    "valid_auprc",
    "valid_pearson",
    "valid_spearman",
)

PosInt = typing.Annotated[int, Field(gt=0)]

#: The largest seed: numpy's legacy and ``SeedSequence`` users, torch and Lightning all take
#: 0 … 2**32 - 1. The one range check of every ``--seed`` and of the web forms and API.
MAX_SEED = 2**32 - 1

#: Bootstrap resamples of a confidence interval (the default of every command, pipeline and
#: web job that reports intervals).
N_BOOT = 1000

#: Random substitutions scored for the empirical null of variant p-values (the default of
#: ``score-variants``, its pipeline and web jobs).
N_NULL = 10_000

#: A seed as a pydantic field type (a value outside 0 … :data:`MAX_SEED` fails validation).
Seed = typing.Annotated[int, Field(ge=0, le=MAX_SEED)]


def check_seed(value: int, *, name: str = "seed") -> int:
    """``value`` if it is a usable seed, else :class:`ConfigError` naming ``name`` and the range.

    Examples
    --------
    >>> check_seed(7)
    7
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(
            f"{name}: must be an integer from 0 to {MAX_SEED} (2**32 - 1); got {value!r}"
        )
    return value


Fraction = typing.Annotated[float, Field(ge=0.0, lt=1.0)]


class TrainConfig(BaseModel):
    """Everything ``cislearn train`` and ``cislearn pretrain`` can be told, validated once.

    Every key is also a command-line flag (``batch_size`` ↔ ``--batch-size``). Values left at
    ``auto``/None are made concrete by :func:`cislearn.train.fit` and written back into the run.

    Attributes
    ----------
    arch : str
        Architecture name from the model registry; ``auto`` → :data:`DEFAULT_ARCH`, with the
        keys of :data:`DEFAULT_RECIPE` (``rc_augment``, ``rc_average``) unless given.
    model : dict
        Architecture parameters (validated by the registry when the model is built).
    task : {"auto", "binary", "multilabel", "multiclass", "regression", "counts"}
        ``auto`` infers it from the training targets: one 0/1 column → binary; several 0/1
        columns → multilabel; one column of integers 0..K-1 with 3 <= K <= 20 classes, all
        present → multiclass; other non-negative integers → counts (Poisson); anything else
        → regression. Give the task explicitly when the guess is wrong (e.g. small counts).
    loss : {None, "mse", "mae", "huber"}
        Regression loss (default MSE); other tasks have a fixed loss
        (BCE, CE, Poisson NLL).
    optimizer, lr, weight_decay, momentum
        ``momentum`` is used by SGD and RMSprop.
    batch_size, max_epochs, patience
        Early stopping stops after ``patience`` epochs without improvement (0: never).
    monitor : str
        ``auto`` → ``valid_auroc`` for classification, ``valid_loss`` otherwise.
    scheduler : {"none", "plateau", "cosine"}
    grad_clip : float or None
        Max gradient norm.
    class_weights : bool
        Weight classes by inverse frequency (binary: positive weight).
    rc_augment : bool
        Reverse-complement a random half of each training batch.
    rc_average : bool
        Average forward and reverse-complement predictions (validation and prediction).
    seed, deterministic
        Seeds of every generator; ``deterministic`` also makes torch use deterministic
        algorithms (slower on GPU).
    accelerator, devices, num_nodes, strategy, precision
        Passed to Lightning. ``precision: auto`` → ``16-mixed`` on GPU, ``32-true`` on CPU.
        ``strategy: ddp`` runs one process per device: started by torchrun or SLURM
        (``srun``), or else by Lightning, which re-runs the command for ranks 1.. (so call
        it from a script or the CLI, not from a notebook).
    num_threads : int or None
        Torch CPU threads; None → the engine's measured default.
    split, valid_fraction, test_fraction, valid_chroms, test_chroms
        How :func:`cislearn.data.assign_split` splits a dataset that has no split yet. When
        the input's own split has no validation part (DeepBIO ``training``/``testing``), a
        seeded, stratified ``valid_fraction`` of the training records is carved from it
        (:func:`cislearn.data.carve_valid`); ``valid_fraction: 0`` trains without one (warned).
    drop_leaked : bool
        Drop held-out records whose sequence also occurs in an earlier split
        (:func:`cislearn.leakage.drop_leaked`); shared sequences are reported either way.
    init : str or None
        A pretrained bundle whose encoder weights initialise the model (``transformer``).

    Examples
    --------
    >>> cfg = TrainConfig(arch="cnn", optimizer="adamw", lr=3e-4)
    >>> cfg.optimizer, cfg.batch_size
    ('adamw', 32)
    >>> TrainConfig().arch, TrainConfig().rc_augment, TrainConfig(rc_average=False).rc_average
    ('wide-deep', True, False)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: str = Field(default="auto", validate_default=True)
    model: dict[str, Any] = Field(default_factory=dict)
    task: Literal["auto", "binary", "multilabel", "multiclass", "regression", "counts"] = "auto"
    loss: Literal["mse", "mae", "huber"] | None = None
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: typing.Annotated[float, Field(gt=0.0)] = 1e-3
    weight_decay: typing.Annotated[float, Field(ge=0.0)] = 0.0
    momentum: typing.Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    # 32, not 128: measured on the shared CTCF data (5,900 training sequences, 10 epochs, Adam
    # 1e-3), the cnn reaches test AUROC 0.990 at batch 32 and 0.985 at batch 128, and at 128 it
    # learns more slowly (0.91 test AUROC after 3 epochs); a few thousand sequences is typical.
    batch_size: PosInt = 32
    max_epochs: PosInt = 20
    patience: typing.Annotated[int, Field(ge=0)] = 5
    monitor: Literal[
        "auto", "valid_loss", "valid_auroc", "valid_auprc", "valid_pearson", "valid_spearman"
    ] = "auto"
    scheduler: Literal["none", "plateau", "cosine"] = "none"
    grad_clip: typing.Annotated[float, Field(gt=0.0)] | None = None
    class_weights: bool = False
    rc_augment: bool = False
    rc_average: bool = False
    seed: Seed = 0
    deterministic: bool = False
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    devices: PosInt | Literal["auto"] = "auto"
    num_nodes: PosInt = 1
    strategy: Literal["auto", "ddp"] = "auto"
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"] = "auto"
    num_threads: PosInt | None = None
    split: Literal["random", "chromosome", "given"] = "random"
    valid_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.2
    valid_chroms: tuple[str, ...] = ()
    test_chroms: tuple[str, ...] = ()
    drop_leaked: bool = False
    init: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _layer_list(cls, values: Any) -> Any:
        # Keras-like configs: a top-level `layers:` list (or `model: {layers: ...}` /
        # `model: {nodes: ...}` without an arch) means arch `layers` (or `graph`).
        if not isinstance(values, Mapping):
            return values
        values = dict(values)
        if "layers" in values:
            if isinstance(values.get("model"), Mapping) and values["model"].get("layers"):
                raise ValueError("give the layer list once: top-level `layers` or model.layers")
            values["model"] = {**(values.get("model") or {}), "layers": values.pop("layers")}
        model = values.get("model")
        if isinstance(model, Mapping) and values.get("arch") in (None, "auto"):
            if "layers" in model:
                values["arch"] = "layers"
            elif "nodes" in model:
                values["arch"] = "graph"
        arch = values.get("arch")
        if arch is None or (isinstance(arch, str) and arch.strip() == "auto"):
            # the default model comes with its training recipe; given keys still win
            values.update({k: v for k, v in DEFAULT_RECIPE.items() if values.get(k) is None})
        return values

    @field_validator("arch")
    @classmethod
    def _concrete_arch(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be an architecture name or 'auto'")
        return DEFAULT_ARCH if value == "auto" else value

    @field_validator("valid_chroms", "test_chroms", mode="before")
    @classmethod
    def _chrom_list(cls, value: Any) -> Any:
        # "chr8,chr9" on the command line or in YAML means the same as a list.
        if isinstance(value, str):
            return tuple(c.strip() for c in value.split(",") if c.strip())
        return value

    @field_validator("test_fraction")
    @classmethod
    def _fractions_fit(cls, value: float, info: Any) -> float:
        valid = info.data.get("valid_fraction")
        if valid is not None and valid + value >= 1.0:
            raise ValueError(f"valid_fraction + test_fraction must be < 1 (got {valid + value:g})")
        return value

    def split_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`cislearn.data.assign_split`."""
        return {
            "method": self.split,
            "valid_fraction": self.valid_fraction,
            "test_fraction": self.test_fraction,
            "valid_chroms": self.valid_chroms,
            "test_chroms": self.test_chroms,
            "seed": self.seed,
        }


# -- error messages ------------------------------------------------------------------------


def _allowed_values(annotation: Any) -> list[Any]:
    """Literal values (and None) allowed by a field annotation, in declaration order."""
    out: list[Any] = []
    origin = typing.get_origin(annotation)
    if origin is Literal:
        out.extend(typing.get_args(annotation))
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None):
                out.append(None)
            else:
                out.extend(_allowed_values(arg))
    elif origin is typing.Annotated:
        out.extend(_allowed_values(typing.get_args(annotation)[0]))
    return out


def _show(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


def _describe(error: Mapping[str, Any], model: type[BaseModel], label: Callable[[str], str]) -> str:
    """One pydantic error → ``config key 'x': must be ... (got ...)`` (``label`` names the key)."""
    loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
    key = loc[0] if loc else "?"
    got = error.get("input")
    kind = error.get("type", "")
    fields = model.model_fields
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{label(key)}: unknown key{hint} (allowed keys: {', '.join(fields)})"
    name = key
    allowed = _allowed_values(fields[key].annotation) if key in fields else []
    literals = [a for a in allowed if not isinstance(a, type)]
    if kind in ("literal_error", "enum") or (literals and kind.endswith("_type")):
        shown = ", ".join("null" if a is None else str(a) for a in literals)
        extra = ""
        if key in ("devices", "num_threads"):
            extra = "a positive integer or "
        return f"{label(name)}: must be {extra}one of {shown} (got {_show(got)})"
    ctx = error.get("ctx") or {}
    bounds = {
        "greater_than": "> {gt}",
        "greater_than_equal": ">= {ge}",
        "less_than": "< {lt}",
        "less_than_equal": "<= {le}",
    }
    if kind in bounds:
        return f"{label(name)}: must be {bounds[kind].format(**ctx)} (got {_show(got)})"
    plain = {
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "int_type": "an integer",
        "float_parsing": "a number",
        "float_type": "a number",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "a string",
        "dict_type": "a mapping of architecture parameters",
        "tuple_type": "a list",
    }
    if kind in plain:
        return f"{label(name)}: must be {plain[kind]} (got {_show(got)})"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    suffix = "" if "(got " in message else f" (got {_show(got)})"
    return f"{label(name)}: {message}{suffix}"


def config_error(
    exc: ValidationError,
    *,
    model: type[BaseModel] = TrainConfig,
    source: str | None = None,
    label: Callable[[str], str] = lambda key: f"config key '{key}'",
) -> ConfigError:
    """Turn a pydantic ValidationError into one one-line ConfigError; ``label(key)`` names a
    key (a command line names its options instead).

    Several problems are joined with ``; `` so the message stays on one line.
    """
    by_key: dict[str, list[Any]] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        by_key.setdefault(loc[0] if loc else "?", []).append(error)
    parts = []
    for errors in by_key.values():
        # A union (e.g. devices: int | "auto") fails once per member: report the last one,
        # which is the message listing every allowed form.
        parts.append(_describe(errors[-1] if len(errors) > 1 else errors[0], model, label))
    text = "; ".join(parts)
    return ConfigError(f"{source}: {text}" if source else text)


# -- files ---------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping_no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates
)


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON config file into a plain dict (not validated yet).

    Parameters
    ----------
    path : path
        ``.json`` is parsed as JSON, anything else as YAML (safe loader, duplicate keys
        rejected).

    Returns
    -------
    dict
        Top-level keys with ``-`` replaced by ``_``; validate with :func:`resolve_config`.

    Raises
    ------
    ConfigError
        Missing/unreadable file, a syntax error (naming the line), or a top level that is
        not a mapping.

    Examples
    --------
    >>> values = load_config("train.yaml")  # doctest: +SKIP
    >>> cfg = resolve_config(values, {"lr": 0.01}, source="train.yaml")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where(path, line=exc.lineno)}: invalid JSON: {exc.msg}") from None
    else:
        try:
            values = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "syntax error"
            raise ConfigError(f"{where(path, line=line)}: invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(
            f"{path}: a config file must be a mapping of keys to values "
            f"(found a {type(values).__name__})"
        )
    return _normalise_keys(values, source=str(path))


def _normalise_keys(values: Mapping[Any, Any], *, source: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            prefix = f"{source}: " if source else ""
            raise ConfigError(f"{prefix}config key {key!r}: keys must be strings")
        out[key.replace("-", "_")] = value
    return out


def resolve_config(
    file_values: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
) -> TrainConfig:
    """Merge config-file values with command-line overrides and validate them.

    Parameters
    ----------
    file_values : mapping
        Keys from :func:`load_config` (or {}).
    overrides : mapping
        Flags the user gave on the command line; they win. A None value means "not given"
        and is skipped. ``model`` dicts are merged key by key.
    source : str, optional
        Name of the config file, prefixed to error messages.

    Returns
    -------
    TrainConfig

    Raises
    ------
    ConfigError
        One line naming the key, the allowed values and what was found, e.g.
        ``config key 'optimizer': must be one of sgd, adam, adamw, rmsprop (got 'adan')``.

    Examples
    --------
    >>> resolve_config({"lr": 0.01}, {"lr": 0.1, "batch_size": None}).lr
    0.1
    """
    merged = _normalise_keys(file_values or {}, source=source)
    for key, value in _normalise_keys(overrides or {}, source=None).items():
        if value is None:
            continue
        if key == "model" and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    if merged.get("model") is None:
        merged.pop("model", None)
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as exc:
        raise config_error(exc, source=source) from None


def dump_config(config: BaseModel) -> str:
    """The config as YAML text, in field order; :func:`load_config` reads it back.

    Examples
    --------
    >>> "optimizer: adam" in dump_config(TrainConfig())
    True
    """
    values = config.model_dump(mode="json")
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=None, allow_unicode=True)

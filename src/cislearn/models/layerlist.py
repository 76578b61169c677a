"""Layer-list models (``arch: layers``): a Keras-Sequential-like list of bricks, shapes inferred."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field, field_validator
from torch import Tensor, nn

from cislearn.errors import ConfigError
from cislearn.models.bricks import (
    BRICKS,
    POSITIONWISE_BRICKS,
    Brick,
    BrickConfig,
    Conv1dBrick,
    DenseBrick,
    FlattenBrick,
    GlobalAvgPoolBrick,
    GlobalMaxPoolBrick,
    Shape,
    build_stack,
    infer_shapes,
    parse_bricks,
)
from cislearn.models.layers import ArchConfig, LocalParts, SequenceModel

__all__ = [
    "BRICKS",
    "Shape",
    "CNN1_LAYERS",
    "LayerListConfig",
    "LayerList",
    "parse_bricks",
    "infer_shapes",
    "build_stack",
    "stack_local_parts",
    "check_output",
    "resolve_units",
    "min_valid_length",
]


def min_valid_length(check: Callable[[int], object], hi: int = 1 << 20) -> int:
    """Smallest length in [1, hi] for which ``check(length)`` raises no ConfigError.

    Valid convolutions and pools only shrink the length, so validity is monotone in it and a
    binary search finds the threshold. Returns 1 when even ``hi`` fails (the error then is
    not about length and is reported when the model is built).
    """

    def ok(n: int) -> bool:
        try:
            check(n)
        except ConfigError:
            return False
        return True

    if not ok(hi):
        return 1
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo


def check_output(
    bricks: Sequence[BrickConfig], shape: Shape, n_outputs: int, *, where: str
) -> None:
    """Raise ConfigError unless the stack ends in ``n_outputs`` linear features."""
    last = bricks[-1] if bricks else None
    if shape.seq:
        raise ConfigError(
            f"{where}: the last layer gives {shape} per example; the output must be a "
            "vector: end with a global pool or flatten, then `dense: {}` (one unit per target)"
        )
    if shape.channels != n_outputs:
        raise ConfigError(
            f"{where}: the last layer gives {shape.channels} values but the data has "
            f"{n_outputs} output(s); end with `dense: {{}}` (units = number of targets)"
        )
    name = getattr(last, "activation", None) or getattr(last, "name", None)
    if name in ("sigmoid", "softplus"):
        raise ConfigError(
            f"{where}[{len(bricks) - 1}]: the output layer must be linear (drop activation "
            f"{name}); cislearn applies sigmoid, softmax or softplus itself according to the task"
        )


def resolve_units(bricks: Sequence[BrickConfig], n_outputs: int) -> list[BrickConfig]:
    """Fill ``units`` of a final ``dense`` that left it out with ``n_outputs``."""
    out = list(bricks)
    if out and isinstance(out[-1], DenseBrick) and out[-1].units is None:
        out[-1] = out[-1].model_copy(update={"units": n_outputs})
    return out


def stack_local_parts(bricks: Sequence[BrickConfig], modules: nn.Sequential) -> LocalParts | None:
    """``[conv1d, position-wise..., global pool, rest]`` as LocalParts, else None."""
    first = bricks[0] if bricks else None
    if not isinstance(first, Conv1dBrick) or first.stride != 1:
        return None
    # flat [Conv1d, act, BatchNorm1d, ...]: fast mutagenesis reads the modules one by one
    branch: list[nn.Module] = list(modules[0])
    for i in range(1, len(bricks)):
        brick = bricks[i]
        if isinstance(brick, (GlobalMaxPoolBrick, GlobalAvgPoolBrick)):
            head = nn.Sequential(*list(modules)[i + 1 :])
            return LocalParts((nn.Sequential(*branch),), modules[i], head)
        if brick.type not in POSITIONWISE_BRICKS or getattr(brick, "name", "") == "maxout":  # type: ignore[attr-defined]
            return None
        module = modules[i]
        branch.extend(list(module) if isinstance(module, nn.Sequential) else [module])
    return None


#: Default ``layers:`` stack: the teaching workshop's CNN1 (its Keras model imports to this).
CNN1_LAYERS: tuple[Any, ...] = (
    {"conv1d": {"filters": 128, "width": 16, "activation": "relu"}},
    "global_max_pool",
    {"dropout": 0.5},
    {"dense": {"units": 10, "activation": "relu"}},
    {"dense": 1},
    {"dense": {}},
)


class LayerListConfig(ArchConfig):
    """``layers``: an ordered list of bricks, as a Keras ``Sequential`` model.

    Example (the workshop's CNN1)::

        arch: layers
        model:
          layers:
            - conv1d: {filters: 128, width: 16, activation: relu}
            - global_max_pool
            - dropout: 0.5
            - dense: {units: 10, activation: relu}
            - dense: {}          # one linear unit per target

    The default is that stack (with the workshop's extra 1-unit dense layer).
    Bricks: see :data:`BRICKS`. Shapes are inferred from the input; a stack that cannot fit
    fails when the model is built, naming the layer and the shape it got.
    """

    layers: tuple[Brick, ...] = Field(default=CNN1_LAYERS, min_length=1, validate_default=True)

    @field_validator("layers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        bricks = parse_bricks(value)
        for i, brick in enumerate(bricks[:-1]):
            if isinstance(brick, DenseBrick) and brick.units is None:
                raise ValueError(f"layers[{i}].dense: units may be left out only on the last layer")
        # length-free check now: a wrong order (dense on a sequence, conv after flatten...)
        infer_shapes(resolve_units(bricks, 1), Shape(True, 4, None))
        return [b.model_dump() for b in bricks]


class LayerList(SequenceModel):
    """A model built from :class:`LayerListConfig`: ``layers.0``, ``layers.1``... in order."""

    arch = "layers"

    def __init__(
        self, config: LayerListConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        bricks = resolve_units(config.layers, int(n_outputs))
        try:
            shapes = infer_shapes(bricks, Shape(True, 4 + int(n_tracks), int(length)))
            check_output(bricks, shapes[-1], int(n_outputs), where="layers")
        except ConfigError as exc:
            raise ConfigError(f"model.{exc}") from None
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        self.bricks = bricks
        self.fixed_length = any(isinstance(b, FlattenBrick) for b in bricks)
        self.layers = build_stack(bricks, Shape(True, self.in_channels, self.length))[0]

    @classmethod
    def min_length(cls, config: LayerListConfig) -> int:
        bricks = resolve_units(config.layers, 1)
        return min_valid_length(lambda n: infer_shapes(bricks, Shape(True, 4, n)))

    def _forward(self, x: Tensor) -> Tensor:
        return self.layers(x)

    def local_parts(self) -> LocalParts | None:
        """Conv → position-wise → global pool → head stacks (e.g. Keras CNN1), else None."""
        return stack_local_parts(self.bricks, self.layers)

"""Graph models (``arch: graph``): named nodes of bricks reading named inputs (Keras ``Model``)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from torch import Tensor, nn

from cislearn.errors import ConfigError
from cislearn.models.bricks import (
    Brick,
    GlobalAvgPoolBrick,
    GlobalMaxPoolBrick,
    Shape,
    build_stack,
    error_text,
    infer_shapes,
    parse_bricks,
)
from cislearn.models.layerlist import (
    check_output,
    min_valid_length,
    resolve_units,
    stack_local_parts,
)
from cislearn.models.layers import ArchConfig, GlobalPool, LocalParts, SequenceModel

__all__ = ["INPUTS", "GraphNode", "GraphConfig", "Graph", "node_shapes"]

#: Names a node may read besides earlier nodes: the one-hot bases (N, 4, L), the extra
#: per-base tracks (N, n_tracks, L), or both stacked (N, 4 + n_tracks, L).
INPUTS: tuple[str, ...] = ("sequence", "tracks", "input")


class GraphNode(BaseModel):
    """One node: merge its inputs (``concat`` on the channel/feature axis, or ``add``), then
    apply ``layers`` (a brick list as in ``arch: layers``; may be empty for a pure merge)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    inputs: tuple[str, ...] = Field(min_length=1)
    merge: Literal["concat", "add"] = "concat"
    layers: tuple[Brick, ...] = ()

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("layers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return [b.model_dump() for b in parse_bricks(value or [], where="layers")]


#: Default ``graph:``: the workshop's CNN2, two parallel convolutions (widths 8 and 24).
CNN2_NODES: tuple[dict[str, Any], ...] = (
    {
        "name": "conv8",
        "inputs": "sequence",
        "layers": [
            {"conv1d": {"filters": 64, "width": 8, "activation": "relu"}},
            "global_max_pool",
        ],
    },
    {
        "name": "conv24",
        "inputs": "sequence",
        "layers": [
            {"conv1d": {"filters": 64, "width": 24, "activation": "relu"}},
            "global_max_pool",
        ],
    },
    {
        "name": "head",
        "inputs": ["conv8", "conv24"],
        "layers": [{"dropout": 0.5}, {"dense": {"units": 32, "activation": "relu"}}, {"dense": {}}],
    },
)


class GraphConfig(ArchConfig):
    """``graph``: nodes in order, each naming its inputs; the ``output`` node (default: the
    last) gives the model output. The default is the workshop CNN2 (two parallel
    convolutions)::

        arch: graph
        model:
          nodes:
            - {name: conv8, inputs: sequence,
               layers: [{conv1d: {filters: 64, width: 8, activation: relu}}, global_max_pool]}
            - {name: conv16, inputs: sequence,
               layers: [{conv1d: {filters: 64, width: 16, activation: relu}}, global_max_pool]}
            - {name: head, inputs: [conv8, conv16], merge: concat,
               layers: [{dropout: 0.5}, {dense: {units: 32, activation: relu}}, {dense: {}}]}
    """

    nodes: tuple[GraphNode, ...] = Field(default=CNN2_NODES, min_length=1, validate_default=True)
    output: str | None = None

    @field_validator("nodes", mode="before")
    @classmethod
    def _parse_nodes(cls, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError(f"nodes: must be a list of nodes; got {value!r}")
        out = []
        for i, node in enumerate(value):
            try:
                out.append(GraphNode.model_validate(node).model_dump())
            except ValidationError as exc:
                first = exc.errors()[0]
                if first.get("type") == "value_error" and first.get("loc") == ("layers",):
                    message = str(first.get("ctx", {}).get("error", first.get("msg")))
                    raise ValueError(f"nodes[{i}].{message}") from None
                allowed = list(GraphNode.model_fields)
                raise ValueError(f"nodes[{i}].{error_text(exc, allowed)}") from None
        return out

    @model_validator(mode="after")
    def _wiring(self) -> GraphConfig:
        known = set(INPUTS)
        for i, node in enumerate(self.nodes):
            if node.name in known or "." in node.name:
                why = "is taken" if node.name in known else "may not contain '.'"
                raise ValueError(f"nodes[{i}].name: '{node.name}' {why}")
            for src in node.inputs:
                if src not in known:
                    raise ValueError(
                        f"nodes[{i}] ('{node.name}'): input '{src}' is not {', '.join(INPUTS)} "
                        "or an earlier node (list nodes in the order data flows)"
                    )
            for j, brick in enumerate(node.layers[:-1]):
                if getattr(brick, "units", 0) is None:
                    raise ValueError(f"nodes[{i}].layers[{j}].dense: units needed")
            known.add(node.name)
        if self.output is not None and self.output not in {n.name for n in self.nodes}:
            raise ValueError(f"output: '{self.output}' is not a node")
        node_shapes(self, Shape(True, 4, None), n_tracks=1, n_outputs=1)
        return self


def _merge_shape(shapes: list[Shape], merge: str, where: str) -> Shape:
    first = shapes[0]
    if len(shapes) == 1:
        return first
    same_kind = all(s.seq == first.seq for s in shapes)
    lengths = {s.length for s in shapes if s.seq}
    if not same_kind or len(lengths) > 1:
        shown = ", ".join(str(s) for s in shapes)
        raise ConfigError(
            f"{where}: cannot {merge} shapes {shown} (all must be vectors, or sequences "
            "of one length: use same padding or pool before merging)"
        )
    if merge == "add":
        if any(s != first for s in shapes):
            raise ConfigError(f"{where}: add needs equal shapes; got {shapes}")
        return first
    return first._replace(channels=sum(s.channels for s in shapes))


def node_shapes(
    config: GraphConfig, bases: Shape, *, n_tracks: int, n_outputs: int
) -> dict[str, tuple[Shape, list]]:
    """Input shape and resolved bricks of every node, in order (ConfigError on a misfit)."""
    values = {
        "sequence": bases,
        "tracks": bases._replace(channels=n_tracks),
        "input": bases._replace(channels=4 + n_tracks),
    }
    out: dict[str, tuple[Shape, list]] = {}
    last = config.output or config.nodes[-1].name
    for i, node in enumerate(config.nodes):
        where = f"nodes[{i}]"
        if "tracks" in node.inputs and n_tracks < 1:
            raise ConfigError(
                f"{where} ('{node.name}') reads 'tracks' but the data has no extra "
                "per-base tracks (add tracks or read 'sequence')"
            )
        shape = _merge_shape([values[s] for s in node.inputs], node.merge, where)
        bricks = resolve_units(node.layers, n_outputs) if node.name == last else list(node.layers)
        raw = len(node.inputs) == 1 and node.inputs[0] in ("sequence", "input")
        shapes = infer_shapes(bricks, shape, where=f"{where}.layers", raw=raw)
        out[node.name] = (shape, bricks)
        values[node.name] = shapes[-1]
    return out | {"": (values[last], [])}


class Graph(SequenceModel):
    """A model built from :class:`GraphConfig`; node ``n``'s bricks are ``nodes.n.0``, ..."""

    arch = "graph"

    def __init__(
        self, config: GraphConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        out_node = config.output or config.nodes[-1].name
        index = [n.name for n in config.nodes].index(out_node)
        try:
            plan = node_shapes(
                config,
                Shape(True, 4, int(length)),
                n_tracks=int(n_tracks),
                n_outputs=int(n_outputs),
            )
            check_output(
                plan[out_node][1], plan[""][0], int(n_outputs), where=f"nodes[{index}].layers"
            )
        except ConfigError as exc:
            raise ConfigError(f"model.{exc}") from None
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        self.output_node = out_node
        self.node_bricks = {name: bricks for name, (_, bricks) in plan.items() if name}
        self.nodes = nn.ModuleDict()
        for i, node in enumerate(config.nodes):
            shape, bricks = plan[node.name]
            raw = len(node.inputs) == 1 and node.inputs[0] in ("sequence", "input")
            where = f"nodes[{i}].layers"
            self.nodes[node.name] = build_stack(bricks, shape, where=where, raw=raw)[0]
        self.fixed_length = any(
            b.type == "flatten" for bricks in self.node_bricks.values() for b in bricks
        )

    @classmethod
    def min_length(cls, config: GraphConfig) -> int:
        return min_valid_length(
            lambda n: node_shapes(config, Shape(True, 4, n), n_tracks=1, n_outputs=1)
        )

    def _forward(self, x: Tensor) -> Tensor:
        values = {"sequence": x[:, :4], "tracks": x[:, 4:], "input": x}
        for node in self.config.nodes:
            ins = [values[name] for name in node.inputs]
            if len(ins) == 1:
                merged = ins[0]
            elif node.merge == "add":
                merged = torch.stack(ins).sum(dim=0)
            else:
                merged = torch.cat(ins, dim=1)
            values[node.name] = self.nodes[node.name](merged)
        return values[self.output_node]

    def local_parts(self) -> LocalParts | None:
        """Parallel conv → global pool branches on the sequence, concatenated, then a chain.

        That is the workshop CNN2 form: every branch node reads only ``sequence`` and is
        ``[conv1d, position-wise..., global pool]`` (one pool mode for all), one node
        concatenates all branches, and each later node reads only the node before it.
        """
        nodes = self.config.nodes
        branches: list[nn.Module] = []
        mode = None
        k = 0
        while k < len(nodes) and nodes[k].inputs in (("sequence",), ("input",)):
            parts = stack_local_parts(self.node_bricks[nodes[k].name], self.nodes[nodes[k].name])
            if parts is None or parts.head is None or len(parts.head) or self.n_tracks:
                return None
            pool = (
                "max"
                if isinstance(self.node_bricks[nodes[k].name][-1], GlobalMaxPoolBrick)
                else "mean"
            )
            if not isinstance(
                self.node_bricks[nodes[k].name][-1], (GlobalMaxPoolBrick, GlobalAvgPoolBrick)
            ):
                return None
            if mode not in (None, pool):
                return None
            mode = pool
            branches.append(parts.branches[0])
            k += 1
        names = tuple(n.name for n in nodes[:k])
        if (
            not branches
            or k == len(nodes)
            or nodes[k].inputs != names
            or nodes[k].merge != "concat"
        ):
            return None
        chain = [self.nodes[nodes[k].name]]
        for j in range(k + 1, len(nodes)):
            if nodes[j].inputs != (nodes[j - 1].name,):
                return None
            chain.append(self.nodes[nodes[j].name])
        if self.output_node != nodes[-1].name:
            return None
        return LocalParts(tuple(branches), GlobalPool(mode or "max"), nn.Sequential(*chain))

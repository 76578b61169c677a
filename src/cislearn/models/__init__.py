"""Sequence models: one-hot (N, 4 + tracks, L) in, raw outputs (N, n_outputs) out.

Build any architecture by name with :func:`build_model`; every built model carries ``arch``
and ``config`` (a frozen pydantic model) so it can be saved and rebuilt.

Examples
--------
>>> import torch
>>> from cislearn.models import build_model
>>> model = build_model("cnn", length=201, n_outputs=1)
>>> model.arch, model.config.filters
('cnn', 128)
"""

from __future__ import annotations

from cislearn.models.basset import Basset, BassetConfig
from cislearn.models.cnn import CNN, CNNConfig, CNNDeep, CNNDeepConfig, CNNMulti, CNNMultiConfig
from cislearn.models.hybrid import Hybrid, HybridConfig
from cislearn.models.layers import (
    ACTIVATIONS,
    ArchConfig,
    RCAverage,
    SequenceModel,
    activation,
    reverse_complement_batch,
)
from cislearn.models.registry import (
    ARCHITECTURES,
    REGISTRY,
    arch_config,
    build_model,
    model_class,
)
from cislearn.models.resnet import ResNet, ResNetConfig
from cislearn.models.rnn import CNNLSTM, RNN, CNNLSTMConfig, RNNConfig
from cislearn.models.summary import summarize
from cislearn.models.transformer import Transformer, TransformerConfig, kmer_token_ids

__all__ = [
    "ARCHITECTURES",
    "ACTIVATIONS",
    "REGISTRY",
    "build_model",
    "arch_config",
    "model_class",
    "summarize",
    "activation",
    "reverse_complement_batch",
    "kmer_token_ids",
    "RCAverage",
    "ArchConfig",
    "SequenceModel",
    "CNN",
    "CNNConfig",
    "CNNMulti",
    "CNNMultiConfig",
    "CNNDeep",
    "CNNDeepConfig",
    "RNN",
    "RNNConfig",
    "CNNLSTM",
    "CNNLSTMConfig",
    "Basset",
    "BassetConfig",
    "ResNet",
    "ResNetConfig",
    "Transformer",
    "TransformerConfig",
    "Hybrid",
    "HybridConfig",
]

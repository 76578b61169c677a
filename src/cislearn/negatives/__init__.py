"""Negative controls: k-let preserving shuffles and GC/repeat-matched genomic background."""

from __future__ import annotations

from cislearn.negatives.genomic import Background, genomic_background
from cislearn.negatives.shuffle import kshuffle, shuffle_codes
from cislearn.negatives.stats import sequence_stats

__all__ = [
    "shuffle_codes",
    "kshuffle",
    "Background",
    "genomic_background",
    "sequence_stats",
]

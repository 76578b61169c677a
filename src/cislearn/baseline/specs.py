"""Feature specs of the baselines: parsing ``kmer:6,motifs`` and featurizing sequences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cislearn.errors import ConfigError
from cislearn.features import (
    FeatureMatrix,
    composition,
    concat,
    gapped_kmer_counts,
    kmer_counts,
)
from cislearn.io.motifs import Motif
from cislearn.motif_counts import motif_counts, resolve_motifs
from cislearn.tracks import coordinates, parse_named

FEATURE_KINDS = ("kmer", "gapped", "composition", "motifs", "bigwig")


@dataclass(frozen=True)
class FeatureSpec:
    """One block of features: ``kmer:K[:rc]``, ``gapped:K:M[:rc]``, ``composition[:ORDERS]``
    (e.g. ``composition:123``), ``motifs[:RELEASE or FILE]``, ``bigwig:NAME=PATH`` (mean,
    max and covered fraction of a bigWig track over each window, e.g. conservation)."""

    kind: str
    k: int = 0
    max_gap: int = 0
    rc_merge: bool = False
    orders: tuple[int, ...] = ()
    source: str | None = None

    def __str__(self) -> str:
        rc = ":rc" if self.rc_merge else ""
        if self.kind == "kmer":
            return f"kmer:{self.k}{rc}"
        if self.kind == "gapped":
            return f"gapped:{self.k}:{self.max_gap}{rc}"
        if self.kind == "composition":
            return "composition:" + "".join(map(str, self.orders))
        if self.kind == "bigwig":
            return f"bigwig:{self.source}"
        return "motifs" + (f":{self.source}" if self.source else "")


def _spec(text: str) -> FeatureSpec:
    parts = [p.strip() for p in text.split(":")]
    kind, args = parts[0].lower(), parts[1:]
    rc = bool(args) and args[-1].lower() == "rc"
    if rc:
        args = args[:-1]
    fix = "e.g. kmer:6, kmer:6:rc, gapped:3:3, composition:123, motifs, bigwig:cons=c.bw"
    try:
        if kind == "kmer" and len(args) == 1:
            return FeatureSpec("kmer", k=int(args[0]), rc_merge=rc)
        if kind == "gapped" and len(args) in (1, 2):
            return FeatureSpec(
                "gapped", k=int(args[0]), max_gap=int(args[1]) if len(args) == 2 else 3, rc_merge=rc
            )
        if kind == "composition" and len(args) <= 1 and not rc:
            orders = tuple(int(c) for c in args[0]) if args else (1, 2, 3)
            return FeatureSpec("composition", orders=orders)
        if kind == "motifs" and not rc:
            return FeatureSpec("motifs", source=":".join(parts[1:]) or None)
        if kind == "bigwig" and args:
            name, path = next(iter(parse_named([":".join(parts[1:])], what=text).items()))
            return FeatureSpec("bigwig", source=f"{name}={path}")
    except ValueError:
        pass
    raise ConfigError(f"feature '{text}' not understood; kinds: {', '.join(FEATURE_KINDS)} ({fix})")


def parse_features(text: str | Sequence[str]) -> tuple[FeatureSpec, ...]:
    """Parse ``"kmer:6,gapped:3:3,composition,motifs"`` (or a list of such items).

    Examples
    --------
    >>> [str(s) for s in parse_features("kmer:6:rc,gapped:3:3,composition")]
    ['kmer:6:rc', 'gapped:3:3', 'composition:123']
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    specs = tuple(_spec(t) for t in items if t.strip())
    if not specs:
        raise ConfigError(f"no features given; kinds: {', '.join(FEATURE_KINDS)}")
    return specs


def spec_motifs(spec: FeatureSpec) -> list[Motif]:
    """The motifs of a ``motifs`` spec: JASPAR (default or ``JASPARyyyy``) or a motif file."""
    src = spec.source
    if src is None:
        return resolve_motifs(None)
    if re.fullmatch(r"JASPAR\d{4}", src):
        return resolve_motifs(None, release=src)
    return resolve_motifs(src)


def bigwig_features(spec: FeatureSpec, ids: Sequence[str] | None) -> FeatureMatrix:
    """``NAME_mean``, ``NAME_max`` and ``NAME_covered`` of a ``bigwig`` block per window.

    Windows come from ids written ``chrom:start-end`` (as ``cislearn prepare`` names them).
    Bases without data count 0 in the mean; a window without data (or on a chromosome the
    bigWig lacks) gets mean and max 0 and covered 0, so the model sees the missingness.
    """
    import numpy as np

    from cislearn.io.bigwig import BigWig

    if ids is None:
        raise ConfigError(
            f"feature '{spec}' needs each record's coordinates: ids like chr1:1000-1201, as "
            "`cislearn prepare` writes them"
        )
    name, path = str(spec.source).split("=", 1)
    coords = coordinates(ids)
    chroms, starts, ends = coords["chrom"].tolist(), coords["start"], coords["end"]
    with BigWig(path) as bw:
        cols = [bw.window_stats(chroms, starts, ends, stat=s).values for s in STATS_BW]
    values = np.nan_to_num(np.stack(cols, axis=1), nan=0.0).astype(np.float32)
    return FeatureMatrix(values, [f"{name}_{s}" for s in ("mean", "max", "covered")])


#: The statistics of a ``bigwig`` feature block, in column order.
STATS_BW = ("mean", "max", "coverage")


def featurize(
    specs: Sequence[FeatureSpec],
    sequences: Sequence[str],
    *,
    motifs: Sequence[Motif] | None = None,
    ids: Sequence[str] | None = None,
) -> FeatureMatrix:
    """The feature matrix of ``sequences``: the blocks of ``specs`` side by side.

    A block whose column names repeat an earlier block's (``kmer:3`` next to ``composition``
    both name ``AAA``) gets its names prefixed with its kind (``composition:AAA``).

    Parameters
    ----------
    specs : sequence of FeatureSpec
    sequences : sequence of str, length n
    motifs : sequence of Motif, optional
        The motifs of a ``motifs`` block; None → resolved from the spec (JASPAR by default).
    ids : sequence of str, optional
        Record ids ``chrom:start-end``: the windows of ``bigwig`` blocks.

    Returns
    -------
    FeatureMatrix
        Sparse CSR float32 (n, p) when any block is sparse.
    """
    blocks: list[FeatureMatrix] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.kind == "kmer":
            fm = kmer_counts(sequences, k=spec.k, rc_merge=spec.rc_merge)
        elif spec.kind == "gapped":
            fm = gapped_kmer_counts(
                sequences, k=spec.k, max_gap=spec.max_gap, rc_merge=spec.rc_merge
            )
        elif spec.kind == "composition":
            fm = composition(sequences, orders=spec.orders)
        elif spec.kind == "motifs":
            fm = motif_counts(sequences, list(motifs) if motifs is not None else spec_motifs(spec))
        elif spec.kind == "bigwig":
            fm = bigwig_features(spec, ids)
        else:
            raise ConfigError(
                f"unknown feature kind '{spec.kind}'; kinds: {', '.join(FEATURE_KINDS)}"
            )
        if seen & set(fm.names):
            fm = FeatureMatrix(fm.values, [f"{spec.kind}:{n}" for n in fm.names])
        seen |= set(fm.names)
        blocks.append(fm)
    return blocks[0] if len(blocks) == 1 else concat(blocks)

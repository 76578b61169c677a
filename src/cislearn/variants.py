"""Variant effect scoring: windows around each variant, ref/alt predictions, Δscores, null
p-values and Benjamini–Hochberg q-values."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from cislearn.encode import one_hot, to_codes
from cislearn.errors import InputError
from cislearn.interpret.ism import METHODS, substitution_logits
from cislearn.io.genome import Genome, chrom_name_hint
from cislearn.io.vcf import Variant, read_variants
from cislearn.losses import output_activation
from cislearn.predict import Predictor
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress

__all__ = [
    "FLAGS",
    "SNV_METHOD",
    "VariantSummary",
    "VariantScorer",
    "score_variants",
    "iter_variant_scores",
    "bh_qvalues",
    "bh_qvalues_from_counts",
    "effect_column",
]

logger = logging.getLogger(__name__)

#: Row flags (``flag`` column, comma-joined; ``ok`` when none). Rows flagged ``ref_mismatch``,
#: ``unknown_contig`` or ``symbolic`` are not scored (NaN scores); ``near_end`` rows are scored
#: with the missing bases as N.
FLAGS = ("ref_mismatch", "unknown_contig", "near_end", "symbolic")
_UNSCORED = {"ref_mismatch", "unknown_contig", "symbolic"}
_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
_LOG2_EPS = 1e-6

#: SNV path of :func:`cislearn.interpret.ism.substitution_logits`: "auto" takes its exact
#: one-substitution fast path (one convolution pass + a window update per variant) when the
#: model is conv branches → global pool → head, else two forward passes per variant. For
#: ``cnn`` 128x16 at 201 bp the fast path ran at 1.9x "naive" (benchmarks/variants.py).
SNV_METHOD = "auto"


class VariantSummary(NamedTuple):
    """Counts over all variants scored so far (one ALT allele = one variant)."""

    n_variants: int
    n_scored: int
    n_snv: int
    n_indel: int
    n_multiallelic: int
    """Rows that came from a record with more than one ALT allele."""
    flags: dict[str, int]
    """Rows carrying each flag of :data:`FLAGS`."""
    renamed_contigs: dict[str, str]
    """Contig names of the input resolved to the genome's (``1`` → ``chr1``)."""
    n_null: int
    """Random substitutions in the null distribution of the p-values (0: no p-values)."""


def effect_column(task: str, output: str) -> str:
    """Name of the column that ranks variants for ``output``: Δscore (classification) or
    s_alt − s_ref (regression, counts)."""
    return f"{output}_dscore" if task in CLASSIFICATION_TASKS else f"{output}_delta"


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of a vector of p-values (NaN stays NaN, not counted).

    Examples
    --------
    >>> bh_qvalues(np.array([0.01, 0.04, 0.03])).round(3)
    array([0.03, 0.04, 0.04])
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def bh_qvalues_from_counts(counts: np.ndarray, n_null: int) -> np.ndarray:
    """BH q-value of each possible empirical p-value ``(k + 1) / (n_null + 1)``.

    Empirical p-values take only ``n_null + 1`` values, so the q-values of any number of
    variants follow from how many variants have each value: a two-pass stream needs
    ``n_null + 1`` counters, not one float per variant.

    Parameters
    ----------
    counts : ndarray of shape (n_null + 1,)
        ``counts[k]`` = variants whose p-value is ``(k + 1) / (n_null + 1)``.

    Returns
    -------
    ndarray of shape (n_null + 1,)
        q-value for each k (equal to :func:`bh_qvalues` on the variants' p-values).
    """
    counts = np.asarray(counts, dtype=np.int64)
    m = int(counts.sum())
    if m == 0:
        return np.full(len(counts), np.nan)
    p = np.arange(1, n_null + 2) / (n_null + 1)
    rank = np.cumsum(counts)  # BH uses the largest rank among ties
    with np.errstate(divide="ignore", invalid="ignore"):
        ranked = np.where(counts > 0, p * m / np.maximum(rank, 1), np.inf)
    return np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)


def _as_predictor(model: Any, task: str | None, device: Any) -> Predictor:
    if isinstance(model, Predictor):
        return model
    if not isinstance(model, nn.Module) or not hasattr(model, "length"):
        raise InputError(
            "score_variants: model must be a cislearn Predictor (cislearn.load(run)) or a "
            f"cislearn SequenceModel; got {type(model).__name__}"
        )
    n_out = int(getattr(model, "n_outputs", 1))
    meta = {
        "arch": getattr(model, "arch", type(model).__name__),
        "task": task or "binary",
        "target_names": [f"output_{i}" for i in range(n_out)] if n_out > 1 else ["score"],
        "length": int(model.length),
        "n_tracks": int(getattr(model, "n_tracks", 0)),
    }
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    return Predictor(model, meta, device=dev)


def _as_variants(variants: Any) -> Iterable[Variant]:
    if isinstance(variants, (str, os.PathLike)):
        return read_variants(variants)
    if isinstance(variants, pd.DataFrame):
        missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in variants.columns]
        if missing:
            raise InputError(
                f"score_variants: the variants table needs columns chrom pos ref alt [id]; "
                f"missing {', '.join(missing)}"
            )
        ids = variants["id"] if "id" in variants.columns else [None] * len(variants)
        rows = zip(
            variants["chrom"], variants["pos"], variants["ref"], variants["alt"], ids, strict=True
        )
        return (
            Variant(str(c), int(p), str(r), str(a), str(i or f"{c}:{p}:{r}:{a}"), k + 1, 1)
            for k, (c, p, r, a, i) in enumerate(rows)
        )
    return variants


class _Prepared(NamedTuple):
    """One chunk made ready for the model."""

    flags: list[str]
    gchrom: list[str]
    kind: list[str]
    snv: list[int]  # row indices scored by substitution
    snv_windows: list[str]  # len(snv) * n_shifts ref windows
    snv_alts: list[int]
    other: list[int]  # row indices scored by two forward passes (indels, MNVs)
    ref_windows: list[str]
    alt_windows: list[str]
    snv_loc: list[tuple[str, int]]  # (chrom, 0-based start) of each SNV window (input tracks)
    pair_loc: list[tuple[str, int]]  # of each ref window of the others (alt reads the same)


class VariantScorer:
    """Scores chunks of variants with one model and genome; holds the null distribution.

    Most users call :func:`score_variants`; the CLI streams with :func:`iter_variant_scores`.
    Parameters are those of :func:`score_variants`, plus ``tracks``: for a model with input
    tracks, a callable (genome chrom, window starts (m,), width) → (m, tracks, width) float32
    (e.g. :func:`cislearn.pipelines.input_tracks.track_reader`); ref and alt windows read the
    same values (an indel's alt window those of its ref window).
    """

    def __init__(
        self,
        model: Any,
        genome: Genome | str | os.PathLike[str],
        *,
        task: str | None = None,
        strict: bool = False,
        rc_average: bool | None = None,
        shifts: Sequence[int] = (0,),
        n_null: int = 10_000,
        seed: int = 0,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        method: str = SNV_METHOD,
        path: str | os.PathLike[str] | None = None,
        tracks: Callable[[str, np.ndarray, int], np.ndarray] | None = None,
    ) -> None:
        if method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        self.method = method
        self.predictor = _as_predictor(model, task, device)
        self.tracks = tracks if self.predictor.n_tracks else None
        if self.predictor.n_tracks and tracks is None:
            raise InputError(
                "score_variants: this model also needs per-base input tracks, which a genome "
                "alone cannot provide; pass tracks= (a reader of the model's bigWigs; on the "
                "command line they are read from the paths the bundle records or --input-track)"
            )
        self._own_genome = not isinstance(genome, Genome)
        self.genome = genome if isinstance(genome, Genome) else Genome(genome)
        self.task = self.predictor.task
        self.outputs = list(self.predictor.output_names)
        self.length = int(self.predictor.length)
        self.shifts = tuple(int(s) for s in shifts) or (0,)
        if max(abs(s) for s in self.shifts) >= self.length // 2:
            raise InputError(
                f"shifts must be smaller than half the input length ({self.length // 2} bp); "
                f"got {self.shifts}"
            )
        if n_null < 0:
            raise InputError(f"n_null must be >= 0; got {n_null}")
        self.strict = strict
        meta_rc = bool(self.predictor.meta.get("rc_average", False))
        self.rc_average = meta_rc if rc_average is None else bool(rc_average)
        self.n_null = int(n_null)
        self.batch_size = batch_size
        self.path = path
        self._rng = np.random.default_rng(seed)
        self._activate = output_activation(self.task)
        self.null: np.ndarray | None = None  # sorted |Δ raw| per output, (n_outputs, n_null)
        self._contigs: dict[str, str | None] = {}
        self._counts = {"n": 0, "scored": 0, "snv": 0, "indel": 0, "multi": 0}
        self._flags = dict.fromkeys(FLAGS, 0)

    # -- windows ---------------------------------------------------------------------------

    def _resolve(self, chrom: str) -> str | None:
        if chrom in self._contigs:
            return self._contigs[chrom]
        names = self.genome.lengths
        name: str | None = chrom if chrom in names else None
        if name is None:
            cand = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
            name = cand if cand in names else None
            if name is None and chrom in ("chrM", "MT", "M") and ({"chrM", "MT"} & set(names)):
                name = ({"chrM", "MT"} & set(names)).pop()
            if name is not None:
                logger.warning(
                    "variant contig '%s' is named '%s' in genome %s; using '%s'",
                    chrom,
                    name,
                    self.genome.path.name,
                    name,
                )
        self._contigs[chrom] = name
        return name

    def _segment(self, chrom: str, lo: int, hi: int) -> tuple[str, bool]:
        """Genome bases [lo, hi) with N beyond the chromosome ends; True if padded."""
        size = self.genome.lengths[chrom]
        a, b = max(lo, 0), min(hi, size)
        seq = self.genome.fetch(chrom, a, b) if b > a else ""
        if a == lo and b == hi:
            return seq, False
        return "N" * (a - lo) + seq + "N" * max(hi - max(b, lo), 0), True

    def reference_window(self, chrom: str, pos: int) -> str:
        """The reference window of the model's length with 1-based ``pos`` at its centre
        (``chrom`` as the genome names it; N beyond the chromosome ends)."""
        start = pos - 1 - self.length // 2
        return self._segment(chrom, start, start + self.length)[0]

    def _prepare(self, chunk: Sequence[Variant]) -> _Prepared:
        L, c = self.length, self.length // 2
        R = max(abs(s) for s in self.shifts)
        prep = _Prepared([], [], [], [], [], [], [], [], [], [], [])
        for i, v in enumerate(chunk):
            flags: list[str] = []
            ref, alt = v.ref.upper(), v.alt.upper()
            kind = (
                "symbolic"
                if not alt.isalpha() or alt.strip("ACGTN")
                else ("snv" if len(ref) == len(alt) == 1 else "indel")
            )
            if kind == "indel" and len(ref) == len(alt):
                kind = "mnv"
            gchrom = self._resolve(v.chrom)
            prep.gchrom.append(gchrom or "")
            prep.kind.append(kind)
            if kind == "symbolic":
                flags.append("symbolic")
            if gchrom is None:
                flags.append("unknown_contig")
                if self.strict:
                    raise InputError(
                        f"contig '{v.chrom}' is not in genome {self.genome.path.name}"
                        + chrom_name_hint(v.chrom, self.genome.lengths),
                        path=self.path,
                        line=v.line,
                    )
            if flags:
                prep.flags.append(",".join(flags))
                continue
            p, r, a = v.pos - 1, len(ref), len(alt)
            lo = p - c - R
            hi = max(p + r // 2 - c + L + R, p + r + max(0, a // 2 - c + L + R - a))
            seg, padded = self._segment(gchrom, lo, hi)
            gref = seg[p - lo : p - lo + r].upper()
            if gref != ref and not all(x == y or y == "N" for x, y in zip(gref, ref, strict=True)):
                flags.append("ref_mismatch")
                if self.strict:
                    raise InputError(
                        f"REF '{v.ref[:20]}' does not match the genome's '{gref[:20]}' at "
                        f"{gchrom}:{v.pos} (is the genome the same build as the variants?)",
                        path=self.path,
                        line=v.line,
                    )
                prep.flags.append(",".join(flags))
                continue
            rstart = p + r // 2 - c - R
            if padded and (rstart < 0 or rstart + L + 2 * R > self.genome.lengths[gchrom]):
                flags.append("near_end")
            prep.flags.append(",".join(flags) or "ok")
            if kind == "snv" and alt != "N" and gref != "N":
                prep.snv.append(i)
                for s in self.shifts:
                    w0 = p - c + s - lo
                    prep.snv_windows.append(seg[w0 : w0 + L])
                    prep.snv_loc.append((gchrom, lo + w0))
                prep.snv_alts.append(_CODE[alt])
                continue
            prep.other.append(i)
            hap = seg[: p - lo] + alt + seg[p - lo + r :]
            for s in self.shifts:
                r0 = p + r // 2 - c + s - lo
                a0 = p + a // 2 - c + s - lo
                prep.ref_windows.append(seg[r0 : r0 + L])
                prep.alt_windows.append(hap[a0 : a0 + L].ljust(L, "N"))
                prep.pair_loc.append((gchrom, lo + r0))
        return prep

    # -- model -----------------------------------------------------------------------------

    def _mean_shifts(self, raw: np.ndarray) -> np.ndarray:
        k = len(self.shifts)
        return raw.reshape(-1, k, raw.shape[-1]).mean(axis=1) if k > 1 else raw

    def _with_tracks(self, x: np.ndarray, loc: Sequence[tuple[str, int]]) -> np.ndarray:
        """One-hot windows (m, 4, L) + the model's input tracks read at ``loc`` (chrom, start);
        bases outside a chromosome get the tracks' missing value (0)."""
        extra = np.zeros((len(loc), self.predictor.n_tracks, self.length), np.float32)
        chroms = np.array([c for c, _ in loc], dtype=object)
        starts = np.array([s for _, s in loc], dtype=np.int64)
        for chrom in dict.fromkeys(chroms.tolist()):
            rows = np.flatnonzero(chroms == chrom)
            size = self.genome.lengths[chrom]
            lo = np.clip(starts[rows], 0, max(size - self.length, 0))
            got = self.tracks(chrom, lo, self.length)  # type: ignore[misc]
            shift = starts[rows] - lo  # windows past an end: shift the values back in place
            for j, (r, d) in enumerate(zip(rows, shift, strict=True)):
                if d == 0:
                    extra[r] = got[j]
                elif d > 0:
                    extra[r, :, : self.length - d] = got[j, :, d:]
                else:
                    extra[r, :, -d:] = got[j, :, : self.length + d]
        return np.concatenate([x, extra], axis=1)

    def _snv_logits(
        self, windows: list[str], alts: list[int], loc: Sequence[tuple[str, int]] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs of ref and alt for SNVs at the window centre (minus each shift)."""
        k = len(self.shifts)
        bases = to_codes(windows)  # the fast path runs from codes; the others one-hot them
        if self.tracks is not None:
            bases = self._with_tracks(one_hot(bases, n_value=self.predictor.n_value), loc)
        positions = np.tile(np.array([self.length // 2 - s for s in self.shifts]), len(alts))
        codes = np.repeat(np.asarray(alts, dtype=np.int64), k)
        res = substitution_logits(
            self.predictor.model,
            bases,
            positions,
            codes,
            rc_average=self.rc_average,
            batch_size=self.batch_size,
            method=self.method,
            device=self.predictor.device,
            n_value=self.predictor.n_value,
        )
        ref, alt = np.asarray(res.ref), np.asarray(res.alt)
        return self._mean_shifts(ref), self._mean_shifts(alt)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return self.predictor.predict(
            x, batch_size=self.batch_size, rc_average=self.rc_average
        ).logits

    def _pair_logits(
        self, ref_w: list[str], alt_w: list[str], loc: Sequence[tuple[str, int]] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        nv = self.predictor.n_value
        x_ref, x_alt = one_hot(ref_w, n_value=nv), one_hot(alt_w, n_value=nv)
        if self.tracks is not None:
            x_ref, x_alt = self._with_tracks(x_ref, loc), self._with_tracks(x_alt, loc)
        ref = self._forward(x_ref)
        alt = self._forward(x_alt)
        return self._mean_shifts(ref), self._mean_shifts(alt)

    # -- null ------------------------------------------------------------------------------

    def _build_null(self, chunk: Sequence[Variant], prep: _Prepared) -> None:
        """Random SNVs near the chunk's scored variants, scored exactly like the variants."""
        rows = [i for i, f in enumerate(prep.flags) if not (set(f.split(",")) & _UNSCORED)]
        if not rows or self.n_null == 0:
            return
        c = self.length // 2
        fake: list[Variant] = []
        tries = 0
        while len(fake) < self.n_null and tries < 20 * self.n_null:
            tries += 1
            idx = rows[int(self._rng.integers(len(rows)))]
            v, chrom = chunk[idx], prep.gchrom[idx]
            size = self.genome.lengths[chrom]
            q = v.pos - 1 + int(self._rng.integers(-c, c + 1))
            if q < 0 or q >= size:
                continue
            base = self.genome.fetch(chrom, q, q + 1).upper()
            if base not in _CODE:
                continue
            alt = "ACGT"[(_CODE[base] + int(self._rng.integers(1, 4))) % 4]
            fake.append(Variant(chrom, q + 1, base, alt, "null", 0, 1))
        if not fake:
            return
        fprep = self._prepare(fake)
        ref, alt = self._snv_logits(fprep.snv_windows, fprep.snv_alts, fprep.snv_loc)
        self.null = np.sort(np.abs(alt - ref), axis=0).T.copy()

    def _pvalues(self, delta: np.ndarray) -> np.ndarray:
        """Two-sided empirical p-values (1 + #null ≥ |Δ|) / (n_null + 1), (n, n_outputs)."""
        out = np.full(delta.shape, np.nan)
        if self.null is None:
            return out
        n = self.null.shape[1]
        for j in range(delta.shape[1]):
            ge = n - np.searchsorted(self.null[j], np.abs(delta[:, j]), side="left")
            out[:, j] = (1 + ge) / (n + 1)
        out[np.isnan(delta)] = np.nan
        return out

    # -- public ----------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        cols = ["id", "chrom", "pos", "ref", "alt", "kind", "flag", "genome_chrom", "line"]
        for o in self.outputs:
            if self.task in CLASSIFICATION_TASKS:
                cols += [f"{o}_p_ref", f"{o}_p_alt", f"{o}_delta_p", f"{o}_delta_logit"]
                cols += [f"{o}_dscore"]
            else:
                cols += [f"{o}_ref", f"{o}_alt", f"{o}_delta", f"{o}_log2fc"]
            cols += [f"{o}_pvalue"]
        return cols

    def score(self, chunk: Sequence[Variant]) -> pd.DataFrame:
        """Score one chunk of variants; the first chunk with scorable variants also draws the
        null. Returns one row per variant, in input order, columns :attr:`columns`."""
        chunk = list(chunk)
        prep = self._prepare(chunk)
        if self.null is None and self.n_null:
            self._build_null(chunk, prep)
        n, t = len(chunk), len(self.outputs)
        raw_ref = np.full((n, t), np.nan)
        raw_alt = np.full((n, t), np.nan)
        if prep.snv:
            ref, alt = self._snv_logits(prep.snv_windows, prep.snv_alts, prep.snv_loc)
            raw_ref[prep.snv], raw_alt[prep.snv] = ref, alt
        if prep.other:
            ref, alt = self._pair_logits(prep.ref_windows, prep.alt_windows, prep.pair_loc)
            raw_ref[prep.other], raw_alt[prep.other] = ref, alt
        frame = pd.DataFrame(
            {
                "id": [v.id for v in chunk],
                "chrom": [v.chrom for v in chunk],
                "pos": np.array([v.pos for v in chunk], dtype=np.int64),
                "ref": [v.ref for v in chunk],
                "alt": [v.alt for v in chunk],
                "kind": prep.kind,
                "flag": prep.flags,
                "genome_chrom": prep.gchrom,
                "line": np.array([v.line for v in chunk], dtype=np.int64),
            }
        )
        pvals = self._pvalues(raw_alt - raw_ref)
        values = self._activated(raw_ref), self._activated(raw_alt)
        cols: dict[str, np.ndarray] = {}
        for j, o in enumerate(self.outputs):
            s_ref, s_alt = values[0][:, j], values[1][:, j]
            if self.task in CLASSIFICATION_TASKS:
                cols[f"{o}_p_ref"], cols[f"{o}_p_alt"] = s_ref, s_alt
                cols[f"{o}_delta_p"] = s_alt - s_ref
                cols[f"{o}_delta_logit"] = raw_alt[:, j] - raw_ref[:, j]
                cols[f"{o}_dscore"] = (s_alt - s_ref) * np.maximum(s_alt, s_ref)
            else:
                cols[f"{o}_ref"], cols[f"{o}_alt"] = s_ref, s_alt
                cols[f"{o}_delta"] = s_alt - s_ref
                with np.errstate(divide="ignore", invalid="ignore"):
                    fc = np.log2((s_alt + _LOG2_EPS) / (s_ref + _LOG2_EPS))
                cols[f"{o}_log2fc"] = np.where(
                    (s_alt > -_LOG2_EPS) & (s_ref > -_LOG2_EPS), fc, np.nan
                )
            cols[f"{o}_pvalue"] = pvals[:, j]
        frame = pd.concat([frame, pd.DataFrame(cols)], axis=1)
        self._count(chunk, prep, frame)
        return frame

    def _activated(self, raw: np.ndarray) -> np.ndarray:
        out = self._activate(torch.from_numpy(np.nan_to_num(raw).astype(np.float32))).numpy()
        out = out.astype(np.float64)
        out[np.isnan(raw)] = np.nan
        return out

    def _count(self, chunk: list[Variant], prep: _Prepared, frame: pd.DataFrame) -> None:
        self._counts["n"] += len(chunk)
        self._counts["scored"] += len(prep.snv) + len(prep.other)
        self._counts["snv"] += sum(k == "snv" for k in prep.kind)
        self._counts["indel"] += sum(k == "indel" for k in prep.kind)
        self._counts["multi"] += sum(v.n_alts > 1 for v in chunk)
        for f in prep.flags:
            for name in f.split(","):
                if name in self._flags:
                    self._flags[name] += 1

    def close(self) -> None:
        """Close the genome if this scorer opened it from a path."""
        if self._own_genome:
            self.genome.close()

    def summary(self) -> VariantSummary:
        """Counts over everything scored so far."""
        renamed = {k: v for k, v in self._contigs.items() if v is not None and v != k}
        return VariantSummary(
            self._counts["n"],
            self._counts["scored"],
            self._counts["snv"],
            self._counts["indel"],
            self._counts["multi"],
            dict(self._flags),
            renamed,
            0 if self.null is None else int(self.null.shape[1]),
        )


def iter_variant_scores(
    scorer: VariantScorer,
    variants: Any,
    *,
    chunk_size: int = 4096,
    progress: Progress | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream scores, one DataFrame of up to ``chunk_size`` variants at a time (memory flat).

    The frames have p-values but no q-values (those need every p-value; see
    :func:`bh_qvalues_from_counts`). Progress: ``progress("variants", n_done, None)``.
    """
    progress = progress or no_progress
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1; got {chunk_size}")
    it = iter(_as_variants(variants))
    done = 0
    while True:
        chunk = list(islice(it, chunk_size))
        if not chunk:
            break
        frame = scorer.score(chunk)
        done += len(chunk)
        progress("variants", done, None)
        yield frame


def score_variants(
    model: Any,
    genome: Genome | str | os.PathLike[str],
    variants: Any,
    *,
    task: str | None = None,
    strict: bool = False,
    rc_average: bool | None = None,
    shifts: Sequence[int] = (0,),
    n_null: int = 10_000,
    seed: int = 0,
    chunk_size: int = 4096,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    method: str = SNV_METHOD,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Predict the effect of each variant: ref vs alt windows centred on it.

    Each variant gets a window of the model's input length centred on it (an indel's ref
    and alt windows are each centred on their own allele and cut/extended with genome
    sequence to the input length). The genome's base must match REF (else the row is
    flagged ``ref_mismatch`` and left unscored, or with ``strict`` an error); contigs named
    ``1`` vs ``chr1`` are matched to the genome with a warning; unknown contigs and symbolic
    alleles are flagged; windows past a chromosome end are padded with N and flagged
    ``near_end``.

    **Significance.** The null distribution is ``n_null`` random single-base substitutions
    (random position, random other base) in windows centred within ±length/2 of the scored
    variants of the first chunk — the same genome, local sequence context and scoring
    (windows, shifts, strand averaging) as the variants, but no chosen site. A variant's
    two-sided empirical p-value is ``(1 + #{null |Δ raw| ≥ its |Δ raw|}) / (n_null + 1)``
    per output, where Δ raw is the logit difference (classification) or s_alt − s_ref
    (regression, counts); q-values are Benjamini–Hochberg over all scored variants.

    Parameters
    ----------
    model : Predictor or SequenceModel
        ``cislearn.load(run)``, or a model (then ``task`` says how to read its outputs).
    genome : Genome or path
        Reference FASTA of the variants' build.
    variants : path, iterable of Variant, or DataFrame
        A VCF / VCF.gz / BCF / TSV path (:func:`cislearn.io.vcf.read_variants`), Variants, or
        a table with columns ``chrom pos ref alt [id]`` (1-based ``pos``).
    task : str, optional
        Only for a bare model: ``binary`` (default), ``multilabel``, ``multiclass``,
        ``regression`` or ``counts``.
    strict : bool
        Raise InputError on a REF mismatch or unknown contig instead of flagging the row.
    rc_average : bool, optional
        Average both strands; None → the bundle's default.
    shifts : sequence of int
        Window offsets in bp to average over (e.g. ``(-5, 0, 5)``).
    n_null : int
        Random substitutions in the null (0 → no p-values).
    seed : int
        Seed of the null draws.
    chunk_size, batch_size : int
        Variants held at a time; inputs per forward pass.
    device : str or torch.device, optional
        Only for a bare model; a Predictor keeps its device.
    method : {"naive", "fast", "auto"}
        How SNVs are scored by :func:`cislearn.interpret.ism.substitution_logits` (same
        numbers; see :data:`SNV_METHOD`). Indels always take two forward passes.
    progress : Progress, optional
        ``progress("variants", n_done, None)`` after each chunk.

    Returns
    -------
    DataFrame
        One row per ALT allele (multi-allelic records split), input order: ``id chrom pos ref
        alt kind flag genome_chrom line``, then per output ``o``: ``o_p_ref o_p_alt o_delta_p
        o_delta_logit o_dscore`` (classification; Δscore = (p_alt − p_ref)·max(p_alt, p_ref))
        or ``o_ref o_alt o_delta o_log2fc`` (regression, counts), then ``o_pvalue o_qvalue``.
        ``frame.attrs["summary"]`` is the :class:`VariantSummary`.

    Examples
    --------
    >>> import cislearn
    >>> scores = cislearn.score_variants(cislearn.load("runs/ctcf"), "hg38.fa", "gwas.vcf.gz")
    ... # doctest: +SKIP
    >>> scores.sort_values("label_dscore").head()  # doctest: +SKIP
    """
    path = variants if isinstance(variants, (str, os.PathLike)) else None
    scorer = VariantScorer(
        model,
        genome,
        task=task,
        strict=strict,
        rc_average=rc_average,
        shifts=shifts,
        n_null=n_null,
        seed=seed,
        batch_size=batch_size,
        device=device,
        method=method,
        path=path,
    )
    try:
        parts = list(
            iter_variant_scores(scorer, variants, chunk_size=chunk_size, progress=progress)
        )
    finally:
        scorer.close()
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=scorer.columns)
    out = {}
    for o in scorer.outputs:
        out[f"{o}_qvalue"] = bh_qvalues(frame[f"{o}_pvalue"].to_numpy(dtype=np.float64))
    for o in scorer.outputs:
        at = frame.columns.get_loc(f"{o}_pvalue") + 1
        frame.insert(at, f"{o}_qvalue", out[f"{o}_qvalue"])
    frame.attrs["summary"] = scorer.summary()
    return frame

"""Variant effect scoring: windows around each variant, ref/alt predictions, Δscores, null
p-values and Benjamini–Hochberg q-values."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from cislearn.config import N_NULL
from cislearn.encode import one_hot, to_codes
from cislearn.errors import InputError
from cislearn.interpret.ism import METHODS, substitution_logits
from cislearn.io.genome import Genome
from cislearn.io.vcf import Variant
from cislearn.losses import output_activation
from cislearn.predict import DeepPredictor
from cislearn.types import (
    CLASSIFICATION_TASKS,
    Predictor,
    Progress,
    no_progress,
    strand_average,
)
from cislearn.variant_stats import EmpiricalNull, NullSites, bh_qvalues
from cislearn.variant_windows import (
    BASE_CODE,
    FLAGS,
    UNSCORED,
    Prepared,
    VariantWindows,
    as_variants,
)

__all__ = [
    "FLAGS",
    "SNV_METHOD",
    "VariantSummary",
    "VariantScorer",
    "score_variants",
    "iter_variant_scores",
    "effect_column",
    "RAW_DELTA",
]

#: Prefix of the hidden columns of :meth:`VariantScorer.score` holding Δ raw per output (the
#: value the null's p-values compare); callers drop them before writing.
RAW_DELTA = "_raw_delta:"

_LOG2_EPS = 1e-6
#: Null sites scored together (one process's share when several score the null).
_NULL_GROUP = 1024
#: Contigs on one coordinate line for :meth:`VariantScorer._starts` (2**40 > any contig).
_CONTIG_STRIDE = 1 << 40

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


def _as_predictor(model: Any, task: str | None, device: Any) -> DeepPredictor:
    if isinstance(model, DeepPredictor):
        return model
    if isinstance(model, Predictor):
        raise InputError(
            f"score_variants: a {model.kind} run cannot score variants (it predicts from "
            "features of whole sequences, not one-hot windows); use a deep model run"
        )
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
    return DeepPredictor(model, meta, device=dev)


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
        n_null: int = N_NULL,
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
        self.rc_average = strand_average(self.predictor, rc_average)
        self.n_null = int(n_null)
        self.batch_size = batch_size
        self.path = path
        self.seed = int(seed)
        #: candidate null sites over the whole input (4x the need: some sites are N)
        self.sites = NullSites(4 * self.n_null)
        self._chunks = 0
        self._renamed_elsewhere: dict[str, str] = {}
        self._activate = output_activation(self.task)
        self.null: EmpiricalNull | None = None
        self.windows = VariantWindows(
            self.genome, self.length, self.shifts, strict=strict, path=path
        )
        self._counts = {"n": 0, "scored": 0, "snv": 0, "indel": 0, "multi": 0}
        self._flags = dict.fromkeys(FLAGS, 0)
        self._contig_index = {c: i for i, c in enumerate(self.genome.lengths)}

    # -- model -----------------------------------------------------------------------------

    def reference_window(self, chrom: str, pos: int) -> str:
        """The reference window of the model's length with 1-based ``pos`` at its centre
        (``chrom`` as the genome names it; N beyond the chromosome ends)."""
        return self.windows.reference_window(chrom, pos)

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
            starts=self._starts(loc) if len(loc) == len(windows) else None,
        )
        ref, alt = np.asarray(res.ref), np.asarray(res.alt)
        return self._mean_shifts(ref), self._mean_shifts(alt)

    def _starts(self, loc: Sequence[tuple[str, int]]) -> np.ndarray:
        """Window starts on one line for the whole genome (contigs 2**40 apart): windows of
        dense variants overlap there and share their convolution on the fast path."""
        index = self._contig_index
        return np.fromiter(
            (index[c] * _CONTIG_STRIDE + a for c, a in loc), dtype=np.int64, count=len(loc)
        )

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

    def _offer_null(self, chunk: Sequence[Variant], prep: Prepared, index: int) -> None:
        """Candidate null sites near this chunk's scored variants (see :class:`NullSites`):
        ``4 * n_null`` random substitutions within ±length/2 of random scored variants, drawn
        from a generator seeded by ``(seed, index)``, so any split of the chunks over
        processes offers the same candidates."""
        rows = [i for i, f in enumerate(prep.flags) if not (set(f.split(",")) & UNSCORED)]
        if not rows or self.n_null == 0:
            return
        rng = np.random.default_rng([self.seed, index])
        m, c = self.sites.capacity, self.length // 2
        rows_a = np.asarray(rows)
        pick = rows_a[rng.integers(0, len(rows), m)]
        at = np.array([chunk[i].pos - 1 for i in rows], np.int64)
        chroms = np.array([prep.gchrom[i] for i in rows], dtype=object)
        sizes = np.array([self.genome.lengths[prep.gchrom[i]] for i in rows], np.int64)
        slot = np.searchsorted(rows_a, pick)
        pos = at[slot] + rng.integers(-c, c + 1, m)
        shift = rng.integers(1, 4, m)
        key = rng.exponential(size=m) / (len(rows) / m)  # weight: scored variants per draw
        chrom, size = chroms[slot], sizes[slot]
        ok = (pos >= 0) & (pos < size)
        self.sites.offer(key[ok], chrom[ok], pos[ok], shift[ok])

    def finish(
        self,
        *,
        part: int = 0,
        parts: int = 1,
        total: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Draw the null from the candidate sites of every chunk (after the last chunk, and
        after :meth:`merge` of other processes' states): the ``n_null`` sites with the
        smallest keys whose reference base is A, C, G or T, scored exactly like the variants.

        Several processes share the scoring: the sites go in groups of ``_NULL_GROUP``,
        group ``g`` is scored by ``part`` ``g % parts`` (the others stay 0) and ``total``
        (:func:`cislearn.distribute.all_sum`) adds the parts up; the groups are the same for
        any ``parts``, so the null is too."""
        if self.n_null == 0 or self.null is not None:
            return
        fake: list[Variant] = []
        for chrom, q, shift in self.sites.ordered():
            base = self.genome.fetch(chrom, q, q + 1).upper()
            if base in BASE_CODE:
                alt = "ACGT"[(BASE_CODE[base] + shift) % 4]
                fake.append(Variant(chrom, q + 1, base, alt, "null", 0, 1))
                if len(fake) == self.n_null:
                    break
        if not fake:
            return
        fprep = self.windows.prepare(fake)
        k, m = len(self.shifts), len(fprep.snv_alts)
        effects = np.zeros((m, len(self.outputs)))
        for g, s0 in enumerate(range(0, m, _NULL_GROUP)):
            if g % parts == part:
                s1 = min(s0 + _NULL_GROUP, m)
                w = slice(s0 * k, s1 * k)
                ref, alt = self._snv_logits(
                    fprep.snv_windows[w], fprep.snv_alts[s0:s1], fprep.snv_loc[w]
                )
                effects[s0:s1] = np.abs(alt - ref)
        self.null = EmpiricalNull(effects if total is None else total(effects))

    def pvalues(self, raw_delta: np.ndarray, *, count: bool = True) -> np.ndarray:
        """Empirical p-values of Δ raw (n, n_outputs) against the null of :meth:`finish`
        (NaN without a null); counted for :meth:`qvalues` when ``count``."""
        raw_delta = np.asarray(raw_delta, np.float64)
        if self.null is None:
            return np.full(raw_delta.shape, np.nan)
        return self.null.pvalues(raw_delta, count=count)

    def state(self) -> dict[str, np.ndarray]:
        """What another process needs to fold this one's chunks in (:meth:`merge`): the
        candidate null sites, the counts and the renamed contigs."""
        s = self.summary()
        counts = [s.n_variants, s.n_scored, s.n_snv, s.n_indel, s.n_multiallelic]
        renamed = [f"{a}\t{b}" for a, b in s.renamed_contigs.items()]
        return {
            **{f"sites_{k}": v for k, v in self.sites.state().items()},
            "counts": np.array(counts, np.int64),
            "flags": np.array([s.flags[f] for f in FLAGS], np.int64),
            "renamed": np.array(renamed, dtype=str),
        }

    def merge(self, state: dict[str, np.ndarray]) -> None:
        """Fold in the :meth:`state` of a process that scored other chunks."""
        sites = {k.removeprefix("sites_"): v for k, v in state.items() if k.startswith("sites_")}
        self.sites.merge(NullSites.from_state(self.sites.capacity, sites))
        for key, n in zip(("n", "scored", "snv", "indel", "multi"), state["counts"], strict=True):
            self._counts[key] += int(n)
        for f, n in zip(FLAGS, state["flags"], strict=True):
            self._flags[f] += int(n)
        for pair in state["renamed"]:
            a, b = str(pair).split("\t")
            self._renamed_elsewhere[a] = b

    def total_counts(self, total: Callable[[np.ndarray], np.ndarray]) -> None:
        """Make :meth:`qvalues` rank against the variants of every process: the p-value
        counts of this process's chunks (from :meth:`pvalues`) become ``total(counts)``, their
        sum over the processes (:func:`cislearn.distribute.all_sum`). Every process calls
        this once, after counting; no-op without a null."""
        if self.null is not None:
            self.null.counts = np.asarray(total(self.null.counts), np.int64)

    def qvalues(self, pvalues: np.ndarray, output: str) -> np.ndarray:
        """Benjamini–Hochberg q-values of p-values this scorer produced for ``output``, over
        every variant scored so far (see :meth:`EmpiricalNull.qvalues`); call it after the last
        chunk. NaN stays NaN; without a null (``n_null=0``) every q-value is NaN.

        Parameters
        ----------
        pvalues : ndarray of shape (n,)
            The ``<output>_pvalue`` column of frames from :meth:`score`.
        output : str
            Output name, one of :attr:`outputs`.

        Returns
        -------
        ndarray of shape (n,)
        """
        if self.null is None:
            return np.full(np.shape(pvalues), np.nan)
        return self.null.qvalues(pvalues, self.outputs.index(output))

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

    def score(self, chunk: Sequence[Variant], *, index: int | None = None) -> pd.DataFrame:
        """Score one chunk of variants and offer candidate null sites near them.

        Returns one row per variant, in input order, columns :attr:`columns` and one hidden
        ``RAW_DELTA + output`` column per output. P-values are NaN until :meth:`finish`
        drew the null (then see :meth:`pvalues`). ``index`` numbers the chunk in the input
        (default: chunks scored so far); it seeds the chunk's null candidates.
        """
        chunk = list(chunk)
        index = self._chunks if index is None else int(index)
        self._chunks += 1
        prep = self.windows.prepare(chunk)
        self._offer_null(chunk, prep, index)
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
        delta = raw_alt - raw_ref
        pvals = self.pvalues(delta)
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
        for j, o in enumerate(self.outputs):
            cols[RAW_DELTA + o] = delta[:, j]
        frame = pd.concat([frame, pd.DataFrame(cols)], axis=1)
        self._count(chunk, prep, frame)
        return frame

    def _activated(self, raw: np.ndarray) -> np.ndarray:
        out = self._activate(torch.from_numpy(np.nan_to_num(raw).astype(np.float32))).numpy()
        out = out.astype(np.float64)
        out[np.isnan(raw)] = np.nan
        return out

    def _count(self, chunk: list[Variant], prep: Prepared, frame: pd.DataFrame) -> None:
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
        renamed = {**self._renamed_elsewhere, **self.windows.renamed}
        return VariantSummary(
            self._counts["n"],
            self._counts["scored"],
            self._counts["snv"],
            self._counts["indel"],
            self._counts["multi"],
            dict(self._flags),
            renamed,
            0 if self.null is None else self.null.n,
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
    :meth:`VariantScorer.qvalues`). Progress: ``progress("variants", n_done, None)``.
    """
    progress = progress or no_progress
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1; got {chunk_size}")
    it = iter(as_variants(variants))
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
    n_null: int = N_NULL,
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
    (random position, random other base) in windows centred within ±length/2 of scored
    variants drawn over the whole input (a bounded reservoir,
    :class:`cislearn.variant_stats.NullSites`) — the same genome, local sequence context and
    scoring (windows, shifts, strand averaging) as the variants, but no chosen site. A variant's
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
        scorer.finish()
    finally:
        scorer.close()
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=scorer.columns)
    raw = [RAW_DELTA + o for o in scorer.outputs]
    if len(frame):
        pvals = scorer.pvalues(frame[raw].to_numpy(dtype=np.float64), count=False)
        for j, o in enumerate(scorer.outputs):
            frame[f"{o}_pvalue"] = pvals[:, j]
    frame = frame.drop(columns=raw, errors="ignore")
    out = {}
    for o in scorer.outputs:
        out[f"{o}_qvalue"] = bh_qvalues(frame[f"{o}_pvalue"].to_numpy(dtype=np.float64))
    for o in scorer.outputs:
        at = frame.columns.get_loc(f"{o}_pvalue") + 1
        frame.insert(at, f"{o}_qvalue", out[f"{o}_qvalue"])
    frame.attrs["summary"] = scorer.summary()
    return frame

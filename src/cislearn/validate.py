"""Input validation behind ``cislearn check``: read a file, list every problem, summarise it."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from cislearn.errors import InputError, where
from cislearn.io.bed import check_chromosomes, read_bed
from cislearn.io.fasta import DUPLICATE_ID, read_deepbio_fasta, read_fasta
from cislearn.io.formats import detect_format
from cislearn.io.tables import read_table
from cislearn.leakage import describe_leakage, shared_across_splits

if TYPE_CHECKING:
    from cislearn.io.genome import Genome

__all__ = ["CheckReport", "check_file", "format_report", "MAX_PROBLEMS"]

#: At most this many problems are listed; a last line says how many more there were.
MAX_PROBLEMS = 50
_KEEP = 10_000  # problems kept in memory for sorting by line before the cap is applied
_FORMAT_NAMES = {
    "fasta": "FASTA",
    "deepbio": "DeepBIO FASTA",
    "table": "table",
    "bed": "BED",
    "narrowpeak": "narrowPeak",
    "unknown": "unknown format",
}


def _byte_table(chars: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars, dtype=np.uint8)] = True
    return table


# Byte lookup tables: one fancy-index per property over all bases (np.isin was 10x slower).
_GC_TABLE = _byte_table(b"GCgc")
_N_TABLE = _byte_table(b"Nn")
_LOWER_TABLE = _byte_table(bytes(range(ord("a"), ord("z") + 1)))


class CheckReport(NamedTuple):
    """Result of :func:`check_file`.

    ``problems`` holds one-line messages sorted by line (at most :data:`MAX_PROBLEMS`, then
    ``"… and N more problems"``); ``summary`` is JSON-serialisable; ``ok`` is True when there
    are no problems.
    """

    path: str
    format: str
    n_records: int
    problems: list[str]
    summary: dict[str, Any]
    ok: bool


class _Collector:
    """An ``on_error`` callback that keeps the problems instead of raising."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []
        self.count = 0

    def __call__(self, exc: InputError) -> None:
        self.count += 1
        if len(self.errors) < _KEEP:
            self.errors.append(exc)

    def messages(self) -> list[str]:
        # By line; problems of the whole file (no line) after the line-specific ones.
        ordered = sorted(self.errors, key=lambda e: e.line if e.line is not None else 1 << 62)
        shown = [str(e) for e in ordered[:MAX_PROBLEMS]]
        if self.count > len(shown):
            shown.append(f"… and {self.count - len(shown)} more problems")
        return shown


def _stats(values: np.ndarray) -> dict[str, int]:
    if not len(values):
        return {"min": 0, "median": 0, "max": 0}
    return {
        "min": int(values.min()),
        "median": int(np.median(values)),
        "max": int(values.max()),
    }


#: A record this many times longer than the median is flagged (a whole chromosome in a peak
#: file, a concatenation): it costs memory and is rarely meant.
LONG_FACTOR = 10


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def natural_key(name: str) -> tuple:
    """Sort key putting chr2 before chr10 (digits compared as numbers)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )


def _long_records(lengths: np.ndarray, ids: Sequence[str]) -> dict | None:
    """The records over :data:`LONG_FACTOR` × the median length (None if there are none)."""
    if len(lengths) < 2:
        return None
    median = float(np.median(lengths))
    long = np.flatnonzero(lengths > LONG_FACTOR * max(median, 1.0))
    if not len(long):
        return None
    top = int(long[np.argmax(lengths[long])])
    return {"count": len(long), "longest_id": str(ids[top]), "longest": int(lengths[top])}


def _sequence_summary(sequences: Sequence[str], ids: Sequence[str], dup_ids: int) -> dict:
    """Length, composition and duplicate counts, computed on one byte array (no base loop)."""
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    summary: dict[str, Any] = {
        "length": _stats(lengths),
        "gc_mean": None,
        "n_fraction": 0.0,
        "softmasked_fraction": 0.0,
        "duplicate_sequences": len(sequences) - len({s.upper() for s in sequences}),
        "duplicate_ids": dup_ids + len(ids) - len(set(ids)),
        "long_records": _long_records(lengths, ids),
    }
    if not len(sequences) or not lengths.sum():
        return summary
    arr = np.frombuffer("".join(sequences).encode("ascii", "replace"), dtype=np.uint8)
    gc = _GC_TABLE[arr]
    n = _N_TABLE[arr]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gc_per = np.add.reduceat(gc, starts)
    called = lengths - np.add.reduceat(n, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = gc_per / called
    summary["gc_mean"] = round(float(np.nanmean(frac)), 4) if (called > 0).any() else None
    summary["n_fraction"] = round(float(n.mean()), 6)
    summary["softmasked_fraction"] = round(float(_LOWER_TABLE[arr].mean()), 6)
    return summary


def _ragged(
    path: str, lengths: Sequence[int], names: Sequence[str], positions: Sequence[dict]
) -> InputError | None:
    """The first record whose length differs from the first record's, or None."""
    arr = np.asarray(lengths)
    differ = np.flatnonzero(arr != arr[0]) if len(arr) else np.array([], dtype=int)
    if not len(differ):
        return None
    i = int(differ[0])
    first = where(record=positions[0].get("record"), record_id=names[0]) or f'"{names[0]}"'
    return InputError(
        f"ragged lengths: {arr[i]} bp, but {first} has {arr[0]} bp; --fixed-length needs one "
        f"length for all sequences ({len(differ)} of {len(arr)} records differ)",
        path=path,
        record_id=names[i],
        **positions[i],
    )


def _label_counts(values: np.ndarray) -> dict[str, Any]:
    finite = values[~np.isnan(values)]
    missing = int(len(values) - len(finite))
    if len(finite) and np.all(finite == np.round(finite)) and len(np.unique(finite)) <= 20:
        counts = Counter(int(v) for v in finite)
        out: dict[str, Any] = {str(k): counts[k] for k in sorted(counts)}
    elif len(finite):
        out = {
            "min": float(finite.min()),
            "mean": round(float(finite.mean()), 6),
            "max": float(finite.max()),
        }
    else:
        out = {}
    if missing:
        out["missing"] = missing
    return out


def _leakage(sequences: list[str], split: list[str], ids: list[str]) -> dict[str, Any]:
    report = shared_across_splits(sequences, split, ids)
    return {**report._asdict(), "text": describe_leakage(report)}


def _check_sequences(
    path: str, fmt: str, fixed_length: bool, iupac_to_n: bool
) -> tuple[int, dict[str, Any], _Collector]:
    collect = _Collector()
    summary: dict[str, Any] = {}
    positions: list[dict] = []
    if fmt == "table":
        table = read_table(path, iupac_to_n=iupac_to_n, on_error=collect)
        frame = table.frame
        ids = frame["id"].astype(str).tolist()
        sequences = frame["sequence"].astype(str).tolist()
        positions = [{} for _ in ids]
        n_records = len(frame) + len({e.line for e in collect.errors if (e.line or 0) > 1})
        if table.target_names:
            summary["targets"] = list(table.target_names)
            summary["labels"] = {
                name: _label_counts(frame[name].to_numpy(dtype=np.float64))
                for name in table.target_names
            }
        if "split" in frame:
            summary["splits"] = dict(Counter(frame["split"].astype(str)))
            summary["leakage"] = _leakage(sequences, frame["split"].astype(str).tolist(), ids)
    else:
        reader = read_deepbio_fasta if fmt == "deepbio" else read_fasta
        records = list(reader(path, iupac_to_n=iupac_to_n, on_error=collect))
        ids = [r.id for r in records]
        sequences = [r.sequence for r in records]
        positions = [{"record": r.index, "line": r.line} for r in records]
        n_records = max(
            [records[-1].index if records else 0]
            + [e.record for e in collect.errors if e.record is not None]
        )
        if fmt == "deepbio":
            labels = Counter(r.label for r in records)
            summary["labels"] = {"label": {str(k): labels[k] for k in sorted(labels)}}
            summary["splits"] = dict(Counter(r.split for r in records))
            summary["leakage"] = _leakage(sequences, [r.split for r in records], ids)
    dup_ids = sum(1 for e in collect.errors if e.problem.startswith(DUPLICATE_ID))
    summary.update(_sequence_summary(sequences, ids, dup_ids))
    if fixed_length:
        problem = _ragged(path, [len(s) for s in sequences], ids, positions)
        if problem is not None:
            collect(problem)
    return n_records, summary, collect


def _check_intervals(path: str, genome: Genome | None) -> tuple[int, dict[str, Any], _Collector]:
    collect = _Collector()
    frame = read_bed(path, on_error=collect)
    n_records = len(frame) + len({e.line for e in collect.errors if e.line is not None})
    if genome is not None:
        check_chromosomes(frame, genome, path=path, on_error=collect)
    widths = (frame["end"] - frame["start"]).to_numpy()
    summary = {
        "intervals": len(frame),
        "per_chromosome": {
            str(k): int(v)
            for k, v in sorted(
                frame["chrom"].value_counts(sort=False).items(), key=lambda kv: natural_key(kv[0])
            )
        },
        "width": _stats(widths),
        "has_summits": bool((frame["summit"] >= 0).any()),
    }
    return n_records, summary, collect


def check_file(
    path: str | os.PathLike[str],
    *,
    genome: Genome | None = None,
    fixed_length: bool = False,
    iupac_to_n: bool = False,
) -> CheckReport:
    """Detect a file's format, read it collecting every problem, and summarise it.

    Parameters
    ----------
    path : path-like
        FASTA, DeepBIO FASTA, table (TSV/CSV), BED or narrowPeak; plain or gzip.
    genome : Genome, optional
        Check that BED chromosomes exist in it and intervals fit within them.
    fixed_length : bool
        Report sequences whose length differs from the first ("ragged lengths").
    iupac_to_n : bool
        Accept IUPAC ambiguity codes (as N) instead of reporting them.

    Returns
    -------
    CheckReport
        ``(path, format, n_records, problems, summary, ok)``. Problems never raise: a file
        that cannot be read at all gives one problem and format ``"unknown"``.

    Examples
    --------
    >>> report = check_file("pos.fa.gz")  # doctest: +SKIP
    >>> report.n_records, report.summary["length"]  # doctest: +SKIP
    (4000, {'min': 201, 'median': 201, 'max': 201})
    """
    name = os.fspath(path)
    try:
        fmt = detect_format(path)
    except InputError as exc:
        return CheckReport(name, "unknown", 0, [str(exc)], {}, False)
    if fmt in ("bed", "narrowpeak"):
        n_records, summary, collect = _check_intervals(name, genome)
    else:
        n_records, summary, collect = _check_sequences(name, fmt, fixed_length, iupac_to_n)
    problems = collect.messages()
    return CheckReport(name, fmt, int(n_records), problems, summary, not problems)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _counts(counts: dict[str, Any]) -> str:
    return "  ".join(
        f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v:g}" for k, v in counts.items()
    )


def format_report(report: CheckReport) -> str:
    """A compact human-readable summary of a :class:`CheckReport`, several lines.

    Examples
    --------
    >>> print(format_report(check_file("pos.fa.gz")))  # doctest: +SKIP
    pos.fa.gz: FASTA, 4,000 records, OK
      length       201 bp (all equal)
      composition  GC 42.4% (mean), N 0.0%, soft-masked 0.0%
      duplicates   0 sequences, 0 ids
    """
    s = report.summary
    fmt = _FORMAT_NAMES.get(report.format, report.format)
    unit = "intervals" if report.format in ("bed", "narrowpeak") else "records"
    n_problems = len(report.problems)
    if report.problems and report.problems[-1].startswith("… and "):
        n_problems = MAX_PROBLEMS + int(report.problems[-1].split()[2])
    status = "OK" if report.ok else f"{n_problems} problem{'s' if n_problems != 1 else ''}"
    lines = [f"{report.path}: {fmt}, {report.n_records:,} {unit}, {status}"]
    if "length" in s:
        length = s["length"]
        if length["min"] == length["max"]:
            lines.append(f"  length       {length['min']:,} bp (all equal)")
        else:
            lines.append(
                f"  length       {length['min']:,} / {length['median']:,} / {length['max']:,} bp"
                " (min / median / max)"
            )
        lines.append(
            f"  composition  GC {_pct(s['gc_mean'])} (mean), N {_pct(s['n_fraction'])}, "
            f"soft-masked {_pct(s['softmasked_fraction'])}"
        )
        lines.append(
            f"  duplicates   {_plural(s['duplicate_sequences'], 'sequence')}, "
            f"{_plural(s['duplicate_ids'], 'id')}"
        )
        if s.get("long_records"):
            long = s["long_records"]
            lines.append(
                f"  long records {long['count']:,} over {LONG_FACTOR}x the median length "
                f"(longest: '{long['longest_id']}', {long['longest']:,} bp); check they belong"
            )
    for name, counts in s.get("labels", {}).items():
        lines.append(f"  {name:<12} {_counts(counts)}")
    if "splits" in s:
        lines.append(f"  {'splits':<12} {_counts(s['splits'])}")
    if "leakage" in s:
        lines.append(f"  {'leakage':<12} {s['leakage']['text']}")
    if "width" in s:
        width = s["width"]
        lines.append(
            f"  width        {width['min']:,} / {width['median']:,} / {width['max']:,} bp"
            " (min / median / max)"
        )
        chroms = s["per_chromosome"]
        shown = dict(list(chroms.items())[:8])
        more = f"  (+{len(chroms) - 8} more)" if len(chroms) > 8 else ""
        lines.append(f"  chromosomes  {_counts(shown)}{more}")
        lines.append(f"  summits      {'yes' if s['has_summits'] else 'no'}")
    if report.problems:
        lines.append("  problems:")
        lines.extend(f"    {p}" for p in report.problems)
    return "\n".join(lines)

"""Variant files: stream VCF / VCF.gz / BCF (cyvcf2) and ``chrom pos ref alt [id]`` TSV; write
the annotated, sites-only VCF."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write
from cislearn.io.formats import is_gzip, variant_format

__all__ = [
    "Variant",
    "InfoField",
    "VARIANT_FORMATS",
    "variant_format",
    "read_variants",
    "read_variant_chunks",
    "read_vcf_header",
    "write_vcf",
    "vcf_header",
    "format_vcf_records",
]

VARIANT_FORMATS = ("vcf", "bcf", "tsv")  # detected by cislearn.io.formats.variant_format

_BASES = re.compile(r"[ACGTNacgtn]+")
_TSV_HEADER = {"chrom", "#chrom", "chr", "chromosome", "#chr", "seqnames"}


class Variant(NamedTuple):
    """One ALT allele of a variant record (multi-allelic records are split into several)."""

    chrom: str
    pos: int
    """1-based position of the first REF base (VCF convention)."""
    ref: str
    alt: str
    """ALT allele; symbolic alleles (``<DEL>``, ``*``, ``.``, breakends) are passed through."""
    id: str
    """Record ID, or ``chrom:pos:ref:alt`` when the file gives none (``.``)."""
    line: int
    """1-based line of the record in the (decompressed) file; for BCF the record number."""
    n_alts: int
    """Number of ALT alleles of the source record (> 1: it was split)."""


class InfoField(NamedTuple):
    """An INFO key written by :func:`write_vcf`, declared in the header."""

    key: str
    number: str
    """VCF ``Number``: ``1``, ``A``, ``.``, ..."""
    type: str
    """VCF ``Type``: ``Float``, ``Integer``, ``String`` or ``Flag``."""
    description: str


def _open_text(path: str | os.PathLike[str]) -> IO[str]:
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _check_allele(
    value: str,
    what: str,
    *,
    path: object,
    line: int | None = None,
    record: int | None = None,
    symbolic: bool,
) -> None:
    if _BASES.fullmatch(value):
        return
    if symbolic and (value in (".", "*") or value.startswith("<") or "[" in value or "]" in value):
        return
    raise InputError(
        f"{what} allele '{value[:30]}' is not a DNA allele (letters A C G T N"
        + (", or a symbolic allele" if symbolic else "")
        + ")",
        path=path,
        line=line,
        record=record,
    )


def read_variants(path: str | os.PathLike[str], *, format: str | None = None) -> Iterator[Variant]:
    """Stream the variants of a VCF / VCF.gz / BCF or TSV file, one ALT allele at a time.

    Parameters
    ----------
    path : path
        A VCF (plain, gzip or bgzip), a BCF, or a TSV with columns ``chrom pos ref alt [id]``
        (1-based ``pos``, tab or space separated, optional header line, ``#`` comments; ``alt``
        may hold several comma-separated alleles).
    format : {"vcf", "bcf", "tsv"}, optional
        None → from the file name, else from the first bytes (:func:`variant_format`).

    Yields
    ------
    Variant
        In file order; a multi-allelic record yields one Variant per ALT allele.

    Raises
    ------
    InputError
        A malformed record, naming the file and line: a non-integer position, too few
        columns, a REF/ALT that is not DNA.

    Examples
    --------
    >>> next(read_variants("gwas.vcf.gz"))  # doctest: +SKIP
    Variant(chrom='chr1', pos=10177, ref='A', alt='AC', id='rs367896724', line=58, n_alts=1)
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("variant file not found", path=path)
    fmt = variant_format(path) if format is None else format
    if fmt not in VARIANT_FORMATS:
        raise InputError(
            f"unknown variant format '{fmt}'; expected one of {', '.join(VARIANT_FORMATS)}"
        )
    return (v for _, v in _records(path, fmt, None))


def _records(
    path: Path, fmt: str, keep: Callable[[int], bool] | None
) -> Iterator[tuple[int, Variant]]:
    """(0-based record index, Variant) of the records ``keep`` accepts (None: all); the
    others are counted, not parsed."""
    if fmt == "tsv":
        return _read_tsv(path, keep)
    if fmt == "vcf":
        return _read_vcf_text(path, keep)
    return _read_bcf(path, keep)


def read_variant_chunks(
    path: str | os.PathLike[str], size: int, *, part: int = 0, parts: int = 1
) -> Iterator[tuple[int, list[Variant]]]:
    """Stream chunks of ``size`` records (all ALT alleles of a record stay together), only
    those of one of ``parts`` interleaved parts: chunk ``i`` belongs to part ``i % parts``.

    The records of other parts are counted, not parsed, so ``parts`` processes reading the
    same file each pay little for the others' records (the split of a distributed sampler).

    Parameters
    ----------
    path : path
        As in :func:`read_variants`.
    size : int
        Records per chunk (>= 1).
    part, parts : int
        This part (0 <= part < parts) and the number of parts.

    Yields
    ------
    (int, list of Variant)
        Chunk index and its variants, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("variant file not found", path=path)
    if size < 1 or not 0 <= part < parts:
        raise InputError(
            f"chunks: need size >= 1 and 0 <= part < parts; got {size}, {part}/{parts}"
        )
    fmt = variant_format(path)
    current, chunk = -1, []
    for k, v in _records(path, fmt, lambda k: (k // size) % parts == part):
        if k // size != current:
            if chunk:
                yield current, chunk
            current, chunk = k // size, []
        chunk.append(v)
    if chunk:
        yield current, chunk


def _read_tsv(path: Path, keep: Callable[[int], bool] | None) -> Iterator[tuple[int, Variant]]:
    # A small hand-written parser: a TSV of four or five columns has no library reader that
    # reports the line of a bad record; this one runs ~1 µs per line.
    first = True
    record = -1
    with _open_text(path) as fh:
        for lineno, text in enumerate(fh, 1):
            head = text.lstrip()
            if not head or head.startswith("#"):
                continue
            if first:
                first = False
                fields = text.split()
                if fields[0].lower() in _TSV_HEADER and not fields[1:2][0].isdigit():
                    continue
            record += 1
            if keep is not None and not keep(record):
                continue
            fields = text.split()
            if len(fields) not in (4, 5):
                raise InputError(
                    f"expected 4 or 5 columns (chrom pos ref alt [id]); found {len(fields)}",
                    path=path,
                    line=lineno,
                )
            chrom, pos_text, ref, alts = fields[:4]
            try:
                pos = int(pos_text)
            except ValueError:
                pos = 0
            if pos < 1:
                raise InputError(
                    f"position '{pos_text}' is not a 1-based integer", path=path, line=lineno
                )
            _check_allele(ref, "REF", path=path, line=lineno, symbolic=False)
            split = alts.split(",")
            for alt in split:
                _check_allele(alt, "ALT", path=path, line=lineno, symbolic=True)
            vid = fields[4] if len(fields) == 5 and fields[4] != "." else None
            for alt in split:
                yield (
                    record,
                    Variant(
                        chrom,
                        pos,
                        ref,
                        alt,
                        vid or f"{chrom}:{pos}:{ref}:{alt}",
                        lineno,
                        len(split),
                    ),
                )


def _read_vcf_text(path: Path, keep: Callable[[int], bool] | None) -> Iterator[tuple[int, Variant]]:
    # Text VCF is parsed here rather than by cyvcf2/htslib: htslib reports no line number for
    # a bad record, and cyvcf2 0.35 crashes the interpreter (segfault) on some malformed lines
    # (a space-separated record). Only the first five columns are split (~1 µs per line);
    # BCF, which cannot have malformed text lines, is read with cyvcf2.
    saw_header = False
    record = -1
    with _open_text(path) as fh:
        for lineno, text in enumerate(fh, 1):
            if text.startswith("#"):
                saw_header = saw_header or text.startswith("#CHROM")
                continue
            text = text.rstrip("\r\n")
            if not text:
                continue
            if not saw_header:
                raise InputError(
                    "record before the '#CHROM' header line; is this a VCF?", path=path, line=lineno
                )
            record += 1
            if keep is not None and not keep(record):
                continue
            fields = text.split("\t", 8)
            if len(fields) < 8:
                problem = f"expected at least 8 tab-separated VCF columns; found {len(fields)}"
                if len(text.split()) >= 8:
                    problem += " (the columns are separated by spaces, not tabs)"
                raise InputError(problem, path=path, line=lineno)
            chrom, pos_text, vid, ref, alt_text = fields[:5]
            if not pos_text.isdigit() or int(pos_text) < 1:
                raise InputError(
                    f"position '{pos_text[:30]}' is not a 1-based integer", path=path, line=lineno
                )
            pos = int(pos_text)
            _check_allele(ref, "REF", path=path, line=lineno, symbolic=False)
            alts = alt_text.split(",")
            for alt in alts:
                _check_allele(alt, "ALT", path=path, line=lineno, symbolic=True)
            for alt in alts:
                name = vid if vid != "." else f"{chrom}:{pos}:{ref}:{alt}"
                yield record, Variant(chrom, pos, ref, alt, name, lineno, len(alts))


def _read_bcf(path: Path, keep: Callable[[int], bool] | None) -> Iterator[tuple[int, Variant]]:
    import cyvcf2

    # htslib prints its own errors to the C stderr; ours (one line) replaces them.
    cyvcf2.cyvcf2.set_htslib_log_level(0)  # HTS_LOG_OFF
    try:
        reader = cyvcf2.VCF(str(path), lazy=True, threads=1)
    except Exception as exc:  # cyvcf2 raises bare Exception for htslib errors
        raise InputError(f"cannot read as BCF: {exc}", path=path) from None
    lineno = 0
    it = iter(reader)
    try:
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except Exception as exc:  # htslib parse failure (cyvcf2 raises bare Exception)
                raise _vcf_error(path, lineno + 1, exc) from None
            lineno += 1
            if keep is not None and not keep(lineno - 1):
                continue
            chrom, pos, ref, alts = rec.CHROM, rec.POS, rec.REF, rec.ALT
            _check_allele(ref, "REF", path=path, record=lineno, symbolic=False)
            if not alts:
                alts = ["."]
            for alt in alts:
                _check_allele(alt, "ALT", path=path, record=lineno, symbolic=True)
            vid = rec.ID
            for alt in alts:
                yield (
                    lineno - 1,
                    Variant(
                        chrom, pos, ref, alt, vid or f"{chrom}:{pos}:{ref}:{alt}", lineno, len(alts)
                    ),
                )
    finally:
        reader.close()


def _vcf_error(path: Path, record: int, exc: Exception) -> InputError:
    return InputError(f"cannot parse this BCF record ({exc})", path=path, record=record)


def read_vcf_header(path: str | os.PathLike[str]) -> list[str]:
    """The ``##`` meta lines of a VCF/BCF (without the ``#CHROM`` line); [] for a TSV."""
    path = Path(path)
    fmt = variant_format(path)
    if fmt == "tsv":
        return []
    if fmt == "vcf":
        meta = []
        with _open_text(path) as fh:
            for line in fh:
                if not line.startswith("##"):
                    break
                meta.append(line.rstrip("\r\n"))
        return meta
    import cyvcf2

    cyvcf2.cyvcf2.set_htslib_log_level(0)  # HTS_LOG_OFF
    try:
        reader = cyvcf2.VCF(str(path), lazy=True)
    except Exception as exc:  # cyvcf2 raises bare Exception for htslib errors
        raise InputError(f"cannot read as BCF: {exc}", path=path) from None
    try:
        return [ln for ln in reader.raw_header.splitlines() if ln.startswith("##")]
    finally:
        reader.close()


def _escape_info(value: object) -> str:
    text = str(value)
    return text.replace(" ", "_").replace(";", ",").replace("=", ":").replace("\t", "_")


def _format_value(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "."
        return f"{value:.6g}"
    return _escape_info(value)


def _vcf_line(chrom: str, pos: int, vid: str, ref: str, alt: str, values: dict) -> str:
    """One record; INFO values that are NaN, None or False are left out, True is a Flag."""
    parts = []
    for key, value in values.items():
        if value is None or value is False or value != value:
            continue
        parts.append(key if value is True else f"{key}={_format_value(value)}")
    return f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\t.\t{';'.join(parts) or '.'}\n"


def vcf_header(
    info: Sequence[InfoField],
    *,
    meta: Sequence[str] = (),
    contigs: dict[str, int] | None = None,
    source: str = "cislearn",
) -> str:
    """The header of a sites-only VCF: the kept ``##`` lines of ``meta`` (not its own
    ``##INFO``/``##FORMAT``), ``##contig`` lines from ``contigs`` when ``meta`` has none, the
    declared INFO fields and the ``#CHROM`` line (see :func:`write_vcf`)."""
    dropped = ("##INFO", "##FORMAT", "##fileformat", "##source=cislearn")
    keep = [m for m in meta if not m.startswith(dropped)]
    lines = ["##fileformat=VCFv4.2", *keep]
    if contigs and not any(m.startswith("##contig") for m in keep):
        lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs.items()]
    lines.append(f"##source={source}")
    for f in info:
        desc = f.description.replace('"', "'")
        lines.append(f'##INFO=<ID={f.key},Number={f.number},Type={f.type},Description="{desc}">')
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    return "\n".join(lines) + "\n"


def format_vcf_records(
    chrom: Sequence[str],
    pos: Sequence[int],
    vid: Sequence[str],
    ref: Sequence[str],
    alt: Sequence[str],
    info: Mapping[str, Any],
) -> str:
    """Sites-only records, one per row, as :func:`write_vcf` writes them: ``info`` maps INFO
    keys to a column each, text (escaped) or float (``%.6g``; NaN leaves the key out).

    Written by hand for speed (``score-variants`` writes one record per variant): a row
    whose floats are all finite is one ``%`` of a record format; only rows with a NaN take
    the per-value path of :func:`write_vcf`.

    Returns
    -------
    str
        One ``\n``-terminated line per row.
    """
    keys, lists, fmts = list(info), [], []
    nan = np.zeros(len(pos), bool)
    for key in keys:
        values = info[key]
        arr = values if isinstance(values, list) else np.asarray(values)
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            nan |= np.isnan(arr)
            lists.append(arr.astype(np.float64).tolist())
            fmts.append(f"{key}=%.6g")
        else:
            text = arr if isinstance(arr, list) else arr.tolist()
            escaped = {v: _escape_info(v) for v in set(text) if v is not None}
            nan |= np.array([v is None for v in text], bool)
            lists.append([escaped.get(v) for v in text])
            fmts.append(f"{key}=%s")
    row = "%s\t%d\t%s\t%s\t%s\t.\t.\t" + (";".join(fmts) or ".") + "\n"
    columns = [list(chrom), [int(p) for p in pos], list(vid), list(ref), list(alt), *lists]
    out = []
    for r, slow in zip(zip(*columns, strict=True), nan.tolist(), strict=True):
        out.append(_vcf_line(*r[:5], dict(zip(keys, r[5:], strict=True))) if slow else row % r)
    return "".join(out)


def write_vcf(
    path: str | os.PathLike[str],
    records: Iterable[Sequence[tuple[str, int, str, str, str, dict[str, object]]]],
    *,
    info: Sequence[InfoField],
    meta: Sequence[str] = (),
    contigs: dict[str, int] | None = None,
    source: str = "cislearn",
) -> int:
    """Write a sites-only VCF (atomically; ``.gz`` → gzip) with declared INFO fields.

    Parameters
    ----------
    path : path
        Output file.
    records : iterable of chunks of (chrom, pos, id, ref, alt, info dict)
        Streamed: one chunk at a time is formatted. INFO values that are NaN or None are
        left out; ``True`` writes a Flag.
    info : sequence of InfoField
        Every INFO key that may appear, declared as ``##INFO`` lines.
    meta : sequence of str
        ``##`` lines of the source VCF to keep (its own ``##INFO``/``##FORMAT`` lines are
        dropped, since the records are sites-only and carry only the new INFO keys).
    contigs : dict, optional
        ``##contig`` lines to write when ``meta`` has none.

    Returns
    -------
    int
        Number of records written.
    """
    n = 0
    with atomic_write(path) as fh:
        fh.write(vcf_header(info, meta=meta, contigs=contigs, source=source))
        for chunk in records:
            lines = [_vcf_line(*r[:5], r[5]) for r in chunk]
            fh.write("".join(lines))
            n += len(lines)
    return n

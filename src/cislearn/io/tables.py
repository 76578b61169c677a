"""Labelled sequence tables: TSV/CSV with a ``sequence`` column, optional ``id`` and ``split``."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write
from cislearn.io.fasta import DUPLICATE_ID, check_dna, unexpected_character
from cislearn.io.formats import DEEPBIO_SPLITS, open_text

__all__ = ["LabelledTable", "read_table", "write_table", "format_tsv"]

OnError = Callable[[InputError], None]

_RESERVED = ("id", "sequence", "split", "chrom", "start", "end")
#: Coordinate columns kept as text (``chrom``) or integers (``start``, ``end``), never targets.
_COORDS = ("chrom", "start", "end")
_NA_WORDS = frozenset({"na", "nan", "n/a"})
_SPLIT_WORDS = "train, valid, test (or training, validation, testing)"
_DNA_BYTES = b"ACGTNacgtn"


class LabelledTable(NamedTuple):
    """A table of sequences and their targets.

    ``frame`` has columns ``id`` (str), ``sequence`` (str, case preserved), one float64 column
    per target (NaN = missing) in file order, then ``split`` (train/valid/test) if the file has
    one. ``target_names`` lists the target columns.
    """

    frame: pd.DataFrame
    target_names: list[str]


def _raise(exc: InputError) -> None:
    raise exc


def _empty(target_names: list[str], with_split: bool) -> LabelledTable:
    columns: dict[str, object] = {"id": pd.Series([], dtype=str)}
    columns["sequence"] = pd.Series([], dtype=str)
    for name in target_names:
        columns[name] = pd.Series([], dtype=np.float64)
    if with_split:
        columns["split"] = pd.Series([], dtype=str)
    return LabelledTable(pd.DataFrame(columns), list(target_names))


def _delimiter(header: str, path: str | os.PathLike[str]) -> str:
    """Tab if the header has one, else comma if it has one, else by suffix (one column)."""
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    return "," if os.fspath(path).lower().removesuffix(".gz").endswith(".csv") else "\t"


def _to_float(values: list[str]) -> np.ndarray | None:
    """Fast path: every value parses as a float (numpy parses the strings in C)."""
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        return None


def read_table(
    path: str | os.PathLike[str],
    *,
    targets: Sequence[str] | None = None,
    iupac_to_n: bool = False,
    on_error: OnError | None = None,
) -> LabelledTable:
    """Read a TSV or CSV of labelled sequences (delimiter sniffed from the header; gzip allowed).

    Parameters
    ----------
    path : path-like
        The table. Line 1 is the header; it must name a ``sequence`` column. ``id``,
        ``split`` and coordinate (``chrom``, ``start``, ``end``) columns are optional (names
        are case-insensitive). Blank lines are skipped;
        quoted fields may not span lines.
    targets : sequence of str, optional
        The target columns. By default every column other than id/sequence/split is a target;
        when given, other columns are ignored.
    iupac_to_n : bool
        Map IUPAC ambiguity codes in sequences to ``N``.
    on_error : callable, optional
        Called with each :class:`InputError`; the offending row is dropped and reading goes
        on. Without it the first problem is raised.

    Returns
    -------
    LabelledTable
        ``frame`` of n rows (columns id, sequence, targets..., split) and ``target_names``.
        Missing ids become ``seq1``, ``seq2``...; DeepBIO split words map to train/valid/test;
        ``NA``/``NaN`` targets become NaN.

    Raises
    ------
    InputError
        Naming file, line (header = line 1), column and value: empty file, no sequence column,
        rows with the wrong number of fields, non-numeric or empty targets, unknown split words,
        bad DNA letters, empty or duplicate ids.

    Examples
    --------
    >>> table = read_table("train.tsv")  # doctest: +SKIP
    >>> table.target_names
    ['label']
    """
    report = on_error or _raise
    try:
        with open_text(path) as fh:
            text = fh.read()
    except InputError as exc:
        report(exc)
        return _empty([], False)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        report(
            InputError(
                "file is empty" if not text else "file is empty (only blank lines)", path=path
            )
        )
        return _empty([], False)
    sep = _delimiter(lines[first], path)
    # csv module (C) rather than pandas.read_csv: it reports exact line numbers for each row,
    # keeps every value as text for our own messages, and does not skip rows silently.
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # long sequences exceed the 128 kB default
    try:
        reader = csv.reader(lines[first:], delimiter=sep)
        header = [name.strip() for name in next(reader)]
        rows: list[list[str]] = []
        row_lines: list[int] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            rows.append(row)
            row_lines.append(first + reader.line_num)
    except csv.Error as exc:
        report(
            InputError(
                f"malformed {'TSV' if sep == chr(9) else 'CSV'}: {exc}",
                path=path,
                line=first + reader.line_num,
            )
        )
        return _empty([], False)
    finally:
        csv.field_size_limit(old_limit)
    return _build(path, header, rows, row_lines, first + 1, targets, iupac_to_n, report)


def _columns(
    path: str | os.PathLike[str],
    header: list[str],
    header_line: int,
    targets: Sequence[str] | None,
    report: OnError,
) -> tuple[dict[str, int], list[str]] | None:
    """Positions of the id/sequence/split columns and the target names, or None if fatal."""
    seen: dict[str, int] = {}
    for pos, name in enumerate(header):
        if name in seen:
            report(
                InputError(
                    f"column {name!r} appears twice in the header", path=path, line=header_line
                )
            )
            return None
        seen[name] = pos
    lower = {name.lower(): pos for name, pos in seen.items()}
    special = {key: lower[key] for key in _RESERVED if key in lower}
    if "sequence" not in special:
        shown = ", ".join(repr(n) for n in header[:8]) + (", ..." if len(header) > 8 else "")
        report(
            InputError(
                f"no 'sequence' column (columns: {shown}); the first line must be a header "
                "such as 'id<TAB>sequence<TAB>label'",
                path=path,
                line=header_line,
            )
        )
        return None
    others = [n for n in header if n.lower() not in special]
    if targets is None:
        return special, others
    for name in targets:
        if name.lower() in special:
            report(InputError(f"{name!r} cannot be a target column", path=path, line=header_line))
            return None
        if name not in seen:
            report(
                InputError(
                    f"target column {name!r} not found; columns: {', '.join(header)}",
                    path=path,
                    line=header_line,
                )
            )
            return None
    return special, list(targets)


def _build(
    path: str | os.PathLike[str],
    header: list[str],
    rows: list[list[str]],
    row_lines: list[int],
    header_line: int,
    targets: Sequence[str] | None,
    iupac_to_n: bool,
    report: OnError,
) -> LabelledTable:
    found = _columns(path, header, header_line, targets, report)
    if found is None:
        return _empty([], False)
    special, target_names = found
    has_split = "split" in special
    if not rows:
        report(InputError("no data rows after the header", path=path))
        return _empty(target_names, has_split)
    ok = np.ones(len(rows), dtype=bool)
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            ok[i] = False
            report(
                InputError(
                    f"row has {len(row)} fields, the header has {width}",
                    path=path,
                    line=row_lines[i],
                )
            )
    good = [row for row, keep in zip(rows, ok, strict=True) if keep]
    lines = [line for line, keep in zip(row_lines, ok, strict=True) if keep]
    keep = np.ones(len(good), dtype=bool)

    def bad(i: int, column: str, message: str) -> None:
        keep[i] = False
        report(InputError(f"column {column!r}: {message}", path=path, line=lines[i]))

    col = special["sequence"]
    seq_name = header[col]
    sequences = [row[col].strip() for row in good]
    joined = "".join(sequences)
    # One C-level check over all sequences; per-row checks only when something is off.
    if "" in sequences or not joined.isascii() or joined.encode().translate(None, _DNA_BYTES):
        for i, seq in enumerate(sequences):
            if not seq:
                bad(i, seq_name, "empty sequence")
                continue
            seq, problem = check_dna(seq, iupac_to_n=iupac_to_n)
            sequences[i] = seq
            if problem is not None:
                bad(i, seq_name, unexpected_character(problem[1], iupac_to_n=iupac_to_n))

    values: dict[str, np.ndarray] = {}
    for name in target_names:
        pos = header.index(name)
        raw = [row[pos].strip() for row in good]
        parsed = _to_float(raw)
        if parsed is None:
            parsed = np.full(len(raw), np.nan)
            for i, text in enumerate(raw):
                if text.lower() in _NA_WORDS:
                    continue
                if not text:
                    bad(i, name, "empty value (write NA for a missing target)")
                    continue
                try:
                    parsed[i] = float(text)
                except ValueError:
                    bad(i, name, f"value {text[:40]!r} is not a number")
        values[name] = parsed

    if "id" in special:
        pos = special["id"]
        ids = [row[pos].strip() for row in good]
        seen: dict[str, int] = {}
        for i, rid in enumerate(ids):
            if not rid:
                bad(i, header[pos], "empty id")
                continue
            first = seen.setdefault(rid, lines[i])
            if first != lines[i]:
                keep[i] = False
                report(
                    InputError(
                        f'{DUPLICATE_ID} "{rid}" (first seen at line {first}); ids must be unique',
                        path=path,
                        line=lines[i],
                    )
                )
    else:
        ids = [f"seq{i + 1}" for i in range(len(good))]

    frame: dict[str, object] = {"id": ids, "sequence": sequences, **values}
    if has_split:
        pos = special["split"]
        splits = [DEEPBIO_SPLITS.get(row[pos].strip().lower(), "") for row in good]
        for i, split in enumerate(splits):
            if not split:
                value = good[i][pos].strip()
                bad(i, header[pos], f"unknown split {value[:40]!r}; allowed: {_SPLIT_WORDS}")
        frame["split"] = splits
    for key in _COORDS:
        if key in special:
            pos = special[key]
            texts = [row[pos].strip() for row in good]
            if key != "chrom":
                for i, text in enumerate(texts):
                    if not text.lstrip("-").isdigit():
                        bad(i, header[pos], f"value {text[:40]!r} is not an integer")
                        texts[i] = "0"
            frame[key] = texts if key == "chrom" else np.array(texts, dtype=np.int64)
    table = pd.DataFrame(frame)
    if not keep.all():
        table = table.loc[keep].reset_index(drop=True)
    table = table.astype({"id": str, "sequence": str, **dict.fromkeys(target_names, np.float64)})
    return LabelledTable(table, list(target_names))


def write_table(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write a table as TSV, atomically (``.gz`` writes gzip); NaN is written as ``NA``.

    Parameters
    ----------
    path : path-like
        Output file.
    frame : DataFrame
        Any frame; :func:`read_table` reads it back if it has a ``sequence`` column.

    Examples
    --------
    >>> write_table("out.tsv", read_table("in.csv").frame)  # doctest: +SKIP
    """
    with atomic_write(path) as fh:
        frame.to_csv(fh, sep="\t", index=False, na_rep="NA", lineterminator="\n")


#: Characters that make pandas quote a text field of a TSV (csv.QUOTE_MINIMAL).
_QUOTED = ('"', "\t", "\n", "\r")


def format_tsv(columns: Mapping[str, Any], *, float_format: str = "%.6g") -> str:
    """Rows of ``columns`` as tab-separated lines without a header, exactly as pandas'
    ``DataFrame(columns).to_csv(sep="\t", index=False, header=False, float_format=...)``
    writes them (NaN as an empty field), for float, integer and text columns.

    Written by hand for speed: pandas formats every float through a Python call per value
    (``score-variants`` spent most of its merge there); here a row is one ``%`` of a row
    format, and only rows holding a NaN take the slow per-value path. Text holding a quote,
    tab or line break (which pandas quotes), or None, falls back to pandas itself.

    Parameters
    ----------
    columns : mapping of str to array or list
        Columns of one length, in output order.
    float_format : str
        ``%``-format of float values.

    Returns
    -------
    str
        One ``\n``-terminated line per row.
    """
    lists: list[list[Any]] = []
    formats: list[str] = []
    nan = None
    for values in columns.values():
        if isinstance(values, list):
            kind = "O"
        else:
            values = np.asarray(values)
            kind = values.dtype.kind
        if kind == "f":
            arr = np.asarray(values, np.float64)
            isnan = np.isnan(arr)
            nan = isnan if nan is None else nan | isnan
            formats.append(float_format)
            lists.append(arr.tolist())
        elif kind in "iu":
            formats.append("%d")
            lists.append(values.tolist())
        else:
            text = values if isinstance(values, list) else values.tolist()
            if any(v is None for v in text):
                return _pandas_tsv(columns, float_format)
            joined = "\x00".join(map(str, text))
            if any(c in joined for c in _QUOTED):
                return _pandas_tsv(columns, float_format)
            formats.append("%s")
            lists.append(text)
    if not lists:
        return ""
    row = "\t".join(formats) + "\n"
    if nan is None or not nan.any():
        return "".join([row % r for r in zip(*lists, strict=True)])
    lines = []
    for r, has_nan in zip(zip(*lists, strict=True), nan.tolist(), strict=True):
        if not has_nan:
            lines.append(row % r)
            continue
        fields = [
            "" if f == float_format and v != v else f % (v,)
            for f, v in zip(formats, r, strict=True)
        ]
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def _pandas_tsv(columns: Mapping[str, Any], float_format: str) -> str:
    frame = pd.DataFrame({str(i): v for i, v in enumerate(columns.values())})
    return frame.to_csv(
        sep="\t", index=False, header=False, float_format=float_format, lineterminator="\n"
    )

"""Opening input files safely (gzip by magic bytes, UTF-8) and telling their format apart."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import IO, Literal

from cislearn.errors import InputError

__all__ = [
    "open_text",
    "bed_hint",
    "detect_format",
    "is_gzip",
    "sniff_variant_bytes",
    "variant_format",
    "VariantFormat",
    "CheckedText",
    "FileFormat",
    "GZIP_MAGIC",
    "DEEPBIO_SPLITS",
]

FileFormat = Literal["fasta", "deepbio", "table", "bed", "narrowpeak"]
#: Variant file formats: VCF (plain, gzip or bgzip), BCF, or a ``chrom pos ref alt [id]`` TSV.
VariantFormat = Literal["vcf", "bcf", "tsv"]

GZIP_MAGIC = b"\x1f\x8b"

#: DeepBIO split words (and cislearn's own names) mapped onto cislearn's split names.
DEEPBIO_SPLITS: dict[str, str] = {
    "training": "train",
    "testing": "test",
    "validation": "valid",
    "train": "train",
    "test": "test",
    "valid": "valid",
}

_SNIFF_BYTES = 8192
_SNIFF_LINES = 50
_DECODE_ERRORS = (UnicodeDecodeError, EOFError, OSError, zlib.error)


def _open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing gzip when the magic bytes say so."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - handed to the caller, closed there
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, expected a file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot open file: {exc.strerror or exc}", path=path) from None
    magic = raw.peek(2)[:2]
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # closing it does not close raw
    if path.suffix.lower() == ".gz" and magic:
        raw.close()
        raise InputError(
            f"file name ends in .gz but the content is not gzip data (starts with {magic!r}); "
            "decompress it properly or rename it without .gz",
            path=path,
        )
    return raw


def _close_binary(raw: IO[bytes]) -> None:
    """Close a handle from :func:`_open_binary` and, for gzip, the file underneath."""
    under = getattr(raw, "fileobj", None)  # GzipFile.close() leaves its fileobj open
    raw.close()
    if under is not None:
        under.close()


def _first_bad_utf8(path: Path) -> tuple[int, int, int] | None:
    """Locate the first line that is not UTF-8: (line, column, byte), all 1-based but byte."""
    try:
        fh = _open_binary(path)
    except InputError:
        return None
    try:
        for lineno, raw_line in enumerate(fh, 1):
            try:
                raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lineno, exc.start + 1, raw_line[exc.start]
    except _DECODE_ERRORS:
        return None
    finally:
        _close_binary(fh)
    return None


class CheckedText(io.TextIOBase):
    """A read-only text stream whose decoding failures surface as :class:`InputError`.

    Iterate it like any text file (lines end in ``"\\n"``: universal newlines). A truncated or
    corrupt gzip stream, binary content or non-UTF-8 bytes raise one clean ``InputError``
    naming the file (and the line where it can be located) instead of ``EOFError``,
    ``gzip.BadGzipFile`` or ``UnicodeDecodeError``.
    """

    def __init__(self, path: Path, inner: io.TextIOWrapper, *, compressed: bool) -> None:
        super().__init__()
        self.path = path
        self.name = os.fspath(path)
        self.compressed = compressed
        self._inner = inner

    def _translate(self, exc: BaseException) -> InputError:
        if isinstance(exc, UnicodeDecodeError):
            where = _first_bad_utf8(self.path)
            if where is not None:
                line, col, byte = where
                return InputError(
                    f"not valid UTF-8 text (byte 0x{byte:02x} at column {col}); "
                    "is it a binary file?",
                    path=self.path,
                    line=line,
                )
            return InputError("not valid UTF-8 text; is it a binary file?", path=self.path)
        if isinstance(exc, EOFError):
            return InputError(
                "gzip data is truncated (the file ends before the end-of-stream marker); "
                "the file is incomplete, copy or compress it again",
                path=self.path,
            )
        if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
            return InputError(
                f"corrupt gzip data ({exc}); the file is damaged, copy or compress it again",
                path=self.path,
            )
        return InputError(f"cannot read file: {exc}", path=self.path)

    def readable(self) -> bool:
        return True

    def __iter__(self) -> CheckedText:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._inner)
        except _DECODE_ERRORS as exc:
            raise self._translate(exc) from None
        return line

    def readline(self, size: int | None = -1) -> str:
        try:
            line = self._inner.readline(-1 if size is None else size)
        except _DECODE_ERRORS as exc:
            raise self._translate(exc) from None
        return line

    def read(self, size: int | None = -1) -> str:
        try:
            text = self._inner.read(-1 if size is None else size)
        except _DECODE_ERRORS as exc:
            raise self._translate(exc) from None
        return text

    def close(self) -> None:
        if not self.closed:
            # Closing the TextIOWrapper closes the GzipFile, which leaves the raw file open.
            raw = getattr(self._inner.buffer, "fileobj", None)
            self._inner.close()
            if raw is not None:
                raw.close()
        super().close()


def open_text(path: str | os.PathLike[str]) -> CheckedText:
    """Open a text input, plain or gzip (detected by magic bytes), as UTF-8 with universal newlines.

    Parameters
    ----------
    path : path-like
        The file. A ``.gz`` name whose content is not gzip is an error; gzip content under any
        name is decompressed. A UTF-8 byte-order mark is dropped.

    Returns
    -------
    CheckedText
        A text stream (use it in a ``with`` block); decoding problems raise ``InputError``.

    Raises
    ------
    InputError
        Missing file, binary content (NUL bytes), bad gzip header, or (while reading) truncated
        gzip data and non-UTF-8 bytes.

    Examples
    --------
    >>> with open_text("pos.fa.gz") as fh:  # doctest: +SKIP
    ...     first = fh.readline()
    """
    path = Path(path)
    raw = _open_binary(path)
    compressed = isinstance(raw, gzip.GzipFile)
    try:
        head = raw.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    except _DECODE_ERRORS as exc:
        _close_binary(raw)
        if isinstance(exc, EOFError):
            problem = "gzip data is truncated (the file ends before the end-of-stream marker)"
        else:
            problem = f"corrupt gzip data ({exc})"
        raise InputError(
            f"{problem}; the file is incomplete or damaged, copy or compress it again", path=path
        ) from None
    if b"\x00" in head:
        _close_binary(raw)
        raise InputError("binary data (NUL bytes), not a text file", path=path)
    inner = io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)  # type: ignore[arg-type]
    return CheckedText(path, inner, compressed=compressed)


# ---------------------------------------------------------------------------------------------
# format detection


def _looks_deepbio(description: str) -> bool:
    """Loose DeepBIO test for detection: 3 '|'-fields with an integer label or a split word."""
    fields = [f.strip() for f in description.split("|")]
    if len(fields) < 2 or len(fields) > 3:
        return False
    if fields[-1].lower() in DEEPBIO_SPLITS:
        return True
    return len(fields) == 3 and fields[1].lstrip("+-").isdigit()


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _bed_fields(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def _is_bed_line(line: str) -> bool:
    fields = _bed_fields(line)
    return len(fields) >= 3 and _is_int(fields[1]) and _is_int(fields[2])


def bed_hint(line: str) -> str:
    """A hint for a BED/narrowPeak line found where sequences were expected ("" otherwise)."""
    if not _is_bed_line(line.strip()):
        return ""
    return (
        "; this looks like BED (chrom start end): regions, not sequences; extract their "
        "sequences with `cislearn prepare PEAKS --genome GENOME.fa --out DIR`"
    )


def _is_table_header(line: str) -> bool:
    for sep in ("\t", ","):
        names = [n.strip().strip('"').lower() for n in line.split(sep)]
        if "sequence" in names:
            return True
    return False


_SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".fa": "fasta",
    ".fasta": "fasta",
    ".fna": "fasta",
    ".fas": "fasta",
    ".tsv": "table",
    ".csv": "table",
    ".txt": "table",
    ".bed": "bed",
    ".narrowpeak": "narrowpeak",
    ".broadpeak": "bed",
}


def _suffix_format(path: Path) -> FileFormat | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None


def detect_format(path: str | os.PathLike[str]) -> FileFormat:
    """Tell the format of an input file from its first lines, using the suffix to break ties.

    Parameters
    ----------
    path : path-like
        Plain or gzip file.

    Returns
    -------
    {"fasta", "deepbio", "table", "bed", "narrowpeak"}
        ``deepbio`` is a FASTA whose headers read ``>id|label|split``; ``table`` is TSV/CSV with
        a ``sequence`` column; ``narrowpeak`` is BED with 10 columns.

    Raises
    ------
    InputError
        Empty file, binary or undecodable content, or content that matches no format (the
        message quotes what was seen).

    Examples
    --------
    >>> detect_format("pos.fa.gz")  # doctest: +SKIP
    'fasta'
    """
    path = Path(path)
    lines: list[str] = []
    with open_text(path) as fh:
        for raw_line in fh:
            line = raw_line.strip()
            if not line or line.startswith(("#", "track ", "browser ")) or line == "track":
                continue
            lines.append(line)
            if len(lines) >= _SNIFF_LINES:
                break
    if not lines:
        raise InputError("file is empty (no data lines)", path=path)
    suffix = _suffix_format(path)
    headers = [line[1:] for line in lines if line.startswith(">")]
    if headers:
        return "deepbio" if any(_looks_deepbio(h) for h in headers) else "fasta"
    if _is_table_header(lines[0]):
        return "table"
    bed_lines = [line for line in lines if _is_bed_line(line)]
    if bed_lines:
        if suffix == "narrowpeak" or len(_bed_fields(bed_lines[0])) == 10:
            return "narrowpeak"
        return "bed"
    if suffix is not None:
        return suffix
    seen = lines[0][:60]
    raise InputError(
        f"cannot tell the format: the first line is {seen!r}; expected a FASTA header "
        "('>id'), a table header with a 'sequence' column, or BED columns 'chrom start end'",
        path=path,
    )


# --------------------------------------------------------------------------- variant files

_VARIANT_SUFFIXES: dict[str, VariantFormat] = {
    ".bcf": "bcf",
    ".vcf": "vcf",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".tab": "tsv",
}


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with the gzip magic bytes (gzip and bgzip/BGZF alike)."""
    fh = _open_binary(Path(path))
    try:
        return isinstance(fh, gzip.GzipFile)
    finally:
        _close_binary(fh)


def sniff_variant_bytes(head: bytes) -> Literal["vcf", "bcf"] | None:
    """``vcf`` or ``bcf`` from the first (decompressed) bytes of a variant file, else None.

    Examples
    --------
    >>> sniff_variant_bytes(b"##fileformat=VCFv4.2"), sniff_variant_bytes(b"chr1\t5\tA\tG")
    ('vcf', None)
    """
    if head.startswith(b"BCF"):
        return "bcf"
    if head.startswith(b"##fileformat=VCF"):
        return "vcf"
    return None


def variant_format(path: str | os.PathLike[str]) -> VariantFormat:
    """``vcf``, ``bcf`` or ``tsv``: from the file name (``.gz``/``.bgz``/``.bgzf`` ignored),
    else from the first decompressed bytes (a TSV when they say neither VCF nor BCF).

    Examples
    --------
    >>> variant_format("calls.vcf.bgz")
    'vcf'
    """
    name = os.fspath(path).lower()
    for suffix in (".gz", ".bgz", ".bgzf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for suffix, fmt in _VARIANT_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    fh = _open_binary(Path(path))
    try:
        head = fh.read(16)
    except _DECODE_ERRORS as exc:
        raise InputError(f"cannot read the file: {exc}", path=path) from None
    finally:
        _close_binary(fh)
    return sniff_variant_bytes(head) or "tsv"

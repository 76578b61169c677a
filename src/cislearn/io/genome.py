"""Reference genome access through pyfaidx, with chromosome-name checks and hints."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cislearn.errors import GenomeError, InputError
from cislearn.io.forksafe import forget, reopen_in_forked_children

__all__ = ["Genome", "chrom_name_hint", "index_mismatch"]

log = logging.getLogger(__name__)

_SPACE = b" \t\r\n"


def chrom_name_hint(name: str, known: Iterable[str]) -> str:
    """A hint for a chromosome name missing from ``known`` (``chr1`` vs ``1`` style)."""
    known = set(known)
    if name.startswith("chr") and name[3:] in known:
        return f"; the genome names it '{name[3:]}' (without 'chr')"
    if f"chr{name}" in known:
        return f"; the genome names it 'chr{name}' (with 'chr')"
    if name in ("chrM", "MT") and ({"chrM", "MT"} & known):
        return f"; the genome names it '{({'chrM', 'MT'} & known).pop()}'"
    return ""


def _read_fai(fai: Path) -> list[tuple[str, int, int, int, int]]:
    rows = []
    for line in fai.read_text().splitlines():
        if line.strip():
            name, length, offset, linebases, linewidth = line.split("\t")[:5]
            rows.append((name, int(length), int(offset), int(linebases), int(linewidth)))
    return sorted(rows, key=lambda r: r[2])


def _check_record(fh, row, following: str | None, size: int) -> str | None:  # noqa: ANN001
    """What is wrong with one ``.fai`` row (None: it matches the FASTA)."""
    name, length, offset, linebases, linewidth = row
    fh.seek(max(0, offset - len(name) - 2))
    head = fh.read(offset - max(0, offset - len(name) - 2))
    if not head.endswith(b"\n"):
        return f"'{name}' does not start at byte {offset}"
    if length == 0:
        return None
    if linebases <= 0 or linewidth <= linebases:
        return f"'{name}' has an invalid line layout"
    full, rem = divmod(length, linebases)
    last = (
        offset + full * linewidth + rem - 1
        if rem
        else offset + (full - 1) * linewidth + (linebases - 1)
    )
    if last >= size:
        return f"'{name}' ends after the end of the file"
    if length > linebases:  # the first line must end where the index says (line width)
        fh.seek(offset + linebases - 1)
        line_end = fh.read(1 + linewidth - linebases)
        if line_end[:1] in (b"\r", b"\n", b">") or line_end[1:].strip(_SPACE):
            return f"'{name}' has lines of another width than the index says"
    fh.seek(last)
    tail = fh.read(len(following or "") + 2 + 64)
    if tail[:1] in (b"\r", b"\n", b">", b""):
        return f"'{name}' is shorter than the index says"
    rest = tail[1:].lstrip(_SPACE)
    if following is None:
        return None if rest == b"" else f"the FASTA holds more sequences after '{name}'"
    want = b">" + following.encode()
    if not rest.startswith(want) or rest[len(want) : len(want) + 1] not in (
        b"",
        b" ",
        b"\t",
        b"\r",
        b"\n",
    ):
        return f"'{name}' does not end where the index says, or a sequence was added after it"
    return None


def index_mismatch(fasta: str | os.PathLike[str], fai: str | os.PathLike[str]) -> str | None:
    """Why the ``.fai`` index ``fai`` does not describe the plain-text ``fasta`` (None: it does).

    Checks, for every indexed record, that its header ends where its sequence starts, that its
    first line has the indexed width, that its last base is where the index puts it, and that
    the next record (or the end of the file) follows: so a sequence added, removed or changed
    in length and a change of line width are all caught, whatever the files' times say.
    Compressed (bgzip) FASTA is not checked (None).
    """
    fasta, fai = Path(fasta), Path(fai)
    if fasta.suffix in (".gz", ".bgz", ".bgzf"):
        return None
    try:
        rows = _read_fai(fai)
    except (OSError, ValueError, UnicodeDecodeError):
        return "the index cannot be read"
    if not rows:
        return "the index is empty"
    size = fasta.stat().st_size
    with open(fasta, "rb") as fh:
        first = b">" + rows[0][0].encode()
        if fh.read(len(first) + 1).rstrip(_SPACE) != first:
            return f"the FASTA does not start with '{rows[0][0]}'"
        for i, row in enumerate(rows):
            following = rows[i + 1][0] if i + 1 < len(rows) else None
            problem = _check_record(fh, row, following, size)
            if problem:
                return problem
    return None


class Genome:
    """Random access to a reference genome FASTA (plain or bgzip) through pyfaidx.

    The ``.fai`` index is built beside the FASTA if missing; when that folder is read-only,
    it is built in the system temporary folder instead. An existing index that no longer
    matches the FASTA (:func:`index_mismatch`: a sequence added, another line width, …) is
    rebuilt, with a warning, rather than trusted.

    Parameters
    ----------
    path : path-like
        Genome FASTA. Soft-masked (lower-case) bases are preserved by :meth:`fetch`.

    Examples
    --------
    >>> g = Genome("hg19.fa")  # doctest: +SKIP
    >>> g.fetch("chr1", 1_000_000, 1_000_010)  # doctest: +SKIP
    'ccTGAGCAGC'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import pyfaidx

        self.path = Path(path)
        if not self.path.is_file():
            raise GenomeError(f"{self.path}: genome FASTA not found")
        index = None
        fai = Path(f"{self.path}.fai")
        writable = os.access(self.path.parent, os.W_OK) and (
            not fai.exists() or os.access(fai, os.W_OK)
        )
        if not writable:
            digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]
            temp = Path(tempfile.gettempdir(), f"cislearn-{digest}.fai")
            if not fai.exists() or index_mismatch(self.path, fai):
                fai, index = temp, str(temp)
        problem = index_mismatch(self.path, fai) if fai.exists() else None
        if problem:
            log.warning(
                "%s: the index %s does not match the FASTA (%s); re-indexing",
                self.path,
                fai,
                problem,
            )
            fai.unlink()
        self._index = index
        try:
            self._fasta = self._open()
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat) as exc:
            raise GenomeError(f"{self.path}: cannot index genome FASTA: {exc}") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise GenomeError(f"{self.path}: cannot read genome FASTA: {exc}") from None
        self.lengths: dict[str, int] = {k: len(v) for k, v in self._fasta.records.items()}
        reopen_in_forked_children(self)

    def _open(self) -> Any:
        import pyfaidx

        with warnings.catch_warnings():
            # pyfaidx warns when the index is older than the FASTA; checked above instead
            warnings.filterwarnings("ignore", message=".*older than.*", module="pyfaidx")
            return pyfaidx.Fasta(
                str(self.path),
                indexname=self._index,
                as_raw=True,
                sequence_always_upper=False,
                rebuild=False,
            )

    def _reopen(self) -> None:
        # a forked child: its own file offset (see cislearn.io.forksafe)
        self._fasta = self._open()

    @property
    def names(self) -> tuple[str, ...]:
        """Chromosome names in file order."""
        return tuple(self.lengths)

    def __contains__(self, chrom: object) -> bool:
        return chrom in self.lengths

    def check_chrom(
        self, chrom: str, *, path: str | os.PathLike[str] | None = None, line: int | None = None
    ) -> None:
        """Raise :class:`InputError` if ``chrom`` is not in the genome, with a naming hint."""
        if chrom not in self.lengths:
            raise InputError(
                f"chromosome '{chrom}' is not in genome {self.path.name}"
                + chrom_name_hint(chrom, self.lengths),
                path=path,
                line=line,
            )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of the 0-based half-open interval ``[start, end)``, case preserved."""
        if chrom not in self.lengths:
            raise GenomeError(
                f"chromosome '{chrom}' is not in genome {self.path.name}"
                + chrom_name_hint(chrom, self.lengths)
            )
        if start < 0 or end > self.lengths[chrom] or end < start:
            raise GenomeError(
                f"{chrom}:{start}-{end} is outside {chrom} (length {self.lengths[chrom]})"
            )
        return str(self._fasta[chrom][start:end])

    def close(self) -> None:
        forget(self)
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self.lengths)} sequences)"

"""Reference genome access through pyfaidx, with chromosome-name checks and hints."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cislearn.errors import GenomeError, InputError

__all__ = ["Genome", "chrom_name_hint"]


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


class Genome:
    """Random access to a reference genome FASTA (plain or bgzip) through pyfaidx.

    The ``.fai`` index is built beside the FASTA if missing; when that folder is read-only,
    it is built in the system temporary folder instead.

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
        if not fai.exists() and not os.access(self.path.parent, os.W_OK):
            digest = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]
            index = os.path.join(tempfile.gettempdir(), f"cislearn-{digest}.fai")
        try:
            self._fasta = pyfaidx.Fasta(
                str(self.path),
                indexname=index,
                as_raw=True,
                sequence_always_upper=False,
                rebuild=False,
            )
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat) as exc:
            raise GenomeError(f"{self.path}: cannot index genome FASTA: {exc}") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise GenomeError(f"{self.path}: cannot read genome FASTA: {exc}") from None
        self.lengths: dict[str, int] = {k: len(v) for k, v in self._fasta.records.items()}

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
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self.lengths)} sequences)"

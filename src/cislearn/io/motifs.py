"""Motifs: the Motif type and MEME / JASPAR / TRANSFAC motif files (the bundled JASPAR
database is :mod:`cislearn.io.jaspar`)."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write
from cislearn.io.formats import GZIP_MAGIC

__all__ = ["Motif", "read_motifs", "write_meme", "write_jaspar"]

_LETTERS = "ACGT"
_UNIFORM = (0.25, 0.25, 0.25, 0.25)


def _background(background: Sequence[float]) -> np.ndarray:
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or not np.all(np.isfinite(bg)) or np.any(bg <= 0):
        raise InputError(f"background must be 4 positive frequencies (A C G T); got {background!r}")
    return bg / bg.sum()


@dataclass(frozen=True)
class Motif:
    """A DNA motif as a (4, width) matrix of counts or probabilities in A, C, G, T order.

    Parameters
    ----------
    id : str
        Matrix identifier, e.g. ``"MA0139.2"``.
    name : str
        Factor name, e.g. ``"CTCF"`` (may be empty).
    counts : array-like of shape (4, width)
        Counts or probabilities as read; stored as a read-only float64 copy. Every column must
        have a positive sum.

    Examples
    --------
    >>> m = Motif("m1", "toy", [[9, 0], [1, 0], [0, 10], [0, 0]])
    >>> m.consensus, m.width, m.label
    ('AG', 2, 'm1 toy')
    """

    id: str
    name: str
    counts: np.ndarray

    def __post_init__(self) -> None:
        try:
            counts = np.array(self.counts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"motif {self.id!r}: counts are not numeric ({exc})") from None
        if counts.ndim != 2 or counts.shape[0] != 4 or counts.shape[1] < 1:
            raise InputError(
                f"motif {self.id!r}: counts must have shape (4, width) in A C G T order; "
                f"got shape {counts.shape}"
            )
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise InputError(f"motif {self.id!r}: counts must be finite and non-negative")
        empty = np.flatnonzero(counts.sum(axis=0) <= 0)
        if empty.size:
            raise InputError(f"motif {self.id!r}: column {int(empty[0]) + 1} sums to zero")
        counts.flags.writeable = False
        object.__setattr__(self, "counts", counts)

    # Arrays make the generated __eq__/__hash__ ambiguous, so both are written out here.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Motif):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and np.array_equal(self.counts, other.counts)
        )

    def __hash__(self) -> int:
        return hash((self.id, self.name, self.counts.shape, self.counts.tobytes()))

    def __repr__(self) -> str:
        return f"Motif(id={self.id!r}, name={self.name!r}, width={self.width})"

    @property
    def width(self) -> int:
        """Number of positions."""
        return int(self.counts.shape[1])

    @property
    def label(self) -> str:
        """``"<id> <name>"``, e.g. ``"MA0139.2 CTCF"`` (just the id when there is no name)."""
        return f"{self.id} {self.name}".strip()

    @property
    def pfm(self) -> np.ndarray:
        """Position frequency matrix, ndarray of shape (4, width): columns sum to 1."""
        return self.counts / self.counts.sum(axis=0, keepdims=True)

    @property
    def consensus(self) -> str:
        """Most frequent base per column (first of A, C, G, T on ties)."""
        return "".join(_LETTERS[i] for i in np.argmax(self.counts, axis=0))

    def pwm(
        self, background: Sequence[float] = _UNIFORM, *, pseudocount: float = 0.01
    ) -> np.ndarray:
        """Log2-odds position weight matrix, ndarray of shape (4, width).

        ``pseudocount`` is a fraction of each column's mass spread by the background, so it
        means the same for counts and for probabilities:
        ``p = (pfm + pseudocount * bg) / (1 + pseudocount)``, score ``log2(p / bg)``.
        """
        if not (np.isfinite(pseudocount) and pseudocount >= 0):
            raise InputError(f"pseudocount must be >= 0; got {pseudocount!r}")
        bg = _background(background)[:, None]
        p = (self.pfm + pseudocount * bg) / (1.0 + pseudocount)
        with np.errstate(divide="ignore"):
            return np.log2(p / bg)

    def information_content(self, background: Sequence[float] = _UNIFORM) -> np.ndarray:
        """Information content per column in bits, ndarray of shape (width,).

        ``sum_b p_b log2(p_b / bg_b)``; at most 2 bits per column against a uniform background.
        """
        bg = _background(background)[:, None]
        p = self.pfm
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
        return terms.sum(axis=0)

    def reverse_complement(self) -> Motif:
        """The motif read on the other strand (same id and name)."""
        return Motif(self.id, self.name, self.counts[::-1, ::-1])


# --------------------------------------------------------------------------------------------
# Motif files

_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_TRANSFAC_TAG = re.compile(r"^([A-Z][A-Z0-9]|//)(\s|$)")


def _numbers(tokens: Iterable[str], path: Path, line: int) -> list[float]:
    values = []
    for tok in tokens:
        if not _FLOAT.match(tok):
            raise InputError(f"expected a number, found {tok!r}", path=path, line=line)
        values.append(float(tok))
    return values


def _make(mid: str, name: str, columns: np.ndarray, path: Path, line: int) -> Motif:
    try:
        return Motif(mid, name, columns)
    except InputError as exc:
        raise InputError(exc.problem, path=path, line=line) from None


def read_motifs(path: str | os.PathLike[str]) -> list[Motif]:
    """Read every motif in a MEME (minimal), JASPAR or TRANSFAC file; the format is detected.

    Gzip-compressed files are read too. MEME files give probabilities, JASPAR and TRANSFAC
    files usually counts; values are kept as read (see :attr:`Motif.pfm`).

    Raises
    ------
    InputError
        Naming the file and line, for an unknown format, a malformed matrix or no motifs.

    Examples
    --------
    >>> motifs = read_motifs("JASPAR2024_CORE.meme")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"cannot read motif file: {exc}", path=path) from None
    lines = text.splitlines()
    first = next((i for i, s in enumerate(lines) if s.strip() and not s.startswith("#")), None)
    if first is None:
        raise InputError("empty motif file; expected MEME, JASPAR or TRANSFAC motifs", path=path)
    head = lines[first].strip()
    if head.startswith("MEME version") or any("letter-probability" in s for s in lines):
        motifs = _parse_meme(lines, path)
    elif head.startswith(">"):
        motifs = _parse_jaspar(lines, path)
    elif _TRANSFAC_TAG.match(head):
        motifs = _parse_transfac(lines, path)
    else:
        raise InputError(
            f"unrecognised motif format (first line {head[:40]!r}); expected MEME "
            "('MEME version'), JASPAR ('>ID name') or TRANSFAC ('AC'/'ID'/'P0' ... '//')",
            path=path,
            line=first + 1,
        )
    if not motifs:
        raise InputError("no motifs found", path=path)
    return motifs


def _parse_meme(lines: list[str], path: Path) -> list[Motif]:
    motifs: list[Motif] = []
    n = len(lines)
    i = 0
    while i < n:
        s = lines[i].strip()
        if s.startswith("ALPHABET"):
            letters = s.partition("=")[2].strip().upper()
            if letters not in ("ACGT", "ACGU"):
                raise InputError(
                    f"only DNA motifs (ALPHABET= ACGT) can be read; found {s!r}",
                    path=path,
                    line=i + 1,
                )
        if not s.startswith("MOTIF"):
            i += 1
            continue
        parts = s.split()
        if len(parts) < 2:
            raise InputError("MOTIF line without an identifier", path=path, line=i + 1)
        mid, name, motif_line = parts[1], " ".join(parts[2:]), i + 1
        i += 1
        while i < n and not lines[i].strip().startswith(("letter-probability", "MOTIF")):
            i += 1
        if i == n or lines[i].strip().startswith("MOTIF"):
            raise InputError(
                f"MOTIF {mid} has no 'letter-probability matrix'", path=path, line=motif_line
            )
        fields = dict(re.findall(r"(\w+)\s*=\s*(\S+)", lines[i]))
        if fields.get("alength", "4") != "4":
            raise InputError(
                f"alength= {fields['alength']}; only 4-letter DNA motifs can be read",
                path=path,
                line=i + 1,
            )
        width = int(fields["w"]) if fields.get("w", "").isdigit() else None
        header_line = i + 1
        i += 1
        rows: list[list[float]] = []
        while i < n and (width is None or len(rows) < width):
            tokens = lines[i].split()
            if not tokens:
                if rows and width is None:
                    break
                i += 1
                continue
            if not _FLOAT.match(tokens[0]):
                break
            row = _numbers(tokens, path, i + 1)
            if len(row) != 4:
                raise InputError(
                    f"MOTIF {mid}: expected 4 probabilities per row, found {len(row)}",
                    path=path,
                    line=i + 1,
                )
            rows.append(row)
            i += 1
        if not rows or (width is not None and len(rows) != width):
            raise InputError(
                f"MOTIF {mid}: expected {width if width else 'at least 1'} matrix rows, "
                f"found {len(rows)}",
                path=path,
                line=header_line,
            )
        motifs.append(_make(mid, name, np.array(rows).T, path, motif_line))
    return motifs


def _parse_jaspar(lines: list[str], path: Path) -> list[Motif]:
    motifs: list[Motif] = []
    header: tuple[str, str, int] | None = None
    rows: list[tuple[str | None, list[float], int]] = []

    def finish() -> None:
        if header is None:
            return
        mid, name, line = header
        if len(rows) != 4:
            raise InputError(
                f"motif {mid}: expected 4 rows (A C G T), found {len(rows)}", path=path, line=line
            )
        letters = [r[0] for r in rows]
        if all(x is None for x in letters):
            letters = list(_LETTERS)
        elif sorted(str(x) for x in letters) != list(_LETTERS):
            found = " ".join(str(x) for x in letters)
            raise InputError(
                f"motif {mid}: rows must be labelled A, C, G, T once each; found {found}",
                path=path,
                line=line,
            )
        widths = {len(r[1]) for r in rows}
        if len(widths) != 1:
            raise InputError(
                f"motif {mid}: rows have different lengths {sorted(widths)}", path=path, line=line
            )
        counts = np.zeros((4, widths.pop()))
        for letter, (_, values, _) in zip(letters, rows, strict=True):
            counts[_LETTERS.index(str(letter))] = values
        motifs.append(_make(mid, name, counts, path, line))

    for i, raw in enumerate(lines, start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(">"):
            finish()
            parts = s[1:].split(None, 1)
            if not parts:
                raise InputError("'>' header without a motif id", path=path, line=i)
            header, rows = (parts[0], parts[1].strip() if len(parts) > 1 else "", i), []
            continue
        if header is None:
            raise InputError("expected a '>ID name' header first", path=path, line=i)
        letter = None
        if s[0].upper() in _LETTERS and (len(s) == 1 or s[1] in " \t[:"):
            letter, s = s[0].upper(), s[1:]
        values = _numbers(s.replace("[", " ").replace("]", " ").replace(":", " ").split(), path, i)
        rows.append((letter, values, i))
    finish()
    return motifs


def _parse_transfac(lines: list[str], path: Path) -> list[Motif]:
    motifs: list[Motif] = []
    tags: dict[str, str] = {}
    order: list[int] | None = None
    rows: list[list[float]] = []
    start: int | None = None  # first line of the current record

    def finish(line: int) -> None:
        if order is None:
            if "AC" in tags or "ID" in tags:
                mid = tags.get("AC", tags.get("ID"))
                raise InputError(f"record {mid} has no P0 matrix", path=path, line=start)
            return
        if not rows:
            raise InputError("P0 matrix without rows", path=path, line=line)
        mid = tags.get("AC") or tags.get("ID") or f"motif_{len(motifs) + 1}"
        name = tags.get("NA") or (tags.get("ID", "") if "AC" in tags else "")
        values = np.array(rows).T
        counts = np.zeros_like(values)
        counts[order] = values
        motifs.append(_make(mid, name, counts, path, start or line))

    for i, raw in enumerate(lines, start=1):
        s = raw.strip()
        if not s:
            continue
        start = start or i
        tag, rest = s[:2], s[2:].strip()
        if tag == "//":
            finish(i)
            tags, order, rows, start = {}, None, [], None
        elif tag in ("P0", "PO") and order is None:
            letters = rest.upper().split()
            if sorted(letters) != list(_LETTERS):
                raise InputError(
                    f"P0 header must name A C G T once each; found {rest!r}", path=path, line=i
                )
            order = [_LETTERS.index(x) for x in letters]
        elif order is not None and s[0].isdigit():
            tokens = s.split()
            if len(tokens) not in (5, 6):
                raise InputError(
                    f"expected 'position A C G T [consensus]', found {s!r}", path=path, line=i
                )
            rows.append(_numbers(tokens[1:5], path, i))
        elif tag in ("AC", "ID", "NA") and tag not in tags and rest:
            tags[tag] = rest if tag == "NA" else rest.split()[0]
    finish(len(lines))
    return motifs


def write_meme(
    path: str | os.PathLike[str],
    motifs: Sequence[Motif],
    *,
    background: Sequence[float] = _UNIFORM,
) -> None:
    """Write motifs as a MEME minimal-format file, atomically (``.gz`` writes gzip).

    Probabilities are written with 6 decimals; ``nsites`` is the mean column sum when the
    motif holds counts. Whitespace inside ids and names becomes ``_`` (MEME splits on it).

    Examples
    --------
    >>> write_meme("ctcf.meme", load_jaspar(["MA0139"]))  # doctest: +SKIP
    """
    bg = _background(background)
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {f:.6f}" for b, f in zip(_LETTERS, bg, strict=True)),
        "",
    ]
    for motif in motifs:
        if not isinstance(motif, Motif):
            raise InputError(f"write_meme expects Motif objects; got {type(motif).__name__}")
        mid = re.sub(r"\s+", "_", motif.id.strip()) or "motif"
        name = re.sub(r"\s+", "_", motif.name.strip())
        sites = float(motif.counts.sum(axis=0).mean())
        nsites = f" nsites= {round(sites)}" if sites > 1.5 else ""
        out.append(f"MOTIF {mid} {name}".rstrip())
        out.append(f"letter-probability matrix: alength= 4 w= {motif.width}{nsites} E= 0")
        out.extend(" ".join(f"{p:.6f}" for p in col) for col in motif.pfm.T)
        out.append("")
    with atomic_write(path) as fh:
        fh.write("\n".join(out))


def write_jaspar(path: str | os.PathLike[str], motifs: Sequence[Motif]) -> None:
    """Write motifs as a JASPAR (``.jaspar``) counts file, atomically (``.gz`` writes gzip).

    One ``>id name`` header and four ``A [ ... ]`` rows per motif. Counts are written with
    2 decimals, probabilities (columns summing to 1) with 6. Whitespace inside ids becomes
    ``_`` (the header's first word is the id).

    Examples
    --------
    >>> write_jaspar("ctcf.jaspar", load_jaspar(["MA0139"]))  # doctest: +SKIP
    """
    out = []
    for motif in motifs:
        if not isinstance(motif, Motif):
            raise InputError(f"write_jaspar expects Motif objects; got {type(motif).__name__}")
        mid = re.sub(r"\s+", "_", motif.id.strip()) or "motif"
        digits = 2 if float(motif.counts.sum(axis=0).mean()) > 1.5 else 6
        out.append(f">{mid}\t{motif.name.strip()}".rstrip())
        for base, row in zip(_LETTERS, motif.counts, strict=True):
            out.append(f"{base} [ " + " ".join(f"{v:.{digits}f}" for v in row) + " ]")
    with atomic_write(path) as fh:
        fh.write("\n".join(out) + "\n" if out else "")

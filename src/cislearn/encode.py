"""Sequence encodings: integer codes, one-hot, reverse complement, k-mer tokens, composition."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from typing import Any

import numba
import numpy as np
from numpy.typing import DTypeLike

from cislearn.errors import InputError

__all__ = [
    "resize_sequence",
    "ALPHABET",
    "N_CODE",
    "KMER_SPECIAL",
    "to_codes",
    "from_codes",
    "one_hot",
    "decode",
    "reverse_complement",
    "kmer_tokens",
    "kmer_vocab_size",
    "kmer_token_names",
    "gc_content",
    "soft_mask_fraction",
]

#: Channel order of every one-hot array and meaning of codes 0-3.
ALPHABET = "ACGT"
#: Integer code of N and of any letter outside ``ACGTacgt``.
N_CODE = 4
#: Special k-mer tokens; real k-mers start at ``len(KMER_SPECIAL)``.
KMER_SPECIAL = {"PAD": 0, "UNK": 1, "MASK": 2, "CLS": 3}

SeqsOrCodes = str | Sequence[str] | np.ndarray

_CODE_LUT = np.full(256, N_CODE, dtype=np.uint8)  # ASCII byte -> code, case-insensitive
_GC_LUT = np.zeros(256, dtype=np.uint8)
_LOWER_LUT = np.zeros(256, dtype=np.uint8)
for _i, _ch in enumerate(b"ACGT"):
    _CODE_LUT[_ch] = _CODE_LUT[_ch + 32] = _i
for _ch in b"CGcg":
    _GC_LUT[_ch] = 1
_LOWER_LUT[ord("a") : ord("z") + 1] = 1
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_RC_STR = str.maketrans("ACGTRYKMBVDHacgtrykmbvdh", "TGCAYRMKVBHDtgcayrmkvbhd")
_KERNEL_DTYPES = {np.dtype(t) for t in "?bBhHiIlLqQfd"}  # what numba can store; float16 is not
# Bases per chunk handed to one worker thread. At 2**19 and above, joining/encoding a chunk
# page-faults on every fresh allocation (measured: 37 ms vs 2 ms per 50 Mb for str.encode).
_CHUNK_BASES = 1 << 18
_MAX_WORKERS = 4  # memory-bound: more threads than this only add contention


@numba.njit(nogil=True, cache=True)
def _one_hot_rows(src, vals, out):  # pragma: no cover - compiled by numba
    """Write the one-hot of ASCII rows ``src`` into ``out``; return whether a row holds '\\n'."""
    # Hand-written because numpy has no one-pass "lookup into channels-first" and this is the
    # hot path. Measured on 2 shared cores, 250,000 x 201 bp into float32, as time of
    # ndarray.fill on an equal pre-faulted buffer / time (benchmarks/encode.py): np.take per
    # channel 0.07, np.equal per channel 0.12-0.36, this kernel alone 0.85-0.9 (& 0xDF beats
    # 8 byte compares by 10% and a byte -> code lookup by 8%). From a list of str: 2 threads
    # (nogil, so joining one chunk overlaps encoding another) up to ~1.0 while the second core
    # is free, 0.62-0.66 while other jobs hold it (1 thread then 0.67-0.74).
    n, length = src.shape
    zero, one, unknown = vals[0], vals[1], vals[2]
    newline = False
    la, lc, lg, lt = np.uint8(65), np.uint8(67), np.uint8(71), np.uint8(84)  # A C G T
    for i in range(n):
        row = src[i]
        for c in range(4):
            letter = (la, lc, lg, lt)[c]
            dst = out[i, c]
            for j in range(length):  # branch-free so LLVM vectorises it
                u = row[j] & np.uint8(0xDF)  # upper case; no other byte maps onto A C G T
                known = (u == la) | (u == lc) | (u == lg) | (u == lt)
                dst[j] = one if u == letter else (zero if known else unknown)
        for j in range(length):  # needed by the length proof of _ascii_rows; cheap (in L1)
            newline |= row[j] == np.uint8(10)
    return newline


def _run_chunks(n: int, rows: int, work: Callable[[int, int], None]) -> None:
    """Call ``work(start, stop)`` over row chunks, on a few threads when there are several."""
    starts = range(0, n, rows)
    stops = [min(s + rows, n) for s in starts]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, _MAX_WORKERS, len(stops))
    if workers <= 1:
        for s, e in zip(starts, stops, strict=True):
            work(s, e)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cislearn-encode") as pool:
        for _ in pool.map(work, starts, stops):  # re-raises the first error, cancels the rest
            pass


def _seq_list(seqs: Any) -> tuple[list[str], bool]:
    """Return ``(list of str, was_single_string)``."""
    if isinstance(seqs, str):
        return [seqs], True
    if isinstance(seqs, bytes | bytearray):
        raise InputError("expected str sequences, got bytes; decode them first (.decode('ascii'))")
    try:
        return (seqs if isinstance(seqs, list) else list(seqs)), False
    except TypeError:
        msg = (
            f"expected a DNA string, a sequence of str or integer codes, got {type(seqs).__name__}"
        )
        raise InputError(msg) from None


def _first_not_str(seqs: list[Any], offset: int) -> InputError:
    i, bad = next((i, s) for i, s in enumerate(seqs) if not isinstance(s, str))
    return InputError(f"sequence {offset + i} is {type(bad).__name__}, expected str")


def _ragged(seqs: list[str], length: int, offset: int) -> InputError:
    i, bad = next((i, s) for i, s in enumerate(seqs) if len(s) != length)
    return InputError(
        f"sequences differ in length: sequence 0 has {length} bp, sequence {offset + i} has "
        f"{len(bad)} bp; use to_codes(seqs, length=...) to centre-crop / N-pad them first"
    )


def _ascii(seqs: list[str], offset: int = 0, sep: str = "") -> np.ndarray:
    """ASCII bytes of the joined strings (non-ASCII letters become '?', hence N)."""
    try:
        joined = sep.join(seqs)
    except TypeError:
        raise _first_not_str(seqs, offset) from None
    return np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)


def _ascii_rows(seqs: list[str], length: int, offset: int = 0) -> np.ndarray:
    """ASCII bytes of strings that should all have `length` letters, shape (m, length).

    Each string is followed by a '\\n', so equal lengths show as a column of '\\n' after each
    row: checked vectorised here instead of len() per string (which took a third of one_hot's
    Python time). The proof needs no '\\n' inside the rows; callers that find one must call
    _check_lengths (one_hot's kernel reports it for free).
    """
    m = len(seqs)
    flat = _ascii([*seqs, ""], offset, "\n")
    if len(flat) != m * (length + 1) or not (flat[length :: length + 1] == 10).all():
        raise _ragged(seqs, length, offset)
    return flat.reshape(m, length + 1)[:, :length]


def _check_lengths(seqs: list[str], length: int, offset: int = 0) -> None:
    if len(set(map(len, seqs))) > 1 or (seqs and len(seqs[0]) != length):
        raise _ragged(seqs, length, offset)


def _ascii_ragged(seqs: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(concatenated ASCII bytes, lengths, was_single)`` of strings of any lengths."""
    lst, single = _seq_list(seqs)
    flat = _ascii(lst)
    return flat, np.fromiter(map(len, lst), dtype=np.int64, count=len(lst)), single


def _is_int_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind in "iu"


def _check_codes(codes: np.ndarray) -> np.ndarray:
    if codes.dtype.kind not in "iu":
        raise InputError(f"codes must be an integer array, got dtype {codes.dtype}")
    if codes.ndim not in (1, 2):
        raise InputError(f"codes must have shape (length,) or (n, length), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() > N_CODE):
        raise InputError(
            f"codes must be 0-4 (A C G T N), found values from {codes.min()} to {codes.max()}"
        )
    return np.ascontiguousarray(codes, dtype=np.uint8)


def _codes_2d(seqs_or_codes: SeqsOrCodes) -> tuple[np.ndarray, bool]:
    """Return ``(codes of shape (n, length), was_single)`` from strings or codes."""
    if _is_int_array(seqs_or_codes):
        codes = _check_codes(seqs_or_codes)
        return (codes[None], True) if codes.ndim == 1 else (codes, False)
    seqs, single = _seq_list(seqs_or_codes)
    return to_codes(seqs), single


def to_codes(seqs: str | Sequence[str], *, length: int | None = None) -> np.ndarray:
    """Integer codes A=0, C=1, G=2, T=3, N=4 (case-insensitive; any other letter is N).

    Parameters
    ----------
    seqs : str or sequence of str
        One sequence, or sequences of equal length unless `length` is given.
    length : int, optional
        Output length. Longer sequences are centre-cropped and shorter ones N-padded, both
        around the centre: the extra (or missing) ``d`` bases are split ``d // 2`` on the left
        and the rest on the right.

    Returns
    -------
    codes : ndarray of uint8, shape (length,) for one string or (n, length)

    Examples
    --------
    >>> to_codes("ACgtN").tolist()
    [0, 1, 2, 3, 4]
    >>> to_codes(["ACG", "T"], length=2).tolist()
    [[0, 1], [3, 4]]
    """
    if length is not None and (
        not isinstance(length, int) or isinstance(length, bool) or length < 0
    ):
        raise InputError(f"length must be an int >= 0, got {length!r}")
    lst, single = _seq_list(seqs)
    if not lst:
        return np.zeros((0, length or 0), dtype=np.uint8)
    if not isinstance(lst[0], str):
        raise _first_not_str(lst, 0)
    if length is None or length == len(lst[0]) and len(set(map(len, lst))) == 1:
        rows = _ascii_rows(lst, len(lst[0]))
        if (rows == 10).any():
            _check_lengths(lst, len(lst[0]))
        codes = _CODE_LUT[rows]
        return codes[0] if single else codes
    flat, lens, _ = _ascii_ragged(lst)
    flat = _CODE_LUT[flat]
    starts = np.cumsum(lens) - lens
    excess = lens - length
    shift = np.sign(excess) * (np.abs(excess) // 2)  # crop d//2 on the left, or pad d//2
    pos = np.arange(length)[None, :] + shift[:, None]
    valid = (pos >= 0) & (pos < lens[:, None])
    flat = np.append(flat, np.uint8(N_CODE))  # index len(flat) - 1 is the padding N
    codes = flat[np.where(valid, starts[:, None] + pos, len(flat) - 1)]
    return codes[0] if single else codes


def resize_sequence(seq: str, length: int) -> str:
    """``seq`` centred in ``length`` bp, by the rule of :func:`to_codes`: a longer sequence
    loses ``d // 2`` bases on the left and the rest on the right; a shorter one gets ``d // 2``
    N on the left and the rest on the right. Case is kept.

    Examples
    --------
    >>> resize_sequence("AACCGGT", 4), resize_sequence("acg", 6)
    ('ACCG', 'NacgNN')
    """
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise InputError(f"length must be an int >= 1, got {length!r}")
    excess = len(seq) - length
    if excess >= 0:
        return seq[excess // 2 : excess // 2 + length]
    left = -excess // 2
    return "N" * left + seq + "N" * (-excess - left)


def from_codes(codes: np.ndarray) -> str | list[str]:
    """Strings from integer codes (inverse of :func:`to_codes`, upper case).

    Parameters
    ----------
    codes : ndarray of int, shape (length,) or (n, length), values 0-4

    Returns
    -------
    str for 1-D input, else list of n str
    """
    c = _check_codes(np.asarray(codes))
    text = _LETTERS[c].tobytes().decode("ascii")
    if c.ndim == 1:
        return text
    length = c.shape[1]
    return [text[i * length : (i + 1) * length] for i in range(c.shape[0])]


def one_hot(
    seqs_or_codes: SeqsOrCodes,
    *,
    n_value: float = 0.25,
    dtype: DTypeLike = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One-hot encode, channels first (the ``torch.nn.Conv1d`` layout), channels ``ACGT``.

    Inputs above a quarter of a megabase are encoded chunk-wise on up to 4 threads (no more
    than the CPUs available); the result does not depend on it.

    Parameters
    ----------
    seqs_or_codes : str, sequence of str of equal length, or ndarray of uint8 codes
        Case-insensitive; any letter other than ACGT is encoded as N. Integer arrays are
        codes of shape (length,) or (n, length) (see :func:`to_codes`).
    n_value : float
        Value of all four channels at an N: 0.25 (uniform) or 0.0 (no base).
    dtype : numpy dtype
        Output dtype (float32 by default; float16/64, integer and bool also work).
    out : ndarray, optional
        C-contiguous array of the output shape and `dtype` to write into (saves allocating).

    Returns
    -------
    x : ndarray of shape (n, 4, length), or (4, length) for one string / 1-D codes

    Examples
    --------
    >>> one_hot("ACGN")[:, 3].tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> one_hot(["AC", "GT"]).shape
    (2, 4, 2)
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise InputError(f"dtype must be a numeric numpy dtype, got {dtype}")
    vals = np.array([0, 1, n_value], dtype=dtype)
    if dtype.kind != "f" and vals[2] != n_value:
        raise InputError(f"n_value={n_value} cannot be stored as {dtype}; use n_value=0.0")
    if _is_int_array(seqs_or_codes):
        codes, single = _codes_2d(seqs_or_codes)
        n, length = codes.shape
        seqs: list[str] = []  # unused: codes turn into letters, which hold no '\n'

        def source(s: int, e: int) -> np.ndarray:
            return _LETTERS[codes[s:e]]  # back to ASCII: one kernel serves both inputs
    else:
        seqs, single = _seq_list(seqs_or_codes)
        n = len(seqs)
        if n and not isinstance(seqs[0], str):
            raise _first_not_str(seqs, 0)
        length = len(seqs[0]) if n else 0

        def source(s: int, e: int) -> np.ndarray:
            return _ascii_rows(seqs[s:e], length, s)

    shape = (4, length) if single else (n, 4, length)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
        got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise InputError(f"out must be an ndarray of shape {shape} and dtype {dtype}, got {got}")
    elif not (out.flags.c_contiguous and out.flags.writeable):
        raise InputError("out must be a writeable C-contiguous array")
    out3 = out.reshape(n, 4, length)  # a view: out is C-contiguous

    def work(s: int, e: int) -> None:
        src = source(s, e)
        if dtype in _KERNEL_DTYPES:
            newline = _one_hot_rows(src, vals, out3[s:e])
        else:  # float16: numba cannot store it, go through float32
            tmp = np.empty((e - s, 4, length), dtype=np.float32)
            newline = _one_hot_rows(src, vals.astype(np.float32), tmp)
            out3[s:e] = tmp
        if newline:  # a '\n' inside a string voids the length proof of _ascii_rows
            _check_lengths(seqs[s:e], length, s)

    _run_chunks(n, max(1, _CHUNK_BASES // max(length, 1)), work)
    return out


def decode(one_hot_array: Any) -> str | list[str]:
    """Strings from a one-hot array or tensor: argmax per position; all channels equal → N.

    Parameters
    ----------
    one_hot_array : ndarray or torch.Tensor of shape (4, length) or (n, 4, length)

    Returns
    -------
    str for a (4, length) array, else list of n str

    Examples
    --------
    >>> decode(one_hot("acgNT"))
    'ACGNT'
    """
    torch = sys.modules.get("torch")  # never import torch here: only tensors that exist need it
    x = one_hot_array
    x = x.detach().cpu().numpy() if torch and isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim not in (2, 3) or x.shape[-2] != 4:
        raise InputError(f"expected a one-hot array of shape (4, L) or (n, 4, L), got {x.shape}")
    codes = x.argmax(axis=-2).astype(np.uint8)
    codes[x.max(axis=-2) == x.min(axis=-2)] = N_CODE
    return from_codes(codes)


def reverse_complement(x: Any) -> Any:
    """Reverse complement of strings, codes or one-hot arrays/tensors; returns a new object.

    Parameters
    ----------
    x : str, sequence of str, ndarray or torch.Tensor
        Strings keep their case (IUPAC letters are complemented, others kept). Integer arrays
        of shape (length,) or (n, length) are codes: ``c -> 3 - c``, N stays N. Arrays of
        shape (n, 4, length), and floating or bool arrays of shape (4, length), are one-hot:
        both the channel and the length axis are flipped. torch tensors follow the same rules.

    Returns
    -------
    Same kind and shape as `x` (a list for a sequence of str).

    Examples
    --------
    >>> reverse_complement("AACgN")
    'NcGTT'
    >>> reverse_complement(np.array([0, 1, 4], dtype=np.uint8)).tolist()
    [4, 2, 3]
    """
    if isinstance(x, str):
        return x.translate(_RC_STR)[::-1]
    torch = sys.modules.get("torch")  # not imported here: a tensor implies torch is loaded
    is_tensor = torch is not None and isinstance(x, torch.Tensor)
    if is_tensor or (isinstance(x, np.ndarray) and x.dtype.kind in "biuf"):
        if is_tensor:
            integer = not (x.is_floating_point() or x.dtype == torch.bool)
        else:
            integer = x.dtype.kind in "iu"
        if x.ndim == 3 or (x.ndim == 2 and not integer):
            if x.shape[-2] != 4:
                raise InputError(f"one-hot input must have 4 channels at axis -2, got {x.shape}")
            return x.flip((-2, -1)) if is_tensor else x[..., ::-1, ::-1].copy()
        if x.ndim in (1, 2) and integer:
            if (x.numel() if is_tensor else x.size) and (x.min() < 0 or x.max() > N_CODE):
                raise InputError("codes must be 0-4 (A C G T N)")
            if is_tensor:
                return (3 - x).where(x < N_CODE, x).flip(-1)
            c = x[..., ::-1]
            return np.where(c < N_CODE, 3 - c, c).astype(x.dtype, copy=False)
        raise InputError(f"cannot reverse-complement an array of shape {tuple(x.shape)}")
    seqs, _ = _seq_list(x)
    try:
        return [s.translate(_RC_STR)[::-1] for s in seqs]
    except AttributeError:
        raise _first_not_str(seqs, 0) from None


def _check_k(k: Any, *, stride: int = 1) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 31:
        raise InputError(f"k must be an int from 1 to 31 (ids are int64), got {k!r}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise InputError(f"stride must be an int >= 1, got {stride!r}")


def kmer_vocab_size(k: int) -> int:
    """Number of k-mer token ids: ``4**k`` k-mers plus the special tokens."""
    _check_k(k)
    return 4**k + len(KMER_SPECIAL)


def kmer_token_names(k: int) -> list[str]:
    """Names of all token ids, for display: ``[PAD] [UNK] [MASK] [CLS] AA..A ... TT..T``.

    Examples
    --------
    >>> kmer_token_names(1)
    ['[PAD]', '[UNK]', '[MASK]', '[CLS]', 'A', 'C', 'G', 'T']
    """
    _check_k(k)
    special = [f"[{name}]" for name, _ in sorted(KMER_SPECIAL.items(), key=lambda kv: kv[1])]
    return special + ["".join(p) for p in product(ALPHABET, repeat=k)]


def kmer_tokens(seqs_or_codes: SeqsOrCodes, k: int, *, stride: int = 1) -> np.ndarray:
    """Overlapping k-mer token ids (DNABERT-style), one per window start ``0, stride, ...``.

    The id of a k-mer is ``len(KMER_SPECIAL) + sum(code[j] * 4**(k-1-j))``, so ids follow
    :func:`kmer_token_names`; a window containing an N (or any non-ACGT letter) is ``UNK``.

    Parameters
    ----------
    seqs_or_codes : str, sequence of str of equal length, or ndarray of uint8 codes
    k : int
        k-mer length, 1 to 31.
    stride : int
        Step between window starts.

    Returns
    -------
    tokens : ndarray of int64, shape (n, (length - k) // stride + 1); 1-D for one string

    Examples
    --------
    >>> kmer_tokens("ACGN", 2).tolist()  # AC, CG, GN
    [5, 10, 1]
    """
    _check_k(k, stride=stride)
    codes, single = _codes_2d(seqs_or_codes)
    n, length = codes.shape
    if length < k:
        raise InputError(f"sequences of length {length} are shorter than k={k}")
    m = (length - k) // stride + 1
    ids = np.zeros((n, m), dtype=np.int64)
    unknown = np.zeros((n, m), dtype=bool)
    for j in range(k):  # loop over k-mer positions, vectorised over all windows
        window = codes[:, j : j + (m - 1) * stride + 1 : stride]
        ids *= 4
        ids += window
        unknown |= window == N_CODE
    ids += len(KMER_SPECIAL)
    ids[unknown] = KMER_SPECIAL["UNK"]
    return ids[0] if single else ids


def _segment_sums(values: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over consecutive segments of lengths ``lens`` (empty → 0)."""
    sums = np.zeros(len(lens), dtype=np.int64)
    nonempty = lens > 0
    if nonempty.any():  # reduceat needs strictly increasing in-range starts
        starts = (np.cumsum(lens) - lens)[nonempty]
        sums[nonempty] = np.add.reduceat(values, starts, dtype=np.int64)
    return sums


def _ratio(num: np.ndarray, den: np.ndarray, single: bool) -> np.ndarray | float:
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    return float(frac[0]) if single else frac


def gc_content(seqs_or_codes: SeqsOrCodes) -> np.ndarray | float:
    """Fraction of G+C among the A/C/G/T bases of each sequence (case-insensitive).

    Parameters
    ----------
    seqs_or_codes : str, sequence of str (lengths may differ), or ndarray of codes

    Returns
    -------
    gc : ndarray of float64, shape (n,), or a float for one string / 1-D codes;
        NaN where a sequence has no A/C/G/T base.

    Examples
    --------
    >>> gc_content(["GCgA", "NN"]).tolist()
    [0.75, nan]
    """
    if _is_int_array(seqs_or_codes):
        codes, single = _codes_2d(seqs_or_codes)
        gc = ((codes == 1) | (codes == 2)).sum(axis=1)
        return _ratio(gc, (codes < N_CODE).sum(axis=1), single)
    flat, lens, single = _ascii_ragged(seqs_or_codes)
    gc = _segment_sums(_GC_LUT[flat], lens)
    return _ratio(gc, _segment_sums(_CODE_LUT[flat] < N_CODE, lens), single)


def soft_mask_fraction(seqs: str | Sequence[str]) -> np.ndarray | float:
    """Fraction of lower-case (soft-masked, e.g. repeat) letters in each sequence.

    Parameters
    ----------
    seqs : str or sequence of str (lengths may differ)

    Returns
    -------
    frac : ndarray of float64, shape (n,), or a float for one string; NaN for an empty one.

    Examples
    --------
    >>> soft_mask_fraction(["ACgt", ""]).tolist()
    [0.5, nan]
    """
    flat, lens, single = _ascii_ragged(seqs)
    return _ratio(_segment_sums(_LOWER_LUT[flat], lens), lens, single)

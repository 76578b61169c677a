"""Uploaded inputs: size and sequence-count limits, storage under server-chosen names, checks."""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.web.errors import ApiError
from cislearn.web.jobs import INPUT_NAMES
from cislearn.web.settings import Settings

__all__ = ["Upload", "StoredInputs", "decode_upload", "store_training_inputs", "check_inputs"]


class Upload(NamedTuple):
    """One input as received: pasted text or file bytes, and the label shown to the user."""

    label: str
    content: bytes


class StoredInputs(NamedTuple):
    """What :func:`store_training_inputs` wrote: the job's ``inputs`` params and check reports."""

    inputs: dict[str, str]
    reports: list[dict[str, Any]]
    ok: bool


def decode_upload(label: str, content: bytes, settings: Settings) -> Upload:
    """Gunzip (bounded: a small upload cannot expand past the upload limit) and size-check."""
    limit = settings.max_upload_bytes
    if content[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            content = inflater.decompress(content, limit + 1)
        except zlib.error as exc:
            raise ApiError(422, "bad_gzip", f"{label}: not valid gzip data ({exc})") from None
    if len(content) > limit:
        raise ApiError(
            413,
            "too_large",
            f"{label}: larger than this server's upload limit of {limit:,} bytes; "
            "split the input or ask the administrator to raise --max-upload-mb",
        )
    return Upload(label, content)


def _count_records(content: bytes) -> int:
    text = content.lstrip()
    if text.startswith(b">"):
        return text.count(b"\n>") + 1
    return max(sum(1 for line in text.splitlines() if line.strip()) - 1, 0)


def _check_count(upload: Upload, settings: Settings) -> None:
    n = _count_records(upload.content)
    if n > settings.max_sequences:
        raise ApiError(
            413,
            "too_many_sequences",
            f"{upload.label}: {n:,} sequences; this server accepts at most "
            f"{settings.max_sequences:,} per input",
        )


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _report(path: Path, label: str, *, fixed_length: bool) -> dict[str, Any]:
    from cislearn.validate import check_file, format_report

    report = check_file(path, fixed_length=fixed_length)
    # show the user's label, not the server's file path
    report = report._replace(
        path=label, problems=[p.replace(str(path), label) for p in report.problems]
    )
    return {
        "label": label,
        "format": report.format,
        "n_records": report.n_records,
        "ok": report.ok,
        "problems": report.problems,
        "summary": report.summary,
        "text": format_report(report),
    }


def store_training_inputs(
    root: Path,
    settings: Settings,
    *,
    data: Upload | None = None,
    pos: Upload | None = None,
    neg: Upload | None = None,
) -> StoredInputs:
    """Write the inputs of a training job under ``root`` and check them (as ``cislearn check``).

    Give ``data`` (DeepBIO FASTA or a table), or ``pos`` and ``neg`` (plain FASTA).
    """
    if data is not None and (pos is not None or neg is not None):
        raise ApiError(
            422, "bad_input", "give either data (DeepBIO FASTA or table) or a pos/neg pair"
        )
    if data is None and (pos is None or neg is None):
        raise ApiError(
            422,
            "missing_input",
            "no input: paste or upload data (DeepBIO FASTA or a table), or both a positive "
            "and a negative FASTA, or press 'Example data'",
        )
    if data is not None:
        _check_count(data, settings)
        kind = "data_fasta" if data.content.lstrip().startswith(b">") else "data_table"
        _write(root / INPUT_NAMES[kind], data.content)
        reports = [_report(root / INPUT_NAMES[kind], data.label, fixed_length=True)]
        inputs = {"data": kind}
    else:
        assert pos is not None and neg is not None  # narrowed above
        reports = []
        for key, upload in (("pos", pos), ("neg", neg)):
            _check_count(upload, settings)
            _write(root / INPUT_NAMES[key], upload.content)
            reports.append(_report(root / INPUT_NAMES[key], upload.label, fixed_length=True))
        inputs = {"pos": "pos", "neg": "neg"}
    return StoredInputs(inputs, reports, all(r["ok"] for r in reports))


def check_inputs(
    settings: Settings,
    *,
    data: Upload | None = None,
    pos: Upload | None = None,
    neg: Upload | None = None,
) -> StoredInputs:
    """Check inputs without keeping them (the "Check format" button)."""
    tmp_root = Path(settings.data_dir) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=tmp_root))
    try:
        return store_training_inputs(tmp, settings, data=data, pos=pos, neg=neg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def example_fasta(*, n: int = 300, length: int = 101, seed: int = 0) -> str:
    """Simulated demo data (CTCF motif implanted in positives) as DeepBIO FASTA text."""
    from cislearn.data import SequenceDataset, assign_split
    from cislearn.io.fasta import write_deepbio_fasta
    from cislearn.simulate import simulate

    sim = simulate(n_positive=n, n_negative=n, length=length, motifs=("MA0139",), seed=seed)
    ds = assign_split(
        SequenceDataset.from_arrays(sim.sequences, sim.labels, ids=sim.ids),
        method="random",
        seed=seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "example.fa"
        labels = [int(v) for v in ds.targets[:, 0]]
        write_deepbio_fasta(path, list(ds.ids), labels, list(ds.split), list(ds.sequences))
        return path.read_text()


def _gz(text: str) -> bytes:  # used by tests
    return gzip.compress(text.encode())

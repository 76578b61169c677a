"""Uploaded inputs: size and sequence-count limits, storage under server-chosen names, checks."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.web.errors import ApiError, web_message
from cislearn.web.jobs import INPUT_NAMES
from cislearn.web.settings import Settings

__all__ = [
    "Upload",
    "StoredInputs",
    "decode_upload",
    "store_training_inputs",
    "check_inputs",
    "check_lengths",
    "stage_uploads",
    "staged_uploads",
]


class Upload(NamedTuple):
    """One input as received: pasted text or file bytes, and the label shown to the user."""

    label: str
    content: bytes
    filename: str = ""


class StoredInputs(NamedTuple):
    """What :func:`store_training_inputs` wrote: the job's ``inputs`` params and check reports."""

    inputs: dict[str, str]
    reports: list[dict[str, Any]]
    ok: bool


def decode_upload(label: str, content: bytes, settings: Settings, filename: str = "") -> Upload:
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
            "split the input or ask the server's administrator to raise the limit",
        )
    return Upload(label, content, filename)


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


def _longest_fasta_record(content: bytes) -> tuple[int, int, str]:
    """(1-based record number, length, id) of the longest record of FASTA bytes."""
    best = (0, 0, "")
    for i, chunk in enumerate(content.lstrip().lstrip(b">").split(b"\n>")):
        header, _, body = chunk.partition(b"\n")
        n = len(body) - sum(body.count(c) for c in (b"\n", b"\r", b" ", b"\t"))
        if n > best[1]:
            best = (i + 1, n, header.split()[0].decode("utf-8", "replace") if header else "")
    return best


def check_lengths(label: str, lengths: Any, settings: Settings, *, ids: Any = None) -> None:
    """413 when a sequence is longer than the server's per-sequence limit.

    ``lengths`` are sequence lengths in bp (``ids`` their names, optional).
    """
    limit = settings.max_sequence_length
    for i, n in enumerate(lengths):
        if n > limit:
            name = f' ("{ids[i]}")' if ids is not None else ""
            raise ApiError(
                413,
                "sequence_too_long",
                f"{label}, sequence {i + 1}{name}: {n:,} bp; this server accepts sequences of "
                f"at most {limit:,} bp",
            )


def _check_upload_lengths(upload: Upload, report: dict[str, Any], settings: Settings) -> None:
    if upload.content.lstrip().startswith(b">"):
        record, n, name = _longest_fasta_record(upload.content)
        if n > settings.max_sequence_length:
            lengths = [0] * (record - 1) + [n]
            check_lengths(upload.label, lengths, settings, ids=[""] * (record - 1) + [name])
        return
    longest = int(report["summary"].get("length", {}).get("max", 0) or 0)
    if longest > settings.max_sequence_length:
        limit = settings.max_sequence_length
        raise ApiError(
            413,
            "sequence_too_long",
            f"{upload.label}: a sequence of {longest:,} bp; this server accepts sequences of "
            f"at most {limit:,} bp",
        )


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _report(path: Path, label: str, *, fixed_length: bool) -> dict[str, Any]:
    from cislearn.validate import check_file, format_report

    report = check_file(path, fixed_length=fixed_length)
    # show the user's label, not the server's file path
    # (and no command-line hints: a web user has no flags)
    report = report._replace(
        path=label, problems=[web_message(p.replace(str(path), label)) for p in report.problems]
    )
    return {
        "label": label,
        "format": report.format,
        "n_records": report.n_records,
        "ok": report.ok,
        "problems": report.problems,
        "summary": report.summary,
        "text": "\n".join(
            web_message(line) if "--" in line else line
            for line in format_report(report).splitlines()
        ),
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
        _check_upload_lengths(data, reports[0], settings)
        inputs = {"data": kind}
    else:
        assert pos is not None and neg is not None  # narrowed above
        reports = []
        for key, upload in (("pos", pos), ("neg", neg)):
            _check_count(upload, settings)
            _write(root / INPUT_NAMES[key], upload.content)
            reports.append(_report(root / INPUT_NAMES[key], upload.label, fixed_length=True))
            _check_upload_lengths(upload, reports[-1], settings)
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


# -- uploads kept between "Check format" and "Train" -----------------------------------------

_STAGE_ID = re.compile(r"^[0-9a-f]{32}$")
#: Kept uploads older than this are removed when the next one is kept.
STAGE_SECONDS = 24 * 3600


def _stage_root(settings: Settings) -> Path:
    return Path(settings.data_dir) / "staged"


def stage_uploads(settings: Settings, uploads: dict[str, Upload | None]) -> str | None:
    """Keep uploaded files on the server so that the next submit of the page can use them
    (a browser empties its file boxes on every page load); return their random id, or None
    when nothing was uploaded. Kept uploads older than a day are removed here."""
    from cislearn.web.store import new_job_id

    kept = {key: up for key, up in uploads.items() if up is not None}
    if not kept:
        return None
    root = _stage_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        if old.is_dir() and now - old.stat().st_mtime > STAGE_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    stage_id = new_job_id()
    folder = root / stage_id
    folder.mkdir()
    for key, upload in kept.items():
        (folder / key).write_bytes(upload.content)
    labels = {key: [up.label, up.filename] for key, up in kept.items()}
    (folder / "labels.json").write_text(json.dumps(labels))
    return stage_id


def staged_uploads(settings: Settings, stage_id: str) -> dict[str, Upload]:
    """The uploads kept under ``stage_id`` by :func:`stage_uploads` (empty when gone)."""
    folder = _stage_root(settings) / stage_id
    if not _STAGE_ID.match(stage_id) or not (folder / "labels.json").is_file():
        return {}
    labels = json.loads((folder / "labels.json").read_text())
    return {
        key: Upload(str(label), (folder / key).read_bytes(), str(filename))
        for key, (label, filename) in labels.items()
        if key in ("data", "pos", "neg") and (folder / key).is_file()
    }


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

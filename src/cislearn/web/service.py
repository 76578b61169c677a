"""Job results for the API and the pages: metrics, figures, files, archives, predictions."""

from __future__ import annotations

import io
import math
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cislearn.web import present
from cislearn.web.errors import ApiError, web_message
from cislearn.web.inputs import check_lengths
from cislearn.web.jobs import LOG_NAME, job_dir, out_dir, run_dirs
from cislearn.web.settings import Settings
from cislearn.web.store import JobRecord

__all__ = [
    "list_files",
    "resolve_file",
    "job_results",
    "log_tail",
    "zip_outputs",
    "zip_bundle",
    "parse_sequences",
    "predict",
    "mutation_map",
    "trained_models",
]

_BUNDLE_FILES = ("model.safetensors", "model.json", "baseline.npz", "baseline.json", "config.yaml")


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf floats become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def list_files(settings: Settings, job_id: str) -> dict[str, Path]:
    """Every output file of a job, by its name relative to the job's output folder.

    Downloads look names up in this listing, so no user-given text is ever used as a path.
    """
    root = out_dir(settings, job_id)
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "checkpoints")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = path
    return found


def resolve_file(settings: Settings, job_id: str, name: str) -> Path:
    path = list_files(settings, job_id).get(name)
    if path is None:
        raise ApiError(404, "file_not_found", f"job {job_id} has no output file {name!r}")
    return path


def log_tail(settings: Settings, job_id: str, *, lines: int = 40) -> list[str]:
    path = job_dir(settings, job_id) / LOG_NAME
    if not path.is_file():
        return []
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64_000))
        text = fh.read().decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]


def _figures(files: dict[str, Path], prefix: str) -> dict[str, str]:
    return {
        Path(name).stem: name
        for name in files
        if name.startswith(prefix) and name.endswith((".png", ".svg"))
    }


def _present(files: dict[str, Path], name: str) -> str | None:
    return name if name in files else None


def variant_results(settings: Settings, job: JobRecord) -> dict[str, Any]:
    """What a variants job produced: the strongest variants, the figure, the files."""
    from cislearn.pipelines.variants import FIGURE, MAPS, TABLE, VCF

    files = list_files(settings, job.id)
    out = out_dir(settings, job.id)
    return {
        "job": job.id,
        "kind": job.kind,
        "status": job.status,
        "model_job": job.params.get("model_job"),
        "model": job.params.get("model"),
        "genome": job.params.get("genome"),
        "variants": _clean(present.read_variant_table(out / TABLE)),
        "table": TABLE if TABLE in files else None,
        "vcf": VCF if VCF in files else None,
        "figure": FIGURE if FIGURE in files else None,
        "maps": sorted(name for name in files if name.startswith(f"{MAPS}/")),
        "files": sorted(files),
    }


def job_results(settings: Settings, job: JobRecord) -> dict[str, Any]:
    """Everything a finished (or partly finished) job produced, as JSON."""
    from cislearn.errors import CislearnError

    if job.kind == "variants":
        return variant_results(settings, job)
    from cislearn.pipelines.train import read_run

    files = list_files(settings, job.id)
    models = []
    for name, run in run_dirs(settings, job).items():
        entry: dict[str, Any] = {"name": name, "finished": False, "metrics": {}}
        prefix = f"runs/{name}/"
        if (run / "metrics.json").is_file():
            try:
                summary = read_run(run)
            except CislearnError as exc:
                entry["error"] = str(exc)
            else:
                entry["finished"] = True
                entry["metrics"] = _clean(summary.metrics)
                entry["shortcut_auroc"] = _clean(summary.shortcut_auroc)
                entry["notes"] = list(summary.notes)
        entry["figures"] = _figures(files, prefix + "figures/")
        entry["predictions"] = _present(files, prefix + "predictions.tsv")
        entry["embedding_table"] = _present(files, prefix + "embedding.tsv")
        entry["report"] = prefix + "report.html" if prefix + "report.html" in files else None
        entry["bundle"] = (run / "model.json").is_file() or (run / "baseline.json").is_file()
        models.append(entry)
    comparison = None
    if "compare/comparison.tsv" in files:
        import pandas as pd

        table = pd.read_csv(files["compare/comparison.tsv"], sep="\t")
        comparison = {
            "columns": [str(c) for c in table.columns],
            "rows": _clean(table.astype(object).where(table.notna(), None).values.tolist()),
            "figures": _figures(files, "compare/"),
            "report": "compare/comparison.html" if "compare/comparison.html" in files else None,
        }
    motifs = present.read_motifs_dir(out_dir(settings, job.id) / "motifs", files)
    return {
        "job": job.id,
        "kind": job.kind,
        "status": job.status,
        "models": models,
        "comparison": comparison,
        "motifs": motifs,
        "motif_notes": present.read_motif_notes(out_dir(settings, job.id) / "motifs"),
        "files": sorted(files),
    }


def delete_job(settings: Settings, store: Any, job: JobRecord) -> None:
    """Delete a finished job's record and files (409 while it is queued or running)."""
    import shutil

    from cislearn.web.store import FINISHED

    if job.status not in FINISHED:
        raise ApiError(409, "job_active", f"job {job.id} is {job.status}; cancel it first")
    store.delete(job.id)
    shutil.rmtree(job_dir(settings, job.id), ignore_errors=True)


def zip_outputs(settings: Settings, job_id: str) -> bytes:
    """All outputs of a job as one zip archive (in memory; outputs are small)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in list_files(settings, job_id).items():
            zf.write(path, f"cislearn-{job_id[:8]}/{name}")
    return buf.getvalue()


def zip_bundle(settings: Settings, job: JobRecord, model: str) -> bytes:
    """The model bundle (weights + metadata + config) of one model of a job, zipped."""
    run = run_dirs(settings, job).get(model)
    if run is None or not any((run / n).is_file() for n in ("model.json", "baseline.json")):
        raise ApiError(404, "model_not_found", f"job {job.id} has no trained model {model!r}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in _BUNDLE_FILES:
            if (run / name).is_file():
                zf.write(run / name, f"{model}/{name}")
    return buf.getvalue()


# -- prediction ----------------------------------------------------------------------------

_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def _predictor(run: Path) -> Any:
    """Loaded bundles, least recently used dropped first (loading costs ~50 ms)."""
    from cislearn.runload import load_run as load

    key = str(run)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    predictor = load(run, device="cpu")
    with _CACHE_LOCK:
        _CACHE[key] = predictor
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return predictor


def trained_models(settings: Settings, job: JobRecord) -> list[str]:
    """Models of a job that have a bundle (deep models: baselines do not predict here)."""
    return [
        name
        for name, run in run_dirs(settings, job).items()
        if (run / "model.json").is_file() and not present.is_baseline_choice(name)
    ]


def _loaded_model(settings: Settings, job: JobRecord, model: str | None) -> tuple[str, Any]:
    """(name, Predictor) of a trained model of ``job``; the first one when ``model`` is None."""
    models = trained_models(settings, job)
    if not models:
        raise ApiError(409, "no_model", f"job {job.id} has no trained model yet")
    model = model or models[0]
    if model not in models:
        raise ApiError(
            404, "model_not_found", f"no trained model {model!r}; have: {', '.join(models)}"
        )
    return model, _predictor(run_dirs(settings, job)[model])


def mutation_map(
    settings: Settings, job: JobRecord, model: str | None, sequence: str
) -> dict[str, Any]:
    """Saturation mutagenesis map of one sequence with a trained model of ``job``."""
    from cislearn.errors import InputError
    from cislearn.io.fasta import check_dna, unexpected_character
    from cislearn.pipelines.interpret import map_sequences

    sequence = "".join(sequence.split())
    if sequence.startswith(">"):
        raise ApiError(422, "bad_input", "give one bare sequence (no FASTA header)")
    _, bad = check_dna(sequence)
    if bad is not None:
        raise ApiError(422, "bad_input", f"column {bad[0]}: {unexpected_character(bad[1])}")
    check_lengths("sequence", [len(sequence)], settings)
    model, predictor = _loaded_model(settings, job, model)
    _check_model_length(predictor, [sequence], ["sequence"])
    try:
        result = present.map_json(
            map_sequences(
                predictor,
                [sequence],  # both strands when the model predicts so
            )
        )
    except InputError as exc:
        raise ApiError(422, "bad_input", web_message(str(exc))) from None
    return {"model": model, "sequence": sequence, **result}


def _check_model_length(predictor: Any, sequences: list[str], ids: list[str]) -> None:
    """422 naming the first sequence whose length is not the model's."""
    for i, seq in enumerate(sequences):
        if len(seq) != predictor.length:
            raise ApiError(
                422,
                "bad_input",
                f"sequence {i + 1} ({ids[i]!r}): length {len(seq)}; this model takes "
                f"{predictor.length} bp",
            )


def parse_sequences(text: str, settings: Settings) -> tuple[list[str], list[str]]:
    """Pasted FASTA, or one sequence per line → (ids, sequences), validated by the FASTA reader."""
    from cislearn.io.fasta import read_fasta

    text = text.strip()
    if not text:
        raise ApiError(422, "missing_input", "no sequences: paste FASTA or one sequence per line")
    if not text.startswith(">"):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        text = "\n".join(f">seq{i + 1}\n{line}" for i, line in enumerate(lines))
    if text.count("\n>") + 1 > settings.max_predict_sequences:
        raise ApiError(
            413,
            "too_many_sequences",
            f"more than {settings.max_predict_sequences:,} sequences in one request; "
            "split them into several requests",
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sequences.fa"
        path.write_text(text + "\n")
        from cislearn.errors import InputError

        try:
            records = list(read_fasta(path))
        except InputError as exc:
            raise ApiError(422, "bad_input", str(exc).replace(str(path), "input")) from None
    return [r.id for r in records], [r.sequence for r in records]


def predict(
    settings: Settings,
    job: JobRecord,
    model: str | None,
    sequences: list[str],
    ids: list[str] | None = None,
) -> dict[str, Any]:
    """Score ``sequences`` with a trained model of ``job``: probabilities and logits."""
    from cislearn.errors import InputError
    from cislearn.io.fasta import check_dna, unexpected_character

    model, predictor = _loaded_model(settings, job, model)
    if len(sequences) > settings.max_predict_sequences:
        raise ApiError(
            413,
            "too_many_sequences",
            f"{len(sequences):,} sequences; at most {settings.max_predict_sequences:,} per request",
        )
    ids = ids if ids is not None else [f"seq{i + 1}" for i in range(len(sequences))]
    if len(ids) != len(sequences):
        raise ApiError(422, "bad_input", f"{len(ids)} ids for {len(sequences)} sequences")
    check_lengths("sequences", [len(seq) for seq in sequences], settings, ids=ids)
    for i, seq in enumerate(sequences):
        _, bad = check_dna(seq)
        if bad is not None:
            raise ApiError(
                422,
                "bad_input",
                f"sequence {i + 1} ({ids[i]!r}), column {bad[0]}: {unexpected_character(bad[1])}",
            )
    _check_model_length(predictor, sequences, ids)
    try:
        result = predictor.predict(sequences)
    except InputError as exc:
        raise ApiError(422, "bad_input", web_message(str(exc))) from None
    return {
        "model": model,
        "task": predictor.task,
        "length": predictor.length,
        "outputs": predictor.output_names,
        "ids": ids,
        "probs": result.probs.round(6).tolist(),
        "logits": result.logits.round(6).tolist(),
    }

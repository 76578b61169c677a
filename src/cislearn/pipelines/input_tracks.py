"""Per-base input tracks from bigWig for `hybrid` (and other track-reading) models: attached to a
training table before `train`, and read again at `predict` / `scan` from what the bundle records.

The bundle records the tracks in ``model.json`` under ``data.input_tracks`` (name, absolute
path, transform, missing rule), through the dataset's provenance; at inference each track is
read from the recorded path or from a user-given one (``--input-track NAME=PATH``), and a
missing file is an error naming the track.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cislearn.data import SequenceDataset
from cislearn.errors import ConfigError, InputError
from cislearn.tracks import TrackSpec, coordinates, input_tracks

__all__ = [
    "with_input_tracks",
    "recorded_tracks",
    "track_reader",
    "predict_with_tracks",
    "attach_input_tracks",
    "predict_tracks_file",
]


def _open(specs: Sequence[TrackSpec], stack: ExitStack) -> dict[str, Any]:
    from cislearn.io.bigwig import BigWig

    for s in specs:
        if not Path(s.path).is_file():
            raise InputError(
                f"input track '{s.name}': bigWig {s.path} not found; give it as "
                f"--input-track {s.name}=PATH"
            )
    return {s.name: stack.enter_context(BigWig(s.path)) for s in specs}


def with_input_tracks(
    dataset: SequenceDataset,
    coords: pd.DataFrame,
    specs: Sequence[TrackSpec],
) -> SequenceDataset:
    """``dataset`` with per-base tracks (n, c, L) read from bigWigs at ``coords``; the specs
    (with absolute paths) go into its provenance so the trained bundle records them."""
    if not specs:
        return dataset
    if len(coords) != len(dataset):
        raise InputError(f"{len(coords)} coordinates for {len(dataset)} records")
    widths = (coords["end"] - coords["start"]).to_numpy()
    if (widths != dataset.lengths).any():
        i = int(np.flatnonzero(widths != dataset.lengths)[0])
        raise InputError(
            f"record {i + 1} ('{dataset.ids[i]}'): coordinates span {widths[i]} bp but the "
            f"sequence has {dataset.lengths[i]}"
        )
    specs = [s._replace(path=os.path.abspath(s.path)) for s in specs]
    with ExitStack() as stack:
        tracks = input_tracks(
            coords["chrom"].astype(str).tolist(),
            coords["start"].to_numpy(),
            coords["end"].to_numpy(),
            _open(specs, stack),
            specs,
        )
    return replace(
        dataset, tracks=tracks, track_names=tuple(s.name for s in specs)
    ).with_provenance(input_tracks=[s.describe() for s in specs])


def recorded_tracks(meta: Mapping[str, Any], paths: Mapping[str, str]) -> list[TrackSpec]:
    """The input tracks a bundle records, with paths replaced by ``paths`` where given."""
    recorded = (meta.get("data") or {}).get("input_tracks") or []
    n_tracks = int(meta.get("n_tracks", 0))
    if not n_tracks:
        if paths:
            raise ConfigError("--input-track given, but this model takes no input tracks")
        return []
    if len(recorded) != n_tracks:
        raise InputError(
            f"this model takes {n_tracks} input track(s) but its bundle does not record where "
            "they come from (train it with --input-track NAME=track.bw)"
        )
    specs = [TrackSpec(**r) for r in recorded]
    unknown = sorted(set(paths) - {s.name for s in specs})
    if unknown:
        raise ConfigError(
            f"--input-track {unknown[0]}: the model's tracks are {', '.join(s.name for s in specs)}"
        )
    return [s._replace(path=paths.get(s.name, s.path)) for s in specs]


def track_reader(meta: Mapping[str, Any], paths: Mapping[str, str], stack: ExitStack) -> Any:
    """None for a model without tracks, else a callable (chrom, starts, width) → (m, c, width)
    reading the recorded tracks (:func:`recorded_tracks`)."""
    specs = recorded_tracks(meta, paths)
    if not specs:
        return None
    opened = _open(specs, stack)

    def read(chrom: str, starts: np.ndarray, width: int) -> np.ndarray:
        starts = np.asarray(starts, np.int64)
        return input_tracks([chrom] * len(starts), starts, starts + width, opened, specs)

    return read


def predict_with_tracks(
    predictor: Any,
    chunks: Iterator[tuple[list[str], list[str], pd.DataFrame | None]],
    *,
    paths: Mapping[str, str] | None = None,
    output: str = "both",
    source: Any = None,
) -> Iterator[pd.DataFrame]:
    """Stream predictions of a model with input tracks (columns as ``predict_records``).

    ``chunks`` yields (ids, sequences, coordinate frame or None); coordinates come from the
    frame or the ids (:func:`coordinates`).
    """
    from cislearn.encode import one_hot
    from cislearn.predict import prediction_frame

    columns = predictor.columns(output)
    with ExitStack() as stack:
        specs = recorded_tracks(predictor.meta, dict(paths or {}))
        opened = _open(specs, stack)
        offset = 0
        for ids, seqs, frame in chunks:
            for i, s in enumerate(seqs):
                if len(s) != predictor.length:
                    raise InputError(
                        f"sequence length {len(s)}; the model takes {predictor.length} bp",
                        path=source,
                        record=offset + i + 1,
                    )
            coords = coordinates(ids, frame, path=source)
            extra = input_tracks(
                coords["chrom"].astype(str).tolist(),
                coords["start"].to_numpy(),
                coords["end"].to_numpy(),
                opened,
                specs,
            )
            x = np.concatenate([one_hot(seqs, n_value=predictor.n_value), extra], axis=1)
            offset += len(ids)
            yield prediction_frame(predictor.predict(x), ids, columns, output)


def attach_input_tracks(
    dataset: SequenceDataset,
    data: str | os.PathLike[str] | None,
    paths: Mapping[str, str],
    *,
    log1p: bool = False,
) -> SequenceDataset:
    """`train --input-track`: per-base tracks (``paths``: name → bigWig) at each record's
    coordinates (a table's ``chrom, start, end`` columns, else ids written ``chrom:start-end``).
    """
    from cislearn.io.formats import detect_format
    from cislearn.io.tables import read_table

    frame = None
    if data is not None and detect_format(data) == "table":
        frame = read_table(data, targets=list(dataset.target_names)).frame
    specs = [
        TrackSpec(name, path, transform="log1p" if log1p else "none")
        for name, path in paths.items()
    ]
    return with_input_tracks(dataset, coordinates(dataset.ids, frame, path=data), specs)


_CHUNK = 16384


def _source_chunks(
    source: str | os.PathLike[str],
) -> Iterator[tuple[list[str], list[str], pd.DataFrame | None]]:
    """(ids, sequences, coordinate frame or None) chunks of a table or a FASTA file."""
    from itertools import islice

    from cislearn.io.fasta import read_fasta
    from cislearn.io.formats import detect_format
    from cislearn.io.tables import read_table

    if detect_format(source) == "table":
        frame = read_table(source, targets=[]).frame
        for i in range(0, len(frame), _CHUNK):
            part = frame.iloc[i : i + _CHUNK]
            yield part["id"].tolist(), part["sequence"].tolist(), part
        return
    records = read_fasta(source)
    while batch := list(islice(records, _CHUNK)):
        yield [r.id for r in batch], [r.sequence for r in batch], None


def predict_tracks_file(
    predictor: Any,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    output: str = "both",
    paths: Mapping[str, str] | None = None,
) -> int:
    """`predict` for a model with input tracks: records of a FASTA file with ``chrom:start-end``
    ids, or of a table with ``chrom, start, end`` columns, streamed into the TSV ``out``
    (atomically); tracks read from the bundle's (or the given) bigWigs. Returns the rows."""
    from cislearn.io.atomic import atomic_write

    n = 0
    with atomic_write(out) as fh:
        tables = predict_with_tracks(
            predictor, _source_chunks(source), paths=paths, output=output, source=source
        )
        for i, table in enumerate(tables):
            table.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")
            n += len(table)
    return n

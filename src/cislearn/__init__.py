"""cislearn: deep learning on DNA sequences for regulatory genomics.

The public API is re-exported here lazily (PEP 562), so ``import cislearn`` and
``cislearn --help`` stay fast: a submodule is imported on first use of one of its names.

Examples
--------
>>> import cislearn
>>> ds = cislearn.load_dataset(pos="pos.fa.gz", neg="neg.fa.gz")  # doctest: +SKIP
>>> x = cislearn.one_hot(["ACGT", "TTGN"])
>>> x.shape
(2, 4, 4)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that owns it
_EXPORTS: dict[str, str] = {
    # errors
    "CislearnError": "cislearn.errors",
    "InputError": "cislearn.errors",
    "GenomeError": "cislearn.errors",
    "ConfigError": "cislearn.errors",
    "ModelLoadError": "cislearn.errors",
    # io
    "read_fasta": "cislearn.io.fasta",
    "write_fasta": "cislearn.io.fasta",
    "read_deepbio_fasta": "cislearn.io.fasta",
    "write_deepbio_fasta": "cislearn.io.fasta",
    "read_table": "cislearn.io.tables",
    "read_bed": "cislearn.io.bed",
    "Genome": "cislearn.io.genome",
    "BigWig": "cislearn.io.bigwig",
    "write_bigwig": "cislearn.io.bigwig",
    "load_jaspar": "cislearn.io.jaspar",
    "read_motifs": "cislearn.io.motifs",
    "Motif": "cislearn.io.motifs",
    # encoding
    "one_hot": "cislearn.encode",
    "decode": "cislearn.encode",
    "reverse_complement": "cislearn.encode",
    "kmer_tokens": "cislearn.encode",
    # data, negatives, simulation
    "SequenceDataset": "cislearn.data",
    "load_dataset": "cislearn.data",
    "assign_split": "cislearn.data",
    "leakage_report": "cislearn.leakage",
    "make_loader": "cislearn.data",
    "kshuffle": "cislearn.negatives",
    "genomic_background": "cislearn.negatives",
    "prepare_peaks": "cislearn.pipelines.prepare",
    "check_file": "cislearn.validate",
    # models, training, prediction, runs
    "build_model": "cislearn.models.registry",
    "ARCHITECTURES": "cislearn.models.registry",
    "read_keras": "cislearn.models.keras",
    "TrainConfig": "cislearn.config",
    "resolve_config": "cislearn.config",
    "load_config": "cislearn.config",
    "fit": "cislearn.train",
    "load": "cislearn.runload",
    "load_run": "cislearn.runload",
    "Predictor": "cislearn.types",
    "Predictions": "cislearn.types",
    "DeepPredictor": "cislearn.predict",
    "score_variants": "cislearn.variants",
    "train_run": "cislearn.pipelines.train",
    "evaluate_run": "cislearn.pipelines.train",
    "compare_runs_dir": "cislearn.pipelines.train",
    # signal tracks, scans, folds (issue 16)
    "chromosome_folds": "cislearn.folds",
    "prepare_tracks": "cislearn.pipelines.prepare_tracks",
    "scan_to_bigwig": "cislearn.pipelines.scan",
    "train_folds": "cislearn.pipelines.folds",
    # classical baselines
    "kmer_counts": "cislearn.features",
    "gapped_kmer_counts": "cislearn.features",
    "composition": "cislearn.features",
    "motif_counts": "cislearn.motif_counts",
    "fit_baseline": "cislearn.baseline",
    "load_baseline": "cislearn.baseline",
    "baseline_run": "cislearn.pipelines.panel",
    "benchmark_panel": "cislearn.pipelines.panel",
    # interpretation
    "saturation_mutagenesis": "cislearn.interpret.ism",
    "substitution_logits": "cislearn.interpret.ism",
    "map_effects": "cislearn.interpret.ism",
    "attribute": "cislearn.interpret.attribution",
    "learned_motifs": "cislearn.interpret.compare",
    # user actions (what the CLI commands and the web jobs run)
    "prepare_run": "cislearn.pipelines.prepare",
    "score_variants_run": "cislearn.pipelines.variants",
    "attributions_run": "cislearn.pipelines.interpret",
    "mutation_maps_run": "cislearn.pipelines.interpret",
    "motifs_run": "cislearn.pipelines.interpret",
    "demo_run": "cislearn.pipelines.demo",
    "hypothetical_contributions": "cislearn.interpret.contributions",
    "attribution_motifs": "cislearn.interpret.modisco",
    "audit_attributions": "cislearn.interpret.audit",
    "marginalize_motif": "cislearn.interpret.experiments",
    "ablate_motif": "cislearn.interpret.experiments",
    "motif_spacing": "cislearn.interpret.experiments",
    "greedy_design": "cislearn.interpret.design",
    # web app
    "create_app": "cislearn.web.app",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cislearn' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

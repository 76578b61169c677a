"""One function per user action, shared by the CLI and the web app: read the inputs, call the
science, write the outputs, return a structured result.

- :mod:`~cislearn.pipelines.train`: train / evaluate / compare runs (``train_run``, ...)
- :mod:`~cislearn.pipelines.panel`: baseline runs and the benchmark panel
- :mod:`~cislearn.pipelines.predict`: ``predict`` (streamed, on one or many processes/GPUs)
- :mod:`~cislearn.pipelines.variants`: ``score-variants`` (streamed TSV, annotated VCF, maps)
- :mod:`~cislearn.pipelines.interpret`: attributions, mutation maps, learned motifs
- :mod:`~cislearn.pipelines.embedding`: the learned-features embedding (PCA) of a run
- :mod:`~cislearn.pipelines.prepare`: ``prepare`` (peaks → training set) and ``negatives``
- :mod:`~cislearn.pipelines.demo`: ``simulate`` and ``demo``
- :mod:`~cislearn.pipelines.prepare_tracks`: multi-experiment / bigWig-signal training sets
- :mod:`~cislearn.pipelines.scan`: genome scans written to bigWig
- :mod:`~cislearn.pipelines.folds`: chromosome folds (``--folds K``)
- :mod:`~cislearn.pipelines.input_tracks`: per-base bigWig inputs (train, predict, variants)
- :mod:`~cislearn.pipelines.base_tracks`: per-base results (attributions, maps) as bigWig
- :mod:`~cislearn.pipelines.attribution_motifs`: ``motifs --from attributions`` (TF-MoDISco)
- :mod:`~cislearn.pipelines.audit`: the attribution audit against exact ISM
- :mod:`~cislearn.pipelines.experiments`: in-silico marginalisation, ablation, spacing
- :mod:`~cislearn.pipelines.design`: greedy sequence design
- :mod:`~cislearn.pipelines.inputs`: inputs shared by these (model, regions, motif specs)
- :mod:`~cislearn.pipelines.record`: the no-overwrite check and ``record.json``
"""

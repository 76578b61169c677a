"""Choose the default model on evidence: every candidate recipe on the two shared real sets
(CTCF, DNase; GM12878) and on simulated sets of other kinds, several seeds, one run at a time.

Protocol per (set, seed): a seeded stratified split, 30% test, 10% validation (carved from the
70%: early stopping, stacking weights), 60% training. Test AUROC per run; per set the mean over
seeds with a 95% t-interval; the default is the candidate with the best mean rank over sets.
Every finished (set, candidate, seed) is cached in the results JSON, so an interrupted run
resumes where it stopped.

Usage:
    python benchmarks/default_arch.py --stage screen     # all candidates, real sets, seed 0
    python benchmarks/default_arch.py --stage final      # finalists, all sets, seeds 0..2
    python benchmarks/default_arch.py --quick            # tiny smoke run (not for the README)
Writes benchmarks/results/default_arch.json (or --results) and prints the summary table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cislearn
from cislearn.baseline import featurize, parse_features
from cislearn.simsets import grammar_set, weak_gc_set

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

REAL = ("ctcf", "dnase")
SIMULATED = ("sim_weak_gc", "sim_grammar")

# Recipes: "deep" → TrainConfig keys; "baseline" → (features, model), as the benchmark panel.
RC = {"rc_augment": True, "rc_average": True}
WIDE = {"arch": "wide-deep", **RC, "model": {"deep_arch": "cnn"}}
# Each `auto*` recipe trains a CNN (the recipe) and stacks it with a k-mer lasso; the CNN
# member alone is also scored on the test part, so `cnn-rc*` are the same trainings, not
# trained twice.
RECIPES: dict[str, dict[str, Any]] = {
    "": {},
    "-cosine": {"lr": 3e-3, "scheduler": "cosine"},
    "-b128": {"batch_size": 128, "lr": 3e-3},
    "-b128-e40": {"batch_size": 128, "lr": 3e-3, "max_epochs": 40},
    "-wd": {"optimizer": "adamw", "weight_decay": 0.01},
    "-drop": {"model": {"deep_arch": "cnn", "deep": {"dropout": 0.25, "dense": 32}}},
    "-lstm": {"model": {"deep_arch": "cnn-lstm"}},
    "-lstm-b128": {"model": {"deep_arch": "cnn-lstm"}, "batch_size": 128, "lr": 3e-3},
}
CANDIDATES: dict[str, dict[str, Any]] = {}
for _tag, _keys in RECIPES.items():
    CANDIDATES[f"auto{_tag}"] = {"deep": {**WIDE, **_keys}}
for _tag in RECIPES:
    CANDIDATES[f"cnn-rc{_tag}"] = {"member_of": f"auto{_tag}", "member": "deep"}
CANDIDATES.update(
    {
        # whatever `arch: auto` resolves to in this version of cislearn (config.DEFAULT_ARCH
        # with config.DEFAULT_RECIPE)
        "default": {"deep": {"arch": "auto"}},
        # the default's members stopped at the 20-epoch cap on DNase (every seed): a longer
        # cap (early stopping still decides), alone or with larger batches; 40 won and is
        # the default's own cap now (config.DEFAULT_RECIPE), so `default` and `default-e40`
        # are one training; `default-e20` is the previous default
        "default-e20": {"deep": {"arch": "auto", "max_epochs": 20}},
        "default-e40": {"deep": {"arch": "auto", "max_epochs": 40}},
        "default-b128-e40": {
            "deep": {"arch": "auto", "max_epochs": 40, "batch_size": 128, "lr": 3e-3}
        },
        # parts of the default, scored from the same training (no second run): each deep
        # member alone, and each member stacked with the k-mer lasso on the validation part
        "default:cnn": {"member_of": "default", "member": "cnn"},
        "default:cnn-lstm": {"member_of": "default", "member": "cnn-lstm"},
        "default:kmer": {"member_of": "default", "member": "kmer"},
        "default:cnn+kmer": {"member_of": "default", "member": "cnn+kmer"},
        "default:cnn-lstm+kmer": {"member_of": "default", "member": "cnn-lstm+kmer"},
        "cnn": {"deep": {"arch": "cnn"}},
        "lasso_6mer": {"baseline": ("kmer:6:rc", "lasso")},
        "lasso_gapped": {"baseline": ("gapped:3:3", "lasso")},
        "lasso_motifs": {"baseline": ("motifs", "lasso")},
        "rf_motifs": {"baseline": ("motifs", "rf")},
        "composition": {"baseline": ("composition:123", "lasso")},
        "cnn-lstm": {"deep": {"arch": "cnn-lstm"}},
        "wide-deep-joint": {"deep": {"arch": "wide-deep", **RC, "model": {"fit": "joint"}}},
        "cnn-rc-ens3": {"deep": {"arch": "cnn", **RC}, "ensemble": 3},
    }
)
SCREEN = list(CANDIDATES)
FINAL = ["default", "default-e20", "default:cnn+kmer", "default:cnn-lstm+kmer", "default:cnn"]
FINAL += ["default:cnn-lstm", "cnn", "lasso_6mer", "lasso_gapped", "lasso_motifs", "rf_motifs"]
FINAL += ["composition"]
FINAL += ["cnn-lstm"]


def load_set(name: str, *, quick: bool) -> cislearn.SequenceDataset:
    if name in REAL:
        folder = DATA / {"ctcf": "ctcf_gm12878", "dnase": "dnase_gm12878"}[name]
        ds = cislearn.load_dataset(pos=folder / "pos.fa.gz", neg=folder / "neg.fa.gz")
    else:
        sim = (weak_gc_set if name == "sim_weak_gc" else grammar_set)(seed=0)
        ds = cislearn.SequenceDataset.from_arrays(sim.sequences, sim.labels, ids=sim.ids)
    if quick:
        keep = np.random.default_rng(0).permutation(len(ds))[:800]
        ds = ds.subset(np.sort(keep))
    return ds


def split(ds: cislearn.SequenceDataset, seed: int) -> cislearn.SequenceDataset:
    return cislearn.assign_split(
        ds, method="random", valid_fraction=0.1, test_fraction=0.3, seed=seed
    )


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


_FEATURES: dict[tuple[int, str], Any] = {}


def run_baseline(ds: cislearn.SequenceDataset, spec: tuple[str, str], seed: int) -> dict:
    """Fit on the train part, score the test part (features of a set computed once)."""
    from cislearn.baseline import spec_motifs
    from cislearn.features import FeatureMatrix

    features, model = spec
    specs = parse_features(features)
    motifs = None
    if any(s.kind == "motifs" for s in specs):
        motifs = spec_motifs(next(s for s in specs if s.kind == "motifs"))
    key = (hash(ds.sequences), features)
    if key not in _FEATURES:
        _FEATURES[key] = featurize(specs, ds.sequences, motifs=motifs)
    fm = _FEATURES[key]
    rows = {p: np.flatnonzero(ds.split == p) for p in ("train", "test")}
    fitted = cislearn.fit_baseline(
        FeatureMatrix(fm.values[rows["train"]], fm.names),
        ds.targets[rows["train"]],
        model=model,
        spec=specs,
        motifs=motifs or (),
        seed=seed,
        n_jobs=1,
    )
    score = fitted.predict_features(fm.values[rows["test"]]).logits[:, 0]
    y = ds.targets[rows["test"], 0]
    return {"test_auroc": auroc(y, score), "test_auroc_ci": bootstrap_ci(y, score, seed)}


def bootstrap_ci(y: np.ndarray, score: np.ndarray, seed: int, n: int = 200) -> list[float]:
    """95% percentile bootstrap interval of the AUROC (as the deep runs' metrics.json)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(len(y), size=len(y))
        if len(np.unique(y[idx])) == 2:
            values.append(auroc(y[idx], score[idx]))
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def deep_config(recipe: dict, seed: int, member: int, epochs: int, quick: bool) -> Any:
    keys = dict(recipe["deep"])
    if keys.get("arch") != "auto":  # `auto` comes with the default recipe's own cap
        keys.setdefault("max_epochs", epochs)
    if quick:
        keys["max_epochs"] = epochs
    return cislearn.resolve_config(
        {}, {**keys, "seed": seed * 100 + member, "split": "given", "num_threads": 1}
    )


def signature(recipe: dict, seed: int, epochs: int, quick: bool) -> str | None:
    """The resolved configs of a deep recipe: two recipes with the same one train the same."""
    if "deep" not in recipe:
        return None
    from cislearn.models.registry import arch_config

    configs = []
    for m in range(recipe.get("ensemble", 1)):
        cfg = deep_config(recipe, seed, m, epochs, quick)
        resolved = arch_config(cfg.arch, cfg.model).model_dump(mode="json")
        configs.append({**cfg.model_dump(mode="json"), "model": resolved, "v": 2})
    return json.dumps(configs, sort_keys=True)


def run_deep(
    ds: cislearn.SequenceDataset, recipe: dict, seed: int, work: Path, epochs: int, quick: bool
) -> dict:
    test = ds.part("test")
    y = test.targets[:, 0]
    logits = []
    extra: dict[str, Any] = {}
    for member in range(recipe.get("ensemble", 1)):
        config = deep_config(recipe, seed, member, epochs, quick)
        out = work / f"m{member}"
        res = cislearn.train_run(ds, config, out, n_boot=200)
        pred = cislearn.load(out)
        logits.append(pred.predict(list(test.sequences)).logits[:, 0])
        extra["best_epoch"] = json.loads((out / "model.json").read_text()).get("best_epoch")
        extra["test_auroc_ci"] = res.metrics["label"].get("auroc_ci")
        stack = json.loads((out / "model.json").read_text()).get("stack")
        if stack:
            extra["stack"] = stack
            extra.update(members(pred, ds, bool(config.rc_average)))
    score = np.mean(logits, axis=0)
    return {"test_auroc": auroc(y, score), **extra}


def members(pred: Any, ds: cislearn.SequenceDataset, rc: bool) -> dict:
    """Test AUROC of each part of a stacked wide-deep model (deep members, k-mer lasso) and
    of each deep member stacked alone with the lasso (logistic regression on validation)."""
    from sklearn.linear_model import LogisticRegression

    net = getattr(pred.model, "model", pred.model)
    archs = list(net.config.deep_arch)
    parts = {}
    for name in ("valid", "test"):
        part = ds.part(name)
        x = torch.as_tensor(cislearn.one_hot(list(part.sequences)))
        cols = []
        with torch.inference_mode():
            for member in net.deep:
                out = member(x)
                if rc:
                    out = 0.5 * (out + member(x.flip(1).flip(2)))
                cols.append(out[:, 0].numpy())
            # the lasso's own logit (the stored table is scaled by its stacking weight)
            weight = pred.meta["stack"]["kmer"]["weight"][0] or 1.0
            cols.append(net.wide(x)[:, 0].numpy() / weight)
        parts[name] = (np.stack(cols, axis=1), part.targets[:, 0])
    (xv, yv), (xt, yt) = parts["valid"], parts["test"]
    result = {name: auroc(yt, xt[:, i]) for i, name in enumerate([*archs, "kmer"])}
    for i, name in enumerate(archs):
        cols = [i, len(archs)]
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(xv[:, cols], yv)
        result[f"{name}+kmer"] = auroc(yt, xt[:, cols] @ lr.coef_[0])
    return {"member_test_auroc": result}


def t_interval(values: list[float]) -> tuple[float, float, float]:
    from scipy import stats

    m = float(np.mean(values))
    if len(values) < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
    return m, m - half, m + half


def summarize(runs: dict[str, dict], sets: list[str], cands: list[str], seeds: list[int]) -> dict:
    table: dict[str, dict[str, dict]] = {}
    for s in sets:
        for c in cands:
            rows = [runs[f"{s}|{c}|{k}"] for k in seeds if f"{s}|{c}|{k}" in runs]
            vals = [r["test_auroc"] for r in rows]
            if vals:
                m, lo, hi = t_interval(vals)
                cell = {"mean": m, "ci": [lo, hi], "ci_kind": "t over seeds", "n_seeds": len(vals)}
                if len(vals) == 1:  # one seed: the run's own bootstrap interval, if any
                    boot = rows[0].get("test_auroc_ci") if "from" not in rows[0] else None
                    cell["ci"] = boot or [float("nan"), float("nan")]
                    cell["ci_kind"] = "bootstrap (200), one seed" if boot else "none"
                table.setdefault(s, {})[c] = cell
    complete = [c for c in cands if all(c in table.get(s, {}) for s in sets)]
    ranks: dict[str, list[float]] = {c: [] for c in complete}
    for s in sets:
        order = sorted(complete, key=lambda c: -table[s][c]["mean"])
        for r, c in enumerate(order, start=1):
            ranks[c].append(r)
    mean_rank = {c: float(np.mean(v)) for c, v in ranks.items() if v}
    best = min(mean_rank, key=mean_rank.get) if mean_rank else None
    return {"by_set": table, "mean_rank": mean_rank, "winner": best}


def markdown(summary: dict, sets: list[str], cands: list[str]) -> str:
    """The README table: one row per candidate, mean test AUROC [95% CI] per set, mean rank."""
    head = "| candidate | " + " | ".join(sets) + " | mean rank |"
    lines = [head, "| --- " * (len(sets) + 2) + "|"]
    ranks = summary["mean_rank"]
    for c in sorted(cands, key=lambda c: ranks.get(c, 1e9)):
        cells = []
        for s in sets:
            cell = summary["by_set"].get(s, {}).get(c)
            if cell is None:
                cells.append("—")
            elif cell["n_seeds"] < 2 and cell["ci_kind"] == "none":
                cells.append(f"{cell['mean']:.4f}")
            else:
                lo, hi = cell["ci"]
                cells.append(f"{cell['mean']:.4f} [{lo:.4f}, {hi:.4f}]")
        rank = f"{ranks[c]:.2f}" if c in ranks else "—"
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {rank} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", choices=("screen", "final"), default="final")
    parser.add_argument("--candidates", default=None, help="comma list (default: the stage's)")
    parser.add_argument("--sets", default=None, help="comma list (default: the stage's)")
    parser.add_argument("--seeds", default=None, help="e.g. 0,1,2")
    parser.add_argument(
        "--epochs", type=int, default=20, help="cap of recipes without their own (not `auto`)"
    )
    parser.add_argument("--quick", action="store_true", help="800 sequences, 3 epochs, 1 seed")
    parser.add_argument("--work", default="/tmp/cislearn-default-arch")
    parser.add_argument("--results", default="default_arch.json", help="file in results/")
    parser.add_argument("--table", action="store_true", help="print the README table and stop")
    args = parser.parse_args()
    torch.set_num_threads(1)

    screen = args.stage == "screen"
    sets = (args.sets or ",".join(REAL if screen else REAL + SIMULATED)).split(",")
    cands = (args.candidates or ",".join(SCREEN if screen else FINAL)).split(",")
    seeds = [int(s) for s in (args.seeds or ("0" if screen or args.quick else "0,1,2")).split(",")]
    epochs = 3 if args.quick else args.epochs
    path = RESULTS / ("default_arch_quick.json" if args.quick else args.results)
    doc = json.loads(path.read_text()) if path.exists() else {}
    runs: dict[str, dict] = doc.get("runs", {}) if doc.get("epochs") == epochs else {}
    # (signatures with 'v': 2 include the resolved architecture options)

    if args.table:  # the screen is seed 0's
        ss = list(REAL) if screen else list(REAL + SIMULATED)
        have = [0] if screen else sorted({int(k.split("|")[2]) for k in runs})
        print(markdown(summarize(runs, ss, cands, have), ss, cands))
        return

    def save() -> None:
        doc.update(
            benchmark="default model: candidates on real and simulated sets",
            protocol="seeded stratified split per seed: 30% test, 10% valid (from the 70%), "
            "60% train; test AUROC; 95% t-interval over seeds; winner by mean rank over sets",
            epochs=epochs,
            torch_threads=1,
            candidates={c: CANDIDATES[c] for c in CANDIDATES},
            runs=runs,
        )
        for stage, (ss, cc) in {
            "screen": (list(REAL), SCREEN),
            "final": (list(REAL + SIMULATED), FINAL),
        }.items():
            have = [0] if stage == "screen" else sorted({int(k.split("|")[2]) for k in runs})
            doc[stage] = summarize(runs, ss, cc, have)
        RESULTS.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, path)

    loaded: dict[str, cislearn.SequenceDataset] = {}
    for seed in seeds:
        for s in sets:
            if s not in loaded:
                loaded[s] = load_set(s, quick=args.quick)
            ds = split(loaded[s], seed)
            for c in cands:
                key = f"{s}|{c}|{seed}"
                if key in runs:
                    continue
                start = time.perf_counter()
                recipe = CANDIDATES[c]
                if "member_of" in recipe:
                    parent = runs.get(f"{s}|{recipe['member_of']}|{seed}")
                    if parent is None:
                        continue
                    auc = parent.get("member_test_auroc", {}).get(recipe["member"])
                    if auc is None:
                        continue
                    row = {
                        "test_auroc": auc,
                        "from": f"member '{recipe['member']}' of {recipe['member_of']}",
                    }
                elif "baseline" in recipe:
                    row = run_baseline(ds, recipe["baseline"], seed)
                else:
                    sig = signature(recipe, seed, epochs, args.quick)
                    twin = next(
                        (k for k, v in runs.items()
                         if k.startswith(f"{s}|") and k.endswith(f"|{seed}")
                         and v.get("config_signature") == sig),
                        None,
                    )  # fmt: skip
                    if twin is not None:  # same data, split, config and seed: same training
                        row = {**runs[twin], "same_config_as": twin}
                    else:
                        work = Path(args.work) / s / c / str(seed)
                        row = run_deep(ds, recipe, seed, work, epochs, args.quick)
                        row["config_signature"] = sig
                row["seconds"] = time.perf_counter() - start
                runs[key] = row
                save()
                print(
                    f"{key:32s} test AUROC {row['test_auroc']:.4f}  {row['seconds']:6.0f} s",
                    flush=True,
                )
    save()
    summary = doc["screen" if screen else "final"]
    print(json.dumps({"mean_rank": summary["mean_rank"], "winner": summary["winner"]}, indent=1))


if __name__ == "__main__":
    main()

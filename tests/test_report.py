"""Tests of cislearn.report (curves, figures, style) and cislearn.report.html (not qc.py)."""

from __future__ import annotations

import base64
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cislearn.errors import InputError
from cislearn.evaluate import RunSummary, ShortcutResult, compare_runs, evaluate
from cislearn.report import curves, figures, html, style

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = '<script>alert("x")</script>'


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.fixture(scope="module")
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(size=300))))
    return y, p


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    epochs = np.arange(1, 9)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 0.7 * np.exp(-epochs / 3),
            "valid_loss": 0.7 * np.exp(-epochs / 4) + 0.05,
            "valid_auroc": 1 - 0.4 * np.exp(-epochs / 2),
            "lr": 1e-3,
        }
    )


# -- figures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_figs(tmp_path_factory, binary, history) -> dict[str, Path]:
    """The standard figures of a two-target run, drawn once for all tests of this module."""
    y, p = binary
    return figures.write_run_figures(
        tmp_path_factory.mktemp("figures"), task="multilabel", y_true=np.stack([y, 1 - y], 1),
        y_score=np.stack([p, 1 - p], 1), target_names=["a", EVIL], history=history,
        monitor="valid_auroc",
    )  # fmt: skip


def test_run_figures_are_pngs_written_atomically(run_figs) -> None:
    assert list(run_figs) == ["roc", "pr", "calibration", "history"]
    for path in run_figs.values():
        assert_png(path)
    folder = next(iter(run_figs.values())).parent
    assert no_temp_files(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in run_figs.values())


def test_other_figures(tmp_path, binary) -> None:
    y, p = binary
    rng = np.random.default_rng(1)
    a = curves.plot_roc({"m": (y, p)}, tmp_path / "a.png", title=EVIL)
    b = curves.plot_roc({"m": (y, p)}, tmp_path / "b.png", title=EVIL)
    assert a.read_bytes() == b.read_bytes()  # no date/version metadata: reproducible files
    paths = [
        a,
        # "$" would start matplotlib mathtext (this one fails to parse); "_" hides a label
        curves.plot_pr({"a $x^{$": (y, p), "_b": (y[:100], p[:100])}, tmp_path / "pr2.png"),
        figures.plot_regression(p, p + rng.normal(0, 0.1, 300), tmp_path / "reg.png"),
    ]
    many = {f"t{i}": (y, np.roll(p, i)) for i in range(style.MAX_LEGEND + 4)}
    paths.append(curves.plot_roc(many, tmp_path / "many.png"))  # summarised legend
    for path in paths:
        assert_png(path)
    assert no_temp_files(tmp_path)


def test_failed_save_leaves_nothing(tmp_path, binary, monkeypatch) -> None:
    from matplotlib.figure import Figure

    def broken(self, fname, **kwargs):
        Path(fname).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        curves.plot_roc({"m": binary}, tmp_path / "roc.png")
    assert list(tmp_path.iterdir()) == []


def test_bad_figure_input(tmp_path, binary) -> None:
    y, p = binary
    with pytest.raises(InputError, match="single class"):
        curves.plot_roc(
            {"m": (np.ones(10), np.random.default_rng(0).random(10))}, tmp_path / "x.png"
        )
    with pytest.raises(InputError, match="300 labels but 299 scores"):
        curves.plot_pr({"m": (y, p[:-1])}, tmp_path / "x.png")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        curves.plot_calibration(y, p * 3 - 1, tmp_path / "x.png")
    with pytest.raises(InputError, match="empty"):
        figures.plot_history(pd.DataFrame(), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_write_run_figures_regression_and_multiclass(tmp_path) -> None:
    rng = np.random.default_rng(2)
    reg = figures.write_run_figures(
        tmp_path / "reg", task="regression", y_true=rng.normal(size=(50, 2)),
        y_score=rng.normal(size=(50, 2)), target_names=["u", "v/w"],
    )  # fmt: skip
    assert [p.name for p in reg.values()] == ["regression_u.png", "regression_v_w.png"]
    prob = rng.dirichlet([1, 1, 1], 60)
    multi = figures.write_run_figures(
        tmp_path / "mc", task="multiclass", y_true=rng.integers(0, 3, 60), y_score=prob,
        target_names=["x", "y", "z"],
    )  # fmt: skip
    assert list(multi) == ["roc", "pr"]
    for path in [*reg.values(), *multi.values()]:
        assert_png(path)


# -- HTML report --------------------------------------------------------------------------------


def report_kwargs(binary, history, run_figs, shortcut) -> dict:
    y, p = binary
    ev = evaluate(y, p, task="binary", target_names=[EVIL], n_boot=100)
    return {
        "title": f"run {EVIL}",
        "config": {"task": "binary", "model": {"arch": "cnn", "filters": 128}, "out": Path("runs")},
        "metrics": ev.metrics,
        "shortcut": shortcut,
        "history": history,
        "figures": run_figs,
        "data_summary": {
            "first_id": EVIL,
            "pos": "https://example.org/pos.fa",
            "split_counts": {"train": {"0": 10, "1": 12}, "test": {"0": 3, "1": 4}},
        },
        "versions": {"cislearn": "0.1.0", "seed": 0, "files": {"pos.fa": "ab12" * 16}},
    }


def test_template_ships_as_package_data() -> None:
    folder = resources.files("cislearn.report").joinpath("templates")
    assert folder.joinpath("report.html.j2").is_file()
    assert folder.joinpath("compare.html.j2").is_file()


def test_report_is_escaped_and_self_contained(tmp_path, binary, history, run_figs) -> None:
    warn = ShortcutResult(0.91, 0.92, 0.02, "the model beats a composition-only model by only "
                          "0.010 AUROC: it may be learning GC", note="fitted on 22")  # fmt: skip
    kwargs = report_kwargs(binary, history, run_figs, warn)
    path = html.write_run_report(tmp_path, **kwargs)
    assert path == tmp_path / "report.html" and no_temp_files(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text.lower()  # user text escaped, and the page has no script
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    # every image is an embedded PNG; nothing is fetched from the network
    uris = re.findall(r'<img src="([^"]+)"', text)
    assert len(uris) == len(kwargs["figures"]) == 4
    for uri in uris:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == PNG_MAGIC
    assert not re.search(r'(src|href)="https?://', text)
    assert not re.search(r"url\(\s*['\"]?https?:", text) and "@import" not in text
    # sections
    assert 'class="box warn"' in text and "only 0.010 AUROC" in text
    assert "cnn" in text and "filters: 128" in text  # resolved config as YAML
    assert "ab12ab12" in text and "files.pos.fa" in text  # provenance flattened
    assert "<td>train</td>" in text  # split counts table
    assert "valid_auroc" in text  # history table


def test_report_shortcut_states(tmp_path, binary, history, run_figs) -> None:
    ok = ShortcutResult(0.70, 0.98, 0.02, None, note="fitted")
    text = html.render_run_report(**report_kwargs(binary, history, run_figs, ok))
    assert 'class="box ok"' in text and 'class="box warn"' not in text and "0.700" in text
    na = ShortcutResult(None, None, 0.02, None, applicable=False, note="task is regression")
    text = html.render_run_report(**report_kwargs(binary, history, run_figs, na))
    assert 'class="box na"' in text and "task is regression" in text
    text = html.render_run_report(**{**report_kwargs(binary, history, run_figs, None),
                                     "history": None, "figures": {}})  # fmt: skip
    assert "Not run." in text and "No figures." in text and "No training history" in text


def test_missing_figure_is_noted_not_fatal(tmp_path, binary, history, run_figs) -> None:
    kwargs = report_kwargs(binary, history, run_figs, None)
    kwargs["figures"] = {"roc": tmp_path / "gone.png"}
    text = html.render_run_report(**kwargs)
    assert "figure missing" in text and "<img" not in text


def test_comparison_page(tmp_path, binary) -> None:
    y, p = binary
    ev = evaluate(y, p, task="binary", target_names=["bound"], n_boot=50)
    runs = [RunSummary(EVIL, ev.metrics, y, p), RunSummary("lasso", ev.metrics, y, 1 - p)]
    figs = figures.write_comparison_figures(runs, tmp_path / "figures")
    assert list(figs) == ["roc", "pr"]
    path = html.write_comparison(tmp_path, compare_runs(runs), figs)
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "&lt;script&gt;" in text
    assert text.count("data:image/png;base64,") == 2 and "lasso" in text
    assert not re.search(r'(src|href)="https?://', text)

"""The typer app and the option helpers shared by every command module of the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="cislearn",
    help="Deep learning on DNA sequences for regulatory genomics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich formatting would add ~0.2 s to every `cislearn --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from cislearn import __version__

        typer.echo(f"cislearn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Deep learning on DNA sequences for regulatory genomics."""


class NegMethod(StrEnum):
    genomic = "genomic"
    shuffle = "shuffle"
    none = "none"


class SplitMethod(StrEnum):
    random = "random"
    chromosome = "chromosome"


class Anchor(StrEnum):
    summit = "summit"
    center = "center"


def echo(text: str) -> None:
    typer.echo(text)


def count(n: int, noun: str) -> str:
    """``1 sequence``, ``2 sequences``, ``1,000 variants``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def chroms(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else ()


Opt = typer.Option

#: The ``--force`` flag of every command that writes results.
Force = Annotated[
    bool, Opt("--force", help="Write into a non-empty output folder (or over a file) anyway.")
]


#: What ``--arch`` accepts, for help texts without importing torch (a test checks it against
#: ``cislearn.models.registry.ARCHITECTURES``).
ARCHS = (
    "cnn", "cnn-multi", "cnn-deep", "lstm", "cnn-lstm", "basset", "resnet", "transformer",
    "hybrid", "layers", "graph", "wide-deep",
)  # fmt: skip


def key_opt(
    help: str, default: object = None, choices: tuple[str, ...] = ()
) -> typer.models.OptionInfo:
    """An option of a config key, its help naming the allowed values and the config's default
    (the flag itself defaults to None, "not given"; a test checks both against ``TrainConfig``)."""
    text = help + (f" One of: {', '.join(choices)}." if choices else "")
    if default not in (None, ()):
        text += f" Default: {str(default).lower() if isinstance(default, bool) else default}."
    return Opt(help=text, show_default=False)


def _seed(value: int | None) -> int | None:
    if value is not None:
        from cislearn.config import check_seed

        check_seed(value, name="--seed")
    return value


def seed_opt(help: str = "Random seed.", default: int | None = None) -> typer.models.OptionInfo:
    """The ``--seed`` option: range-checked by :func:`cislearn.config.check_seed`."""
    text = f"{help} 0 to 2**32 - 1." + ("" if default is None else f" Default: {default}.")
    return Opt(help=text, callback=_seed, show_default=default is None)


def out_dir(out: Path, command: str, force: bool, resume: bool | None = None, keep=None):
    """The output folder of a command (:func:`cislearn.io.atomic.output_dir`): refuses a
    non-empty folder without ``--force``/``--resume``; removes it again if the command fails."""
    from cislearn.io.atomic import output_dir

    return output_dir(out, command, force=force, resume=resume, keep=keep)


#: ``TrainConfig`` fields without a flag of their own (set with ``--set model.KEY=VALUE``).
#: Every other field is an option of ``cislearn train`` under the same name (a test checks it).
NO_FLAG = ("model",)


def train_keys() -> tuple[str, ...]:
    """The training keys that are ``cislearn train`` flags: ``TrainConfig``'s fields, in order."""
    from cislearn.config import TrainConfig

    return tuple(k for k in TrainConfig.model_fields if k not in NO_FLAG)


def parse_set(items: list[str] | None) -> dict:
    """``--set model.filters=64 --set lr=0.01`` → nested overrides (values parsed as YAML)."""
    import yaml

    from cislearn.errors import ConfigError

    out: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. model.filters=64); got '{item}'")
        value = yaml.safe_load(text)
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def train_config(config: Path | None, given: dict, sets: list[str] | None):
    from cislearn.config import load_config, resolve_config

    overrides = {k: given[k] for k in train_keys() if given.get(k) is not None}
    for key in ("valid_chroms", "test_chroms"):
        if key in overrides:
            overrides[key] = chroms(overrides[key])
    if isinstance(overrides.get("devices"), str) and overrides["devices"].isdigit():
        overrides["devices"] = int(overrides["devices"])
    for key, value in parse_set(sets).items():
        if key == "model" and isinstance(overrides.get("model"), dict):
            overrides["model"].update(value)
        else:
            overrides[key] = value
    file_values = load_config(config) if config is not None else {}
    return resolve_config(file_values, overrides, source=str(config) if config else None)


def epoch_bars():
    from cislearn.cli.progress import ProgressBars

    return ProgressBars()


#: Help of ``--valid-fraction`` (train, baseline, benchmark).
VALID_HELP = (
    "Validation fraction (carved from the training records when the split has none; "
    "0: none, with a warning)."
)

#: Help of ``--drop-leaked``.
DROP_HELP = "Drop held-out records whose sequence also occurs in an earlier split."


def echo_notes(notes: Sequence[str]) -> None:
    """Print a run's notes, one per line; warnings keep their own ``warning:`` prefix."""
    for note in notes:
        echo(note if note.startswith(("warning:", "stopped early", "ran ")) else f"note: {note}")


def metrics_line(result) -> str:
    parts = []
    for target, values in result.metrics.items():
        shown = [
            f"{k}={values[k]:.3f}"
            for k in ("auroc", "auprc", "accuracy", "pearson", "spearman")
            if isinstance(values, dict) and isinstance(values.get(k), float)
        ]
        parts.append(f"{target}: " + " ".join(shown))
    if result.shortcut is not None and result.shortcut.auroc is not None:
        parts.append(f"composition-only auroc={result.shortcut.auroc:.3f}")
    return "held-out " + "; ".join(parts)

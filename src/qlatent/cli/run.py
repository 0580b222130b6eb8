"""``qlatent run CONFIG`` and ``qlatent report RUNDIR``: experiments from the command line.

``run`` validates everything (the config file, every override, the device, the latents and
their parameters) before the experiment folder is created, so a typo costs one line on stderr
and leaves nothing behind.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import typer

from qlatent.cli.choices import LATENT_NAMES, PRECISIONS
from qlatent.cli.root import app

# Choices of click (shown in --help, a usage error otherwise), copies of the library's tuples.
Precision = Literal[PRECISIONS]
Executor = Literal[("local", "ray")]
LogTo = Literal[("tensorboard",)]


def _latent_names() -> tuple[str, ...]:
    return LATENT_NAMES


def _latent_tables(config: Path) -> tuple[str, ...]:
    """The ``[latent_params]`` table names of the config file (zoo families have labels of
    their own); the file is read again, and checked, by ``load_config``."""
    try:
        with open(config, "rb") as handle:
            params = tomllib.load(handle).get("latent_params", {})
    except (OSError, tomllib.TOMLDecodeError):
        return ()  # load_config says what is wrong with the file
    return tuple(params) if isinstance(params, dict) else ()


def _split(option: str, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise ValueError(f"{option} must be a comma-separated list of names, got {text!r}")
    return names


def _check_extras(executor: str, log_to: str | None) -> None:
    """The optional packages the options need are installed (checked before any folder)."""
    import importlib.util  # CLI start-up

    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise ImportError("--executor ray needs Ray: pip install 'qlatent[cluster]'")
    if log_to is not None and importlib.util.find_spec("tensorboard") is None:
        raise ImportError("--log-to tensorboard needs the tensorboard package: "
                          "pip install 'qlatent[tracking]'")


def _check_positive(option: str, value: int | None) -> None:
    from qlatent._validation import check_int  # CLI start-up

    if value is not None:
        check_int(option, value, minimum=1)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(
        help="Experiment TOML (e.g. configs/paper/table1.toml).")],
    seeds: Annotated[str | None, typer.Option(
        help="Seeds to run, e.g. '0-11' or '0,3,5-7' (default: the config's).")] = None,
    latents: Annotated[str | None, typer.Option(
        help="Comma-separated latents, in run order (default: the config's); names: "
        + ", ".join(_latent_names()) + ".")] = None,
    datasets: Annotated[str | None, typer.Option(
        help="Comma-separated datasets (default: the config's).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Experiment directory (default: runs/<config file name>).")] = None,
    device: Annotated[str, typer.Option(
        help="Torch device: cpu, cuda or cuda:K (checked before anything is written).")
    ] = "cpu",
    steps: Annotated[int | None, typer.Option(
        help="Override [train] steps, the number of generator steps (at least 1).")] = None,
    precision: Annotated[Precision | None, typer.Option(
        help="Override [train] precision: fp32, or bf16 (mixed precision: faster only on a "
        "CPU with native bf16, AVX512-BF16 or AMX, much slower without; it changes the "
        "results).")] = None,
    progress: Annotated[bool, typer.Option(help="Show the training progress bar.")] = True,
    threads: Annotated[int | None, typer.Option(
        help="Torch CPU threads for training, at least 1 (default: $OMP_NUM_THREADS if set, "
        "else torch's default; with Ray: 1), and the CPUs of each Ray task.")] = None,
    executor: Annotated[Executor, typer.Option(
        help="local (cells one after the other here) or ray (every pack or lone cell a Ray "
        "task, on the cluster at $RAY_ADDRESS or on this machine; needs the [cluster] extra, "
        "pip install 'qlatent[cluster]').")] = "local",
    pack: Annotated[str, typer.Option(
        help="Train up to N pending cells that share an architecture as one batched model (a "
        "pack; each cell still follows its solo run and gets its own directory), or 'auto': "
        "as many as the device's free memory holds. 1 (default) trains every cell alone. A "
        "pack that does not fit is refused before anything is written.")] = "1",
    gpus_per_task: Annotated[float | None, typer.Option(
        help="With --executor ray and --device cuda: the GPUs each Ray task asks for, e.g. "
        "0.25 (four packs share a GPU) or 2; default 1.")] = None,
    log_to: Annotated[LogTo | None, typer.Option(
        help="Also log the losses for an experiment tracker: tensorboard (event files in "
        "each cell directory; needs the tensorboard package).")] = None,
) -> None:
    """Run every (dataset, latent, seed) cell of CONFIG.

    Done cells are skipped; interrupted ones resume from their checkpoint. Every name and
    value is checked before the experiment directory is created.
    """
    _check_positive("--steps", steps)
    _check_positive("--threads", threads)
    # CLI start-up: the library (torch) only after the checks that do not need it
    from rich.console import Console
    from rich.markup import escape

    from qlatent.experiments.config import load_config
    from qlatent.experiments.executors import RunOptions, run_grid
    from qlatent.experiments.grid import parse_seeds

    class CommandLineOptions(RunOptions):
        OPTION_NAMES = {"device": "--device", "threads": "--threads", "pack": "--pack",
                        "gpus_per_task": "--gpus-per-task", "log_to": "--log-to",
                        "executor": "--executor", "progress": "--progress"}

    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = max(1, int(os.environ["OMP_NUM_THREADS"]))
    # Each option is checked here, once, under its own name; the runner takes them as made.
    options = CommandLineOptions(device=device, progress=progress, threads=threads,
                                 executor=executor, log_to=() if log_to is None else (log_to,),
                                 pack=pack, gpus_per_task=gpus_per_task)
    _check_extras(executor, log_to)
    try:
        seed_list = None if seeds is None else parse_seeds(seeds)
    except ValueError as err:
        raise ValueError(f"--seeds: {err}") from err
    names = _split("--latents", latents)
    if names is not None:
        # the registry's names, and the labels the config gives its own tables (zoo families)
        valid = tuple(dict.fromkeys((*_latent_names(), *_latent_tables(config))))
        bad = [n for n in names if n not in valid]
        if bad:
            raise ValueError(f"--latents: unknown latent(s) {', '.join(map(repr, bad))}; "
                             f"valid names: {', '.join(valid)}")
    # The file and the overrides make one config, checked once: names, every
    # [latent_params.X] at every latent length, the task's tables; no bank is built.
    cfg = load_config(config, seeds=seed_list, latents=names,
                      datasets=_split("--datasets", datasets), steps=steps, precision=precision)
    out = out or Path("runs") / config.stem
    console = Console()
    console.print(f"[bold]{escape(cfg.name)}[/bold]: {len(cfg.seeds)} seed(s) x {len(cfg.latents)} "
                  f"latent(s) x {len(cfg.datasets)} dataset(s) x {len(cfg.latent_dims)} size(s), "
                  f"{cfg.train.steps} steps -> {escape(str(out))}")
    run_grid(cfg, out, options, console=console)
    console.print(f"done; `qlatent report {escape(str(out))}` writes the tables")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(
        help="An experiment directory made by `qlatent run`.")],
    anchor: Annotated[str, typer.Option(
        help="The latent the paired tests compare every other latent with (a name of the "
             "grid's experiment.latents, e.g. a trained variant).")] = "quantum",
) -> None:
    """Print and write RUN_DIR/report.md, CSV, LaTeX and figures in the paper's layout.

    Mean ± SE and 95 % CI over seeds, the published numbers beside ours, paired tests of the
    anchor latent (default: quantum) against every other.
    """
    if not run_dir.is_dir():
        raise FileNotFoundError(f"RUN_DIR: no such folder: {run_dir}")
    # CLI start-up
    from rich.console import Console

    from qlatent.experiments.report import write_report

    write_report(run_dir, console=Console(), anchor=anchor)

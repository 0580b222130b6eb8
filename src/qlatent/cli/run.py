"""``qlatent run CONFIG`` and ``qlatent report RUNDIR``: experiments from the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qlatent.cli import app


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise typer.BadParameter(f"expected a comma-separated list of names, got {text!r}")
    return names


@app.command()
def run(
    config: Annotated[Path, typer.Argument(
        help="Experiment TOML (e.g. configs/paper/table1.toml).")],
    seeds: Annotated[str | None, typer.Option(
        help="Seeds to run, e.g. '0-11' or '0,3,5-7' (default: the config's).")] = None,
    latents: Annotated[str | None, typer.Option(
        help="Comma-separated latents, in run order (default: the config's).")] = None,
    datasets: Annotated[str | None, typer.Option(
        help="Comma-separated datasets (default: the config's).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Experiment directory (default: runs/<config file name>).")] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu or cuda.")] = "cpu",
    steps: Annotated[int | None, typer.Option(
        min=0, help="Override the number of generator steps.")] = None,
    precision: Annotated[str | None, typer.Option(
        help="Override [train] precision: fp32, or bf16 (mixed precision, 2x faster on a "
        "CPU with AVX512-BF16; it changes the results).")] = None,
    progress: Annotated[bool, typer.Option(help="Show the training progress bar.")] = True,
    threads: Annotated[int | None, typer.Option(
        min=1, help="Torch CPU threads for training (default: $OMP_NUM_THREADS if set, "
        "else torch's default; with Ray: 1), and the CPUs of each Ray task.")] = None,
    executor: Annotated[str, typer.Option(
        help="local (cells one after the other here) or ray (every pending cell a Ray task, "
        "on the cluster at $RAY_ADDRESS or on this machine; needs qlatent[cluster]).")
    ] = "local",
) -> None:
    """Run every (dataset, latent, seed) cell of CONFIG.

    Done cells are skipped; interrupted ones resume from their checkpoint.
    """
    from rich.console import Console

    from qlatent._validation import check_choice
    from qlatent.experiments.config import load_config
    from qlatent.experiments.runner import EXECUTORS, parse_seeds, run_experiment, select

    try:
        check_choice("--executor", executor, EXECUTORS)
        cfg = load_config(config)
        cfg = select(cfg, seeds=None if seeds is None else parse_seeds(seeds),
                     latents=_split(latents), datasets=_split(datasets), steps=steps,
                     precision=precision)
        from qlatent.experiments.tasks import get_task

        get_task(cfg.task).check(cfg)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err)) from err
    out = out or Path("runs") / config.stem
    console = Console()
    console.print(f"[bold]{cfg.name}[/bold]: {len(cfg.seeds)} seed(s) x {len(cfg.latents)} "
                  f"latent(s) x {len(cfg.datasets)} dataset(s) x {len(cfg.latent_dims)} size(s), "
                  f"{cfg.train.steps} steps -> {out}")
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    run_experiment(cfg, out, device=device, console=console, progress=progress,
                   threads=threads, executor=executor)
    console.print(f"done; `qlatent report {out}` writes the tables")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(
        help="An experiment directory made by `qlatent run`.")],
) -> None:
    """Print and write RUN_DIR/report.md, CSV, LaTeX and figures in the paper's layout.

    Mean ± SE and 95 % CI over seeds, the published numbers beside ours, paired tests of the
    quantum latent against every other.
    """
    from rich.console import Console

    from qlatent.experiments.report import write_report

    try:
        write_report(run_dir, console=Console())
    except (FileNotFoundError, ValueError) as err:  # corrupt files: one line naming the file
        raise typer.BadParameter(str(err)) from err

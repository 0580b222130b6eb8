"""Choose each trained latent's learning rate on held-out seeds (issue 22 part 4, Q2).

    .venv/bin/python benchmarks/select_latent_lr.py RUN [--metric NAME] [--apply-to CONFIG]

RUN is a ``qlatent run`` folder of a *selection* config: each trained latent as named variants
that differ only in ``latent_lr`` (e.g. ``configs/trained/ring_lr_selection.toml``), run on
seeds the test run does not use. Variants with the same registered latent and the same other
parameters form one *family*; for each family and data set this prints the mean ± SE (n seeds)
of the metric (default: the task's first) at every rate, and chooses the rate with the best
mean: a selection rule, not a test (the held-out seeds are few; the test run's seeds judge the
result). With ``--apply-to CONFIG`` it also prints the ``latent_lr = <rate>`` line for each
latent of CONFIG whose family was selected (over its data sets, the rate with the best mean
rank), to add to that latent's ``[latent_params.<latent>]`` table in CONFIG.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qlatent import latents
from qlatent.experiments.cell import read_metrics
from qlatent.experiments.config import ExperimentConfig, load_config
from qlatent.experiments.stats import summarize
from qlatent.experiments.tasks import get_task, latent_request
from qlatent.metrics import direction


def family(config: ExperimentConfig, latent: str) -> str:
    """The registered latent and its parameters but ``latent_lr``, e.g. ``born(kind='quantum')``."""
    name, params = latent_request(latent, config.latent_params.get(latent, {}))
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})"


def scores(run: Path, config: ExperimentConfig, metric: str
           ) -> dict[tuple[str, str, float], list[float]]:
    """``(dataset, family, latent_lr)`` -> the metric of every finished cell (over seeds and
    latent lengths) of the trained latents (``latent_lr > 0``) of ``run``."""
    out: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for latent in config.latents:
        lr = config.train_for(latent).latent_lr
        if lr == 0:
            continue
        for path in sorted(run.glob(f"*/{latent}-L*/seed-*/metrics.json")):
            values = read_metrics(path.parent)
            if metric not in values:
                raise SystemExit(f"{path}: no metric {metric!r}; it has {', '.join(values)}")
            dataset = path.parts[-4]
            out[dataset, family(config, latent), lr].append(float(values[metric]))
    if not out:
        raise SystemExit(f"RUN: no finished cell of a trained latent (latent_lr > 0) under {run}")
    return out


def choose(values: Mapping[tuple[str, str, float], list[float]], higher_is_better: bool
           ) -> dict[tuple[str, str], float]:
    """``(dataset, family)`` -> the rate with the best mean (ties: the smaller rate)."""
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for (dataset, fam, lr), xs in sorted(values.items()):
        mean = float(np.mean(xs)) * (-1 if higher_is_better else 1)
        if (dataset, fam) not in best or mean < best[dataset, fam][0]:
            best[dataset, fam] = (mean, lr)
    return {key: lr for key, (_, lr) in best.items()}


def choose_over_datasets(values: Mapping[tuple[str, str, float], list[float]],
                         higher_is_better: bool) -> dict[str, float]:
    """family -> the rate with the best mean rank over the data sets (ties: the smaller rate)."""
    ranks: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(list))
    by_key: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for (dataset, fam, lr), xs in values.items():
        by_key[dataset, fam].append((float(np.mean(xs)) * (-1 if higher_is_better else 1), lr))
    for (_, fam), rows in by_key.items():
        for rank, (_, lr) in enumerate(sorted(rows)):
            ranks[fam][lr].append(rank)
    return {fam: min(rates, key=lambda lr: (float(np.mean(rates[lr])), lr))
            for fam, rates in ranks.items()}


def table(values: Mapping[tuple[str, str, float], list[float]], chosen: Mapping[Any, float],
          metric: str) -> str:
    lines = [f"| data set | family | latent_lr | n | {metric} mean ± SE | chosen |",
             "|---|---|---|---|---|---|"]
    for (dataset, fam, lr), xs in sorted(values.items()):
        mark = "**yes**" if chosen[dataset, fam] == lr else ""
        lines.append(f"| {dataset} | `{fam}` | {lr:g} | {len(xs)} | "
                     f"{summarize(xs).format(count=False)} | {mark} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--metric", help="metric to select on (default: the task's first)")
    parser.add_argument("--apply-to", type=Path, metavar="CONFIG",
                        help="print the latent_lr lines for this (test) config's latents")
    args = parser.parse_args()
    if not (args.run / "config.toml").is_file():
        raise SystemExit(f"RUN must be a qlatent run folder with a config.toml, got {args.run}")
    config = load_config(args.run / "config.toml")
    metric = args.metric or get_task(config.task).metrics[0].name
    higher = direction(metric)
    if higher is None:
        raise SystemExit(f"--metric: {metric!r} has no better direction to select on")
    values = scores(args.run, config, metric)
    print(f"Selection run {args.run} ({len(set(config.seeds))} held-out seed(s) planned: "
          f"{', '.join(map(str, config.seeds))}); best mean {metric} "
          f"({'higher' if higher else 'lower'} is better) per data set and family:\n")
    print(table(values, choose(values, higher), metric))
    if args.apply_to is not None:
        test = load_config(args.apply_to)
        overlap = sorted(set(config.seeds) & set(test.seeds))
        if overlap:
            raise SystemExit(f"--apply-to: {args.apply_to} runs seeds {overlap} that the "
                             "selection used; a rate chosen on them would be judged on them")
        rates = choose_over_datasets(values, higher)
        print(f"\nFor {args.apply_to} (over the data sets: the best mean rank), a line for "
              "each trained latent's table:\n")
        for latent in test.latents:
            fam = family(test, latent)
            if fam in rates:
                print(f"latent_lr = {rates[fam]:g}    # in [latent_params.{latent}]: {fam}")
            elif latents.trainable(latent_request(latent, test.latent_params.get(latent, {}))[0]):
                print(f"# {latent} ({fam}): trained, but not in the selection run")


if __name__ == "__main__":
    main()

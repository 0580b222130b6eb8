"""Demo section: the paper's two synthetic experiments at a tiny budget (about a minute).

Trains the quick seven-Gaussian ring (Fig. 1–2) and the quick Table I on quantum data, one seed
and the four latents each, with the runner and report the full experiments use
(``qlatent run configs/paper/...``), and prints their tables. The budgets are far too small
for conclusions; they show the pipeline end to end.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from qlatent.experiments.config import load_config
from qlatent.experiments.report import build_report, write_report
from qlatent.experiments.runner import run_experiment, select

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "paper"
RING_STEPS = 300
TABLE1_STEPS = 60


def _config(name: str):
    path = CONFIGS / name
    if not path.is_file():  # installed without the source tree: the packaged copy is absent
        raise FileNotFoundError(f"demo config {path} not found (run from the source tree)")
    return load_config(path)


def tour(out_dir: Path, console: Console) -> None:
    """Train the quick ring and the quick Table I (quantum data) and print their tables."""
    console.rule("[bold]Synthetic experiments: seven-Gaussian ring and Table I (tiny budget)")
    ring = select(_config("fig2_ring_quick.toml"), seeds=(0,), steps=RING_STEPS)
    ring = ring.replace(task_params={**ring.task_params, "n_eval": 2000, "n_mmd": 500})
    ring_dir = Path(out_dir) / "ring_quick"
    run_experiment(ring, ring_dir, console=console, progress=False)
    write_report(ring_dir)
    console.print(_table_only(build_report(ring_dir)[0]))
    table1 = select(_config("table1_quick.toml"), seeds=(0,), datasets=("quantum",),
                    steps=TABLE1_STEPS)
    table1 = table1.replace(task_params={**table1.task_params, "n_eval": 2000})
    t1_dir = Path(out_dir) / "table1_quick"
    run_experiment(table1, t1_dir, console=console, progress=False)
    write_report(t1_dir)
    console.print(_table_only(build_report(t1_dir)[0]))
    console.print(f"reports: {ring_dir / 'report.md'}, {t1_dir / 'report.md'} "
                  f"(figure: {ring_dir / 'ring_samples.png'}); full scale: "
                  "`qlatent run configs/paper/table1.toml`")


def _table_only(markdown: str) -> str:
    """The 'All metrics' table of a report, as plain text for the console."""
    lines = markdown.splitlines()
    start = lines.index("## All metrics")
    out = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        out.append(line)
    return "\n".join(out)

"""Demo section: the paper's two synthetic experiments at a tiny budget (about a minute).

Trains the quick seven-Gaussian ring (Fig. 1–2) and the quick Table I on quantum data, one seed
and the four latents each, with the runner and report the full experiments use
(``qlatent run configs/paper/...``), and prints their tables. The budgets are far too small
for conclusions; they show the pipeline end to end.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.executors import run_experiment
from qlatent.experiments.report import build_report, write_report
from qlatent.train import Config

RING_STEPS = 300
TABLE1_STEPS = 60
BANK_SAMPLES = 20_000
LATENTS = ("gaussian", "bernoulli", "photonic", "quantum")


def _latent_params(circuit: str, bank_samples: int) -> dict[str, dict[str, object]]:
    # The quick configs' latents: banks of the given circuit, every latent centred.
    bank = {"circuit": circuit, "n_samples": bank_samples, "normalize": "center"}
    return {"quantum": bank, "photonic": bank, "bernoulli": {"normalize": "center"},
            "gaussian": {"normalize": "center"}}


def ring_config(steps: int = RING_STEPS, bank_samples: int = BANK_SAMPLES) -> ExperimentConfig:
    """``configs/paper/fig2_ring_quick.toml`` at seed 0, ``steps`` steps, smaller scores."""
    return ExperimentConfig(
        name="Fig. 2 ring (quick)", task="ring", datasets=("ring",), latents=LATENTS,
        seeds=(0,), latent_params=_latent_params("1-3-9", bank_samples),
        model={"hidden": [256, 256], "activation": "leaky_relu", "generator": "mlp"},
        train=Config(steps=steps, batch_size=32, n_critic=5, gp_weight=10.0,
                     loss="wgan-gp", optimizer="adam", lr=5e-4, betas=(0.0, 0.9),
                     checkpoint_every=500, log_every=100),
        task_params={"n_eval": 2000, "n_mmd": 500})


def table1_config(steps: int = TABLE1_STEPS,
                  bank_samples: int = BANK_SAMPLES) -> ExperimentConfig:
    """``configs/paper/table1_quick.toml`` at seed 0 on quantum data, ``steps`` steps."""
    return ExperimentConfig(
        name="Table I (quick)", task="table1", datasets=("quantum",), latents=LATENTS,
        seeds=(0,), latent_params=_latent_params("haar", bank_samples),
        model={"hidden": [256, 256], "activation": "relu", "generator": "mlp"},
        train=Config(steps=steps, batch_size=64, n_critic=5, gp_weight=10.0,
                     loss="wgan-gp", optimizer="rmsprop", lr=5e-4, betas=(0.0, 0.9),
                     checkpoint_every=250, log_every=50),
        task_params={"n_modes": 16, "n_photons": 8, "data_samples": bank_samples,
                     "n_eval": 2000})


def tour(out_dir: Path, console: Console, *, ring_steps: int = RING_STEPS,
         table1_steps: int = TABLE1_STEPS, bank_samples: int = BANK_SAMPLES) -> None:
    """Train the quick ring and the quick Table I (quantum data) and print their tables
    (``bank_samples``: rows of the latent banks and of Table I's data bank)."""
    ring = ring_config(ring_steps, bank_samples)
    table1 = table1_config(table1_steps, bank_samples)
    console.rule("[bold]Synthetic experiments: seven-Gaussian ring and Table I (tiny budget)")
    ring_dir = Path(out_dir) / "ring_quick"
    run_experiment(ring, ring_dir, console=console, progress=False)
    write_report(ring_dir)
    console.print(_table_only(build_report(ring_dir)[0]))
    t1_dir = Path(out_dir) / "table1_quick"
    run_experiment(table1, t1_dir, console=console, progress=False)
    write_report(t1_dir)
    console.print(_table_only(build_report(t1_dir)[0]))
    console.print(
        f"[bold]Read these rows as a pipeline check, not a result:[/bold] one seed (no error "
        f"bar, no test) and {ring_steps} / {table1_steps} steps, where the paper trains 5,000 "
        "(ring, 5 seeds) and 40,000 (Table I, 12 seeds). These rows cannot say which latent is "
        "better, and they are not comparable with the reference column beside them. The zoo "
        "part shows an effect that is real at demo budget, over 5 seeds.")
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

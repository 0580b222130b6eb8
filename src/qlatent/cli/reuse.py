"""``qlatent sample CELL_DIR`` and ``qlatent evaluate FILE.smi``: reuse what was trained.

    qlatent sample runs/table2/qm9/quantum-L16/seed-0 -n 10000 -o mols.smi [--seed 0]
    qlatent sample runs/fig2_ring_quick/ring/quantum-L16/seed-0 -n 5000 -o ring.npy
    qlatent evaluate mols.smi [--reference qm9 | --reference train.smi] [--no-fcd] [--json m.json]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from qlatent.cli.root import app

SUFFIXES = (".smi", ".npy")


@app.command()
def sample(
    cell_dir: Annotated[Path, typer.Argument(
        help="A cell directory made by `qlatent run`: "
        "<experiment>/<dataset>/<latent>-L<dim>/seed-<k>.")],
    n: Annotated[int, typer.Option(
        "-n", "--n-samples", help="Number of samples to draw (at least 1).")],
    output: Annotated[Path, typer.Option(
        "-o", "--output",
        help="Output file; its suffix must fit the task: .smi for qm9 cells (one SMILES per "
        "line, exactly as decoded: fragments joined by '.', an EMPTY line where the graph is "
        "not a molecule), .npy for ring and table1 cells (float32[n, d], no pickle).")],
    seed: Annotated[int, typer.Option(help="Seed of the latent draws.")] = 0,
) -> None:
    """Draw samples from the trained generator of CELL_DIR into a file (written atomically)."""
    from qlatent._validation import check_int  # CLI start-up

    check_int("-n", n, minimum=1)
    check_int("--seed", seed, minimum=0)
    if output.suffix not in SUFFIXES:
        raise ValueError(f"-o must end in {' or '.join(SUFFIXES)}; got {str(output)!r}")
    if output.is_dir():
        raise ValueError(f"-o must be a file, got the folder {str(output)!r}")
    # CLI start-up: the library (torch) only after the checks that do not need it
    import numpy as np

    from qlatent._io import atomic_write, atomic_write_text
    from qlatent.experiments.reuse import SAMPLE_SUFFIX, load_run, read_cell

    config, cell, _ = read_cell(cell_dir)
    expected = SAMPLE_SUFFIX.get(config.task, ".npy")
    if output.suffix != expected:
        raise ValueError(f"-o: a {config.task} cell writes {expected} files, got "
                         f"{str(output)!r}")
    run = load_run(cell_dir)
    samples = run.sample(n, seed=seed)
    if isinstance(samples, np.ndarray):
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, samples, allow_pickle=False)

        atomic_write(output, write)
        what = f"{samples.dtype} array {samples.shape[0]} x {samples.shape[1]}"
    else:
        atomic_write_text(output, "".join(s + "\n" for s in samples))
        what = f"{len(samples)} SMILES ({sum(not s for s in samples)} not a molecule: empty line)"
    note = "" if run.finished else (f" (unfinished cell: checkpoint at step {run.step} of "
                                    f"{run.steps})")
    typer.echo(f"{output}: {what} from {cell.key}, seed {seed}{note}")


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(
        help="SMILES file: one sample per line (the first field of each line; an empty line "
        "is a sample that is not a molecule; a first line 'smiles' is a header).")],
    reference: Annotated[str, typer.Option(
        help="Reference set for novelty and FCD: qm9 (the QM9 training split; the [chem] "
        "extra) or a SMILES file.")] = "qm9",
    fcd: Annotated[bool, typer.Option(
        "--fcd/--no-fcd", help="Compute the FCD (ChemNet) against the reference's cached "
        "statistics.")] = True,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Also write the metrics as JSON to this file.")] = None,
) -> None:
    """Strict validity, uniqueness (over valid), novelty and FCD of any SMILES file.

    Validity: one connected, sanitisable molecule without dummy atoms, over all lines.
    Uniqueness: distinct valid / valid. Novelty: distinct valid not in the reference /
    distinct valid.
    """
    if json_path is not None and json_path.is_dir():
        raise ValueError(f"--json must be a file, got the folder {str(json_path)!r}")
    # CLI start-up
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from qlatent._io import atomic_write_json
    from qlatent.experiments.reuse import evaluate_smiles, read_smiles_file

    smiles = read_smiles_file(file)
    result = evaluate_smiles(smiles, reference=reference, fcd=fcd)
    m = result["metrics"]
    table = Table(title=escape(f"{file} against {result['reference']}"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [("samples", f"{m['n_samples']:.0f}"),
            ("valid", f"{m['n_valid']:.0f}"),
            ("validity", f"{m['validity']:.4f}"),
            ("valid & unique", f"{m['n_valid_unique']:.0f}"),
            ("uniqueness", f"{m['uniqueness']:.4f}"),
            ("novel", f"{m['n_novel']:.0f}"),
            ("novelty", f"{m['novelty']:.4f}"),
            ("FCD", escape(result["fcd_note"]) if math.isnan(m["fcd"]) else f"{m['fcd']:.4f}")]
    for name, value in rows:
        table.add_row(name, value)
    Console(highlight=False).print(table)
    if json_path is not None:
        record = {"file": str(file), **result,
                  "metrics": {k: None if isinstance(v, float) and math.isnan(v) else v
                              for k, v in m.items()}}
        atomic_write_json(json_path, record)

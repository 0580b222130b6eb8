"""``qlatent export CELL_DIR --to qasm|qiskit|pennylane|perceval [-o FILE]``: deploy the circuits a
cell trained (``qlatent.interop``).

    qlatent export runs/zoo/bas/qgan-L3/seed-0 --to qasm                 # OpenQASM 3 on stdout
    qlatent export runs/trained_ring/ring/born_quantum-L16/seed-0 --to perceval -o born.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qlatent.cli.root import app

_TARGETS = ("qasm", "qiskit", "pennylane", "perceval")


@app.command()
def export(
    cell_dir: Annotated[Path, typer.Argument(
        help="A cell directory made by `qlatent run`: "
        "<experiment>/<dataset>/<latent>-L<dim>/seed-<k>.")],
    to: Annotated[str, typer.Option(
        "--to", help="qasm (OpenQASM 3 text), qiskit (a Python file building a QuantumCircuit),"
        " pennylane (a Python file defining a template and a default.qubit QNode): qubit "
        "circuits; perceval (a Python file building a Perceval Circuit and its input state): "
        "optical circuits.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output file (.qasm for qasm, .py otherwise; written "
        "atomically). Several circuits (one per patch of the quantum generator) go to "
        "FILE-STEM.<name>.<suffix>. Default: print the one circuit on stdout.")] = None,
) -> None:
    """Export the trained circuits of CELL_DIR (qubit or photonic Born machine latent, fixed
    bank interferometer, patch quantum generator) for an SDK; conventions: docs/interop.md."""
    from qlatent._io import atomic_write_text  # CLI start-up
    from qlatent._validation import check_choice  # CLI start-up
    from qlatent.interop import TARGETS, export_run  # CLI start-up

    check_choice("--to", to, _TARGETS)
    suffix = TARGETS[to][0]
    if output is not None:
        if output.suffix != suffix:
            raise ValueError(f"-o: --to {to} writes {suffix} files, got {str(output)!r}")
        if output.is_dir():
            raise ValueError(f"-o must be a file, got the folder {str(output)!r}")
    exported = export_run(cell_dir, to)
    if output is None:
        if len(exported) > 1:
            raise ValueError(f"the cell holds {len(exported)} circuits "
                             f"({', '.join(e.name for e in exported)}): give -o FILE{suffix}")
        typer.echo(exported[0].text, nl=False)
        return
    for item in exported:
        path = output if len(exported) == 1 else output.with_name(
            f"{output.stem}.{item.name}{suffix}")
        atomic_write_text(path, item.text)
        typer.echo(f"{path}: {item.name} ({to})")

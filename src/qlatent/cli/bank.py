"""``qlatent bank``: build, inspect, import and list sample banks.

    qlatent bank quantum --modes 16 --photons 8 --samples 200000 --seed 7 --circuit haar
    qlatent bank photonic|dirichlet_multinomial|shuffled ...   (same options)
    qlatent bank build KIND ...                                (the same, kind as an argument)
    qlatent bank shuffled|dirichlet_multinomial --from BANK    (challenger of any bank)
    qlatent bank info BANK        (folder or key prefix; moments, Fano, bunching, TVD check)
    qlatent bank import FILE      (CSV / NPY / NPZ hardware samples)
    qlatent bank list
    qlatent bank compare A B [--figure cmp.png] [--json]   (hardware vs simulation, any two)
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from qlatent.cli.root import app

if TYPE_CHECKING:
    from rich.console import Console

bank_app = typer.Typer(name="bank", no_args_is_help=True,
                       help="Build, inspect, import and list photon-count sample banks.")
app.add_typer(bank_app, name="bank")

KINDS = ("quantum", "photonic", "dirichlet_multinomial", "shuffled")


def _console() -> Console:
    from rich.console import Console  # CLI start-up

    console = Console(highlight=False)
    if not console.is_terminal:  # pipes and test runners: wide enough for the tables
        console = Console(highlight=False, width=120)
    return console


def _noise_text(kind: str, noise: dict[str, Any] | None) -> str:
    """The noise settings that differ from the ideal sampler of ``kind``, or "none"."""
    # CLI start-up
    from qlatent.latents.banks import IDEAL_NOISE
    from qlatent.photonics.noise import NoiseModel

    if kind not in IDEAL_NOISE and kind not in ("dirichlet_multinomial", "shuffled"):
        # recorded samples: only the post-selection is known
        return ", ".join(f"{k}={v}" for k, v in (noise or {}).items() if v) or "none"
    try:
        model = NoiseModel.from_mapping(noise)
    except (TypeError, ValueError):
        return "unreadable"
    ideal = IDEAL_NOISE.get(kind, NoiseModel())
    return ", ".join(f"{k}={v}" for k, v in model.deviations(ideal).items()) or "none"


def _build(kind: str, modes: int, photons: int | None, samples: int, seed: int, circuit: str,
           transmission: float, indistinguishability: float | None, threshold: bool,
           dark_counts: float, min_photons: int | None, jobs: int, chunk_size: int | None,
           quiet: bool, source: str | None = None) -> None:
    # CLI start-up
    from qlatent import latents
    from qlatent.latents.banks import DEFAULT_CHUNK_SIZE, DERIVED_KINDS

    noise: dict[str, Any] = {"transmission": transmission, "threshold": threshold,
                             "dark_count_probability": dark_counts, "min_photons": min_photons}
    if indistinguishability is not None:
        noise["indistinguishability"] = indistinguishability
    start = time.perf_counter()
    if source is not None:
        if kind not in DERIVED_KINDS:
            raise typer.BadParameter(f"--from applies to {' and '.join(DERIVED_KINDS)}, not "
                                     f"{kind!r}")
        simulated = {"--modes": modes != 16, "--photons": photons is not None,
                     "--samples": samples != 200_000, "--circuit": circuit != "haar",
                     "--transmission": transmission != 1.0, "--threshold": threshold,
                     "--indistinguishability": indistinguishability is not None,
                     "--dark-counts": dark_counts != 0.0, "--min-photons": bool(min_photons)}
        given = [name for name, changed in simulated.items() if changed]
        if given:
            raise typer.BadParameter(f"{', '.join(given)} do not apply with --from: the source "
                                     "bank fixes them")
        bank = latents.derive_bank(kind, source, seed)
    else:
        unitary: Any = circuit
        if circuit.endswith(".npy"):  # the user's interferometer (e.g. from Perceval)
            from qlatent.interop import load_unitary  # CLI start-up

            unitary = load_unitary(circuit)
            if modes != 16 and modes != unitary.shape[0]:
                raise ValueError(f"--modes must match the unitary in {circuit} "
                                 f"({unitary.shape[0]} modes), got {modes}")
            modes = None
        bank = latents.build_bank(kind, unitary, photons, samples, seed, n_modes=modes,
                                  noise=noise, n_jobs=jobs,
                                  chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
                                  progress=not quiet)
    elapsed = time.perf_counter() - start
    _print_bank(bank, f"({bank.samples.dtype}, {bank.samples.nbytes / 1e6:.1f} MB) in "
                      f"{elapsed:.1f} s")


def _print_bank(bank, detail: str) -> None:
    """The lines a bank command ends with: kind, shape, ``detail``, key and folder."""
    from rich.markup import escape  # CLI start-up

    console = _console()
    console.print(f"[bold]{bank.kind}[/bold] bank {bank.n_samples} x {bank.n_modes} {detail}")
    console.print(f"key  {bank.key}", soft_wrap=True)
    console.print(f"path {escape(str(bank.path))}", soft_wrap=True)  # whole, for copy and paste


@bank_app.command(name="build")
def build(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(KINDS)}."),
    modes: int = typer.Option(16, "--modes", "-m", min=1,
                              help="Number of modes m (latent size)."),
    photons: int = typer.Option(None, "--photons", "-n", min=1,
                                help="Photons in the first modes (default: half of --modes)."),
    samples: int = typer.Option(200_000, "--samples", "-N", min=1, help="Rows of the bank."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Seed of the circuit and the rows."),
    circuit: str = typer.Option(
        "haar", "--circuit", "-c", help="haar, 1-1, 1-3-9, or a .npy file holding a unitary "
        "[m, m] (yours, or a Perceval circuit's: docs/interop.md); --modes then follows it."),
    transmission: float = typer.Option(
        1.0, "--transmission", min=0.0, max=1.0,
        help="Transmission eta: probability that each photon is detected (1 = no loss)."),
    indistinguishability: float = typer.Option(
        None, "--indistinguishability", "-x", min=0.0, max=1.0,
        help="Overlap x of the photons' internal states (1 = quantum, 0 = photonic)."),
    threshold: bool = typer.Option(False, "--threshold", help="Click (threshold) detectors."),
    dark_counts: float = typer.Option(0.0, "--dark-counts", min=0.0, max=1.0,
                                      help="Dark-count probability per mode and shot."),
    min_photons: int = typer.Option(None, "--min-photons", min=0,
                                    help="Post-select shots with at least this many counts."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Sampler threads (same rows)."),
    chunk_size: int = typer.Option(None, "--chunk-size", min=1,
                                   help="Samples per saved chunk (default: 65536)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    source: str = typer.Option(None, "--from",
                               help="Challengers only: derive from this bank (folder or key, "
                                    "e.g. an imported hardware bank) instead of simulating."),
) -> None:
    """Build a bank of the given KIND (the same as `qlatent bank KIND`)."""
    if kind not in KINDS:
        raise typer.BadParameter(f"KIND must be one of {', '.join(KINDS)}; got {kind!r}")
    _build(kind, modes, photons, samples, seed, circuit, transmission, indistinguishability,
           threshold, dark_counts, min_photons, jobs, chunk_size, quiet, source)


def _make_kind_command(kind: str):
    """``qlatent bank KIND``: ``build`` with KIND fixed (the same options, one definition)."""
    signature = inspect.signature(build)

    def command(**options) -> None:
        build(kind, **options)

    command.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    command.__annotations__ = {k: v for k, v in build.__annotations__.items() if k != "kind"}
    command.__doc__ = f"Build (or find in the cache) a {kind} bank; resumes if interrupted."
    command.__name__ = f"bank_{kind}"
    return command


for _kind in KINDS:
    bank_app.command(name=_kind)(_make_kind_command(_kind))


@bank_app.command(name="info")
def info(
    bank: str = typer.Argument(..., help="Bank folder or key (prefix) from `qlatent bank list`."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Shape, provenance, moments, Fano factor, bunching, collisions, TVD to exact (small)."""
    # CLI start-up
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    from qlatent import latents
    from qlatent.latents.summary import summarize_bank

    loaded = latents.load_bank(bank)
    summary = summarize_bank(loaded)
    console = _console()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"{summary['kind']} bank {summary['key'][:12]}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")

    def fmt(values, digits=3):
        return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"

    rows = [
        ("shape", f"{summary['shape'][0]} x {summary['shape'][1]} ({summary['dtype']})"),
        ("path", summary["path"]),
        ("circuit / seed", f"{summary['circuit']} / {summary['seed']}"),
        ("input state", str(summary["input_state"])),
        ("noise", _noise_text(loaded.metadata.get("kind", ""), summary["noise"])),
        ("acceptance rate", f"{summary['acceptance_rate']:.4f}"
         if summary["acceptance_rate"] is not None else "-"),
        ("source", json.dumps(summary["source"]) if summary["source"] else "-"),
        ("created", str(summary["created"])),
        ("mean occupancy", fmt(summary["mean_occupancy"])),
        ("mean mode variance", f"{np.mean(summary['mode_variance']):.4f}"),
        ("Fano factor (mean over modes)", f"{summary['fano_factor']:.4f}"
         if summary["fano_factor"] is not None else "-"),
        ("bunching P(max count >= 2)", f"{summary['bunching_probability']:.4f}"),
        ("P(max count >= 3)", f"{summary['p_max_count_at_least_3']:.4f}"),
        ("collision probability sum p(s)^2", f"{summary['collision_probability']:.3e}"),
        ("count histogram P(s_j = c)", fmt(summary["photon_number_histogram"], 4)),
        ("total photons histogram", fmt(summary["total_photon_histogram"], 4)),
    ]
    if "tvd" in summary:
        t = summary["tvd"]
        rows.append((f"TVD to {t['reference']}",
                     f"{t['value']:.4f} (an exact sampler: ~{t['expected_for_exact_sampler']:.4f}; "
                     f"{t['n_states']} states)"))
    for field, value in rows:
        table.add_row(field, escape(value))
    console.print(table)


@bank_app.command(name="import")
def import_(
    file: Path = typer.Argument(  # noqa: B008
        ..., help="CSV/TSV/TXT (comma, semicolon, tab or spaces), NPY or NPZ of count vectors, "
                  "one row per shot."),
    min_photons: int = typer.Option(None, "--min-photons", min=0,
                                    help="Keep shots with at least this many counts."),
    array: str = typer.Option(None, "--array", help="Array name inside an NPZ file."),
    description: str = typer.Option(None, "--description",
                                    help="Provenance text: device, date, settings."),
) -> None:
    """Import recorded hardware samples as a bank (validated; errors name the row)."""
    from qlatent import latents  # CLI start-up

    bank = latents.import_bank(file, min_photons=min_photons, array_name=array,
                               description=description)
    _print_bank(bank, f"(acceptance {bank.metadata['acceptance_rate']:.4f})")


@bank_app.command(name="list")
def list_() -> None:
    """The banks in the cache ($QLATENT_CACHE/banks), oldest first."""
    # CLI start-up
    from rich.markup import escape
    from rich.table import Table

    from qlatent import latents
    from qlatent._io import cache_dir
    from qlatent.latents.banks import unfinished_builds

    entries = latents.list_banks()
    console = _console()
    for build in unfinished_builds():
        console.print(f"unfinished build {build['key'][:12]}: {build['chunks']} chunks, "
                      f"{build['rows']} rows kept (rerun the same build command to finish it)")
    if not entries:
        console.print(f"no banks in {escape(str(cache_dir('banks')))}")
        return
    table = Table(title=f"banks in {escape(str(cache_dir('banks')))}")
    for col in ("key", "kind", "shape", "circuit", "seed", "noise", "created", "MB"):
        table.add_column(col)
    for meta in entries:
        size = Path(meta["path"], "samples.npy")
        cells = (str(meta.get("key", ""))[:12], str(meta.get("kind")),
                 f"{meta.get('n_samples')} x {meta.get('n_modes')}",
                 str(meta.get("circuit")), str(meta.get("seed")),
                 _noise_text(str(meta.get("kind")), meta.get("noise")),
                 str(meta.get("created", ""))[:16].replace("T", " "),
                 f"{size.stat().st_size / 1e6:.1f}" if size.is_file() else "?")
        table.add_row(*(escape(c) for c in cells))
    console.print(table)


@bank_app.command(name="compare")
def compare(
    bank_a: str = typer.Argument(..., help="First bank: folder or key (prefix), e.g. hardware."),
    bank_b: str = typer.Argument(..., help="Second bank, e.g. the simulation of the same "
                                 "circuit."),
    figure: Path = typer.Option(None, "--figure", help="Also save a figure (.png, .svg or "  # noqa: B008
                                ".pdf) of the histograms, occupancies, marginal TVDs and "
                                "correlators."),
    as_json: bool = typer.Option(False, "--json", help="Print every statistic as JSON."),
) -> None:
    """Compare two banks: photon-number histograms, TVD of the mode marginals, two-mode
    correlators, Fano factors, bunching (formulas: qlatent.interop.compare)."""
    from rich.markup import escape  # CLI start-up
    from rich.table import Table  # CLI start-up

    from qlatent import latents  # CLI start-up
    from qlatent.interop.compare import compare_samples, comparison_figure  # CLI start-up

    if figure is not None and figure.suffix not in (".png", ".svg", ".pdf"):
        raise ValueError(f"--figure must end in .png, .svg or .pdf, got {str(figure)!r}")
    a, b = latents.load_bank(bank_a), latents.load_bank(bank_b)
    stats = compare_samples(a.samples, b.samples)
    if as_json:
        typer.echo(json.dumps({"a": a.key, "b": b.key, **stats}, indent=2))
    else:
        la, lb = f"A: {a.kind} {a.key[:8]}", f"B: {b.kind} {b.key[:8]}"
        table = Table(title=f"bank comparison over {stats['n_modes']} modes")
        for col in ("statistic", la, lb, "difference"):
            table.add_column(escape(col), justify="left" if col == "statistic" else "right")

        def hist(values):
            return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"

        def num(v):
            return "-" if v is None else f"{v:.4f}"

        ha, hb = stats["count_histogram"]["a"], stats["count_histogram"]["b"]
        ta, tb = stats["total_histogram"]["a"], stats["total_histogram"]["b"]
        fa, fb = stats["fano"]["a"], stats["fano"]["b"]
        ba, bb = stats["bunching"]["a"], stats["bunching"]["b"]
        rows = [
            ("samples", str(stats["n_samples"]["a"]), str(stats["n_samples"]["b"]), ""),
            ("count histogram P(s_j = c)", hist(ha), hist(hb),
             f"TVD {0.5 * sum(abs(x - y) for x, y in zip(ha, hb, strict=True)):.4f}"),
            ("total photons P(n)", hist(ta), hist(tb),
             f"TVD {0.5 * sum(abs(x - y) for x, y in zip(ta, tb, strict=True)):.4f}"),
            ("mode-marginal TVD (mean / max)", "", "",
             f"{stats['marginal_tvd_mean']:.4f} / {stats['marginal_tvd_max']:.4f}"),
            ("mean occupancy: max |difference|", "", "", f"{stats['max_mean_difference']:.4f}"),
            ("two-mode correlators: max |difference|", "", "",
             f"{stats['max_correlator_difference']:.4f}"),
            ("Fano factor (mean over modes)", num(fa), num(fb),
             num(None if fa is None or fb is None else fb - fa)),
            ("bunching P(max count >= 2)", num(ba), num(bb), num(bb - ba)),
        ]
        for row in rows:
            table.add_row(*(escape(c) for c in row))
        _console().print(table)
    if figure is not None:
        comparison_figure(stats, figure, labels=(f"{a.kind} {a.key[:8]}",
                                                 f"{b.kind} {b.key[:8]}"))
        typer.echo(f"figure: {figure}", err=as_json)

"""The root ``qlatent`` command: the Typer app, ``--version``, ``--debug`` and the error policy.

Errors: a known user error reaches the user as ONE line on stderr, ``error: <message>``, exit
code 2: ``qlatent.UserError`` (ours) and the errors the library raises for bad input or a bad
setting, ``ValueError`` and ``TypeError`` (an argument that names itself,
``qlatent.latents.BankError`` included), ``OSError`` (a missing file), ``ImportError`` (a
missing extra), ``pickle.UnpicklingError`` (a refused checkpoint) and ``FloatingPointError`` (a
diverged trainable latent, named with its step). The global ``--debug`` option (or
``QLATENT_DEBUG=1``) shows their traceback instead. Click's own usage errors (an unknown option,
a missing argument, a value of the wrong type) keep click's format and exit code 2. Anything
else (a ``RuntimeError`` of torch, a ``KeyError``, ...) is a bug: its traceback is printed with
a line that says how to report it, exit code 1.

Start-up: this module, the command modules and everything they import at module level are
torch-free, so ``--version``, ``--help`` and usage errors print in a fraction of a second; each
command imports the library inside its function (``# CLI start-up``).
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from qlatent import UserError, __version__

#: Exceptions shown as one line (subclasses included: BankError is a ValueError,
#: FileNotFoundError an OSError).
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, TypeError, OSError,
                                               ImportError, FloatingPointError,
                                               pickle.UnpicklingError)
DEBUG_ENV = "QLATENT_DEBUG"
#: The last line printed under the traceback of an error that is not a user error.
REPORT = ("qlatent {version}: this is a bug in qlatent, not in your input; please report it to "
          "the qlatent maintainers with the command you ran, the output of `qlatent --version` "
          "and the traceback above")


def debug_requested(ctx: Any = None) -> bool:
    """``--debug`` was given (``ctx``'s root parameters) or ``QLATENT_DEBUG`` is set."""
    return bool(getattr(ctx, "params", {}).get("debug")) or os.environ.get(
        DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def one_line(err: BaseException) -> str:
    """``err``'s message on one line (line breaks become "; ")."""
    text = str(err).strip() or type(err).__name__
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


class OneLineErrors(TyperGroup):
    """The root group: user errors of any command become one line and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):  # click's signals (RuntimeErrors), not errors
            raise
        except USER_ERRORS as err:
            if debug_requested(ctx):
                raise
            typer.echo(f"error: {one_line(err)}", err=True)
            raise typer.Exit(2) from err


app = typer.Typer(
    name="qlatent",
    cls=OneLineErrors,
    help="Deep generative models with quantum (boson-sampling) latent distributions.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"qlatent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help=f"Show the traceback of an error instead of one line (also: "
        f"{DEBUG_ENV}=1).")] = False,
) -> None:
    """Deep generative models with quantum (boson-sampling) latent distributions."""


def main() -> None:
    """The ``qlatent`` entry point: a bug (an error that is not a user error) prints its
    traceback and how to report it, exit code 1."""
    try:
        app(prog_name="qlatent")
    except USER_ERRORS:  # only with --debug: the user asked for the traceback
        raise
    except Exception:  # click handled usage errors and user errors became one line
        traceback.print_exc()
        print(REPORT.format(version=__version__), file=sys.stderr)
        sys.exit(1)

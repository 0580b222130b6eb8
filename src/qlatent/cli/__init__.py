"""The ``qlatent`` command: a thin shell that parses, validates everything up front and calls
the library.

``qlatent.cli.root`` holds the app, ``--version``, ``--debug`` and the error policy (a user
error is one line, a bug keeps its traceback and says how to report it); each command family
lives in its own module and registers itself on ``app``. Nothing here imports torch at start-up:
the commands import the library inside their functions.

Help texts are plain text (no rich markup), so "[train]" prints as written.
"""

from __future__ import annotations

from qlatent.cli import bank, demo, export, reuse, run  # noqa: F401 - each registers its commands
from qlatent.cli.root import USER_ERRORS, app, main, one_line

__all__ = ["USER_ERRORS", "app", "main", "one_line"]

"""Checkpoints of a training run: written atomically, read weights-only, checked on resume.

A checkpoint (``torch.save`` of a dict) holds only tensors, numbers, strings, lists and dicts,
so it loads with ``torch.load(..., weights_only=True)``: a file that needs anything else (a
pickled object whose ``__reduce__`` could run code) is refused, never unpickled. Keys:

* ``step``, ``seconds``: generator steps done, training wall time so far;
* ``seed``: the seed ``fit`` was given (checkpoints written before seed became an argument of
  ``fit`` hold it in ``config`` instead, with ``device`` and ``progress``);
* ``config``: ``Config.to_dict()``;
* ``history``: the log rows so far; ``window``: the sums of the log window not yet logged
  (``sum``: ``float64[4]``, ``count``), absent in older checkpoints;
* ``generator``, ``critic``, ``opt_generator``, ``opt_critic``: state dicts;
* ``rng``: the states of the random streams (``RandomStreams.get_state``);
* ``latent``, ``opt_latent``: a latent trained with the generator (``latent_lr > 0``): its
  state dict and its optimiser's (absent for a fixed latent).

A pack's checkpoint (``fit_pack``) has the same keys, holding the pack: ``members`` (K),
``seed`` the list of K seeds, ``history`` a list of K histories, ``rng`` a dict ``{"0": states
of member 0, ...}``, ``failed`` a list of K ints (the step a member failed at, 0 if it did not),
``window`` sums ``float64[4, K]``, the packed models' and optimisers' state dicts, and
``latents``: ``{"k": {"latent": ..., "opt_latent": ...}}`` for the members whose latent trains.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from qlatent._io import atomic_write
from qlatent.train.config import EXECUTION_KEYS, Config

CHECKPOINT = "checkpoint.pt"
"""The checkpoint's file name in a run directory."""
REQUIRED_KEYS = ("step", "config", "history", "generator", "critic", "opt_generator",
                 "opt_critic", "rng")
"""The keys of an adversarial run's checkpoint (``fit``, ``fit_pack``); other trainers of the
loop skeleton (``qlatent.train.skeleton``) pass their own ``required`` keys."""
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "log_every")
"""Config fields that may change between a run and its resumption."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any], *,
                    required: Sequence[str] = REQUIRED_KEYS) -> None:
    """Write ``state`` (the keys of the module docstring, at least ``required``) to ``path``
    atomically."""
    missing = [k for k in required if k not in state]
    if missing:
        raise ValueError(f"a checkpoint needs key(s) {', '.join(missing)}")
    atomic_write(Path(path), lambda p: torch.save(dict(state), p))


def load_checkpoint(path: str | Path, *, required: Sequence[str] = REQUIRED_KEYS
                    ) -> dict[str, Any]:
    """Read a checkpoint weights-only onto the CPU (``load_state_dict`` moves what it must; the
    random states must stay CPU tensors), checking it holds the keys ``required``.

    Raises:
        ValueError: naming the file, if it is not a weights-only checkpoint (it holds pickled
            objects: refused, nothing of it runs), is truncated or corrupt, or lacks a key.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickler_reason(err)
        if reason.startswith("Unsupported operand"):  # bytes that are no pickle at all
            raise _damaged(path, err, reason) from err
        raise ValueError(f"{path} is not a weights-only checkpoint, refused unread "
                         f"({reason}); delete it or train into another run directory") from err
    except OSError as err:
        if path.is_file():  # torch reports some truncated archives as an OSError (EINVAL)
            raise _damaged(path, err, str(err.strerror or err)) from err
        raise ValueError(f"{path} cannot be read ({err.strerror or err})") from err
    except Exception as err:  # torch reports a damaged file as any of several errors
        raise _damaged(path, err, str(err)) from err
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a qlatent checkpoint (it holds a "
                         f"{type(state).__name__}, not a dict)")
    missing = [k for k in required if k not in state]
    if missing:
        raise ValueError(f"{path} is not a qlatent checkpoint (no {', '.join(missing)})")
    for key, kind in (("config", dict), ("history", list), ("rng", dict)):
        if key in required and not isinstance(state[key], kind):
            raise ValueError(f"{path} is not a qlatent checkpoint ({key} is a "
                             f"{type(state[key]).__name__}, not a {kind.__name__})")
    return state


def _unpickler_reason(err: pickle.UnpicklingError) -> str:
    # torch's message is a page long; keep the line that says what was refused.
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    return _first_line(text).split(". Please")[0]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def _damaged(path: Path, err: Exception, detail: str) -> ValueError:
    detail = _first_line(detail).split(". ")[0]
    return ValueError(f"{path} is not a readable checkpoint (truncated or corrupt: "
                      f"{type(err).__name__}{': ' + detail if detail else ''})")


def checkpoint_seed(state: Mapping[str, Any], path: str | Path) -> int:
    """The seed a checkpoint was written with (top level, or inside an older ``config``)."""
    seed = state.get("seed", state["config"].get("seed"))
    if seed is None:
        raise ValueError(f"{path} records no seed; use another run_dir or resume=False")
    return int(seed)


def check_resumable(state: Mapping[str, Any], config: Config, seed: int,
                    path: str | Path) -> None:
    """Refuse to resume ``state`` with another seed or with a config that differs in more than
    ``RESUMABLE_CHANGES`` (a ValueError naming the file and every difference)."""
    if "members" in state:
        raise ValueError(f"{path} holds a pack of {state['members']} members (fit_pack), not "
                         "a solo run; resume it with fit_pack, or use another run_dir or "
                         "resume=False")
    saved_seed = checkpoint_seed(state, path)
    if saved_seed != seed:
        raise ValueError(f"{path} was written with seed {saved_seed}, not {seed}; resume with "
                         f"seed={saved_seed}, or use another run_dir or resume=False")
    check_config_resumable(state, config, path)


def check_config_resumable(state: Mapping[str, Any], config: Any, path: str | Path) -> None:
    """Refuse a config that differs from the checkpoint's in more than ``RESUMABLE_CHANGES``
    (a ValueError naming the file and every difference). ``config``: a frozen config of the
    loop skeleton (``to_dict()``; its class builds with every field at its default)."""
    now = config.to_dict()
    # A key a checkpoint lacks was added later; it held the default when the run was written.
    saved = {**type(config)().to_dict(),
             **{k: v for k, v in state["config"].items() if k not in EXECUTION_KEYS}}
    diff = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved[k] != now[k])
    if diff:
        raise ValueError(
            f"{path} was written with a different config ("
            + ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in diff)
            + "); use another run_dir or resume=False")

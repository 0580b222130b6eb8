"""How often one ``qlatent run ... --pack 2`` validates the same values (issue 20, item 4).

Counts, over one real run of the CLI (in this process, so the counters see every call):
``ExperimentConfig`` and ``qlatent.train.Config`` objects built, ``qlatent.latents.validate``
calls, ``check_pack``, ``check_device`` and ``check_log_to`` calls (with the names they were
given) and throw-away ``Config.replace`` copies. The run is the quick ring of the paper
reduced to 2 seeds x 1 latent (gaussian), a few steps, ``--pack 2``, into a temporary folder.

    PYTHONPATH=src python benchmarks/validation_counts.py

The counters wrap the functions where they are defined and replace every reference to them
held by a loaded ``qlatent`` module, so they count the same calls whichever module the code
lives in (this script runs unchanged before and after the runner's split).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTS: Counter[str] = Counter()
NAMES: dict[str, set[str]] = {}


def _count_calls(module_name: str, attr: str, label: str) -> None:
    # Wrap module.attr and rebind every qlatent module's reference to the original.
    module = importlib.import_module(module_name)
    original = getattr(module, attr)

    def counted(*args, **kwargs):
        COUNTS[label] += 1
        if "name" in kwargs:
            NAMES.setdefault(label, set()).add(kwargs["name"])
        return original(*args, **kwargs)

    for mod in list(sys.modules.values()):
        ours = getattr(mod, "__name__", "").startswith("qlatent")
        if ours and getattr(mod, attr, None) is original:
            setattr(mod, attr, counted)


def _count_post_init(cls: type, label: str) -> None:
    original = cls.__post_init__

    def counted(self):
        COUNTS[label] += 1
        original(self)

    cls.__post_init__ = counted


def _count_replace(cls: type, label: str) -> None:
    original = cls.replace

    def counted(self, **changes):
        COUNTS[f"{label}({', '.join(sorted(changes))})"] += 1
        return original(self, **changes)

    cls.replace = counted


def _optional(module_name: str, attr: str, label: str) -> None:
    try:
        _count_calls(module_name, attr, label)
    except (ImportError, AttributeError):
        pass


def main() -> None:
    import qlatent.cli.run  # noqa: F401 - registers the run command
    import qlatent.experiments.config as config_module
    import qlatent.experiments.executors  # noqa: F401 - loaded so their references are rebound
    import qlatent.train.config as train_config
    from qlatent.cli import app

    _count_post_init(config_module.ExperimentConfig, "ExperimentConfig built")
    _count_post_init(train_config.Config, "train.Config built")
    _count_replace(train_config.Config, "train.Config.replace")
    _count_calls("qlatent.latents.registry", "validate", "latents.validate")
    _optional("qlatent.experiments.packing", "check_pack", "check_pack")
    _count_calls("qlatent._validation", "check_device", "check_device")
    _optional("qlatent.experiments.executors", "check_log_to", "check_log_to")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        args = ["run", str(ROOT / "configs/paper/fig2_ring_quick.toml"), "--seeds", "0-1",
                "--latents", "gaussian", "--steps", "3", "--pack", "2", "--no-progress",
                "--out", str(out)]
        app(args, standalone_mode=False)
        assert len(list(out.glob("ring/gaussian-L16/seed-*/metrics.json"))) == 2
    for label, n in sorted(COUNTS.items()):
        names = f"  (names: {', '.join(sorted(NAMES[label]))})" if label in NAMES else ""
        print(f"{label:45s} {n:3d}{names}")


if __name__ == "__main__":
    # Before the split check_pack lived in the runner; count it there when packing is absent.
    try:
        importlib.import_module("qlatent.experiments.packing")
    except ImportError:
        import qlatent.experiments.runner  # noqa: F401

        sys.modules["qlatent.experiments.executors"] = sys.modules["qlatent.experiments.runner"]
        sys.modules["qlatent.experiments.packing"] = sys.modules["qlatent.experiments.runner"]
        sys.modules["qlatent.experiments.cell"] = sys.modules["qlatent.experiments.runner"]
    main()

"""Issue 23 F9 and F11: what a refused checkpoint says, and the checks of its numbers."""

import math
import os
import pickle

import pytest
import torch

from qlatent.train import CHECKPOINT, Config, load_checkpoint, save_checkpoint


class Planted:
    """Unpickling it would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _state(**extra):
    return {"step": 3, "seconds": 1.5, "seed": 4, "config": Config(steps=3).to_dict(),
            "history": [], "generator": {"w": torch.ones(2)}, "critic": {"w": torch.zeros(2)},
            "opt_generator": {"state": {}, "param_groups": []},
            "opt_critic": {"state": {}, "param_groups": []},
            "rng": {"latent": torch.Generator().get_state()}, **extra}


@pytest.mark.parametrize("write", ["legacy", "protocol0", "protocol4"])
def test_a_refused_checkpoint_says_why_in_one_whole_sentence(tmp_path, write):
    marker = tmp_path / "code-ran"
    path = tmp_path / CHECKPOINT
    if write == "legacy":
        torch.save(_state(history=[Planted(marker)]), path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as handle:
            pickle.dump(_state(history=[Planted(marker)]), handle,
                        protocol=0 if write == "protocol0" else 4)
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path} is not a weights-only checkpoint, refused unread")
    assert "\n" not in message and message.endswith("delete it or train into another run "
                                                    "directory")
    assert "weights_only" not in message and "False" not in message and "trust" not in message
    assert "system" in message or "opcode" in message, message  # what was refused
    assert not marker.exists()


@pytest.mark.parametrize("field, value, expected", [
    ("step", 10**15, r"step must be an integer in \[0, 3\] \(the steps of its config\), got "
                     "1000000000000000"),
    ("step", -5, r"step must be an integer in \[0, 3\] \(the steps of its config\), got -5"),
    ("step", 2.0, r"step must be an integer in \[0, 3\] \(the steps of its config\), got 2.0"),
    ("step", True, r"step must be an integer .*, got True"),
    ("seconds", -1.0, r"seconds must be a finite number >= 0, got -1.0"),
    ("seconds", math.nan, r"seconds must be a finite number >= 0, got nan"),
    ("seed", -3, r"seed must be a non-negative integer \(or a list of them\), got -3"),
    ("members", 0, r"members must be a positive integer, got 0"),
])
def test_checkpoint_numbers_are_checked(tmp_path, field, value, expected):
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, _state(**{field: value}))
    with pytest.raises(ValueError, match=f"^{path} is not a usable checkpoint: {expected}$"):
        load_checkpoint(path)


def test_a_pack_checkpoint_checks_each_member(tmp_path):
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, _state(members=2, seed=[0, 1], failed=[0, 2]))
    assert load_checkpoint(path)["failed"] == [0, 2]
    save_checkpoint(path, _state(members=2, seed=[0, 1], failed=[0, 10**15]))
    with pytest.raises(ValueError, match=r"failed must be a list of 2 integers in \[0, 3\]"):
        load_checkpoint(path)
    save_checkpoint(path, _state(members=2, seed=[0, -1]))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        load_checkpoint(path)


def _refusal(call, path):
    with pytest.raises(ValueError) as err:
        call()
    said = str(err.value)
    assert "\n" not in said and said.startswith(f"{path} does not fit this "), said
    assert said.endswith("use another run_dir or resume=False"), said
    return said


def test_a_checkpoint_of_another_model_is_one_line_naming_the_file(tmp_path):
    # Every trainer on the skeleton restores its state through skeleton.restoring: a
    # checkpoint of another shape is one ValueError naming the file (the RBM trainer used to
    # let torch's multi-line RuntimeError through).
    import numpy as np

    from qlatent.latents import BornLatent
    from qlatent.latents.rbm import RBMLatent
    from qlatent.train.likelihood import LikelihoodConfig, fit_distribution
    from qlatent.train.rbm import RBMConfig, fit_rbm

    x = np.random.default_rng(0).integers(0, 2, (50, 6))
    fit_rbm(RBMLatent(6, n_hidden=4, seed=0), x, RBMConfig(steps=2), seed=0,
            run_dir=tmp_path / "rbm")
    said = _refusal(lambda: fit_rbm(RBMLatent(6, n_hidden=5, seed=0), x, RBMConfig(steps=2),
                                    seed=0, run_dir=tmp_path / "rbm"),
                    tmp_path / "rbm" / CHECKPOINT)
    assert "this RBM (RuntimeError: " in said and "size mismatch for weight" in said

    counts = torch.tensor([[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 1, 1]])
    config = LikelihoodConfig(steps=2)
    fit_distribution(BornLatent(4, n_photons=2, seed=0), counts, config, seed=0,
                     run_dir=tmp_path / "born")
    said = _refusal(lambda: fit_distribution(BornLatent(4, n_photons=2, circuit="1-1", seed=0),
                                             counts, config, seed=0,
                                             run_dir=tmp_path / "born"),
                    tmp_path / "born" / CHECKPOINT)
    assert "this model and optimiser (" in said

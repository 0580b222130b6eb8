import pytest
import torch

from qlatent.train import (
    CHECKPOINT,
    Config,
    check_resumable,
    fit,
    load_checkpoint,
    save_checkpoint,
)


class Planted:
    """An object whose unpickling runs code: it creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _state(**extra):
    return {"step": 3, "seconds": 1.5, "seed": 4, "config": Config(steps=3).to_dict(),
            "history": [{"step": 3, "loss_critic": 0.5}], "window": {"sum": torch.zeros(4,
            dtype=torch.float64), "count": 0}, "generator": {"w": torch.ones(2)},
            "critic": {"w": torch.zeros(2)}, "opt_generator": {"state": {}, "param_groups": []},
            "opt_critic": {"state": {}, "param_groups": []},
            "rng": {"latent": torch.Generator().get_state()}, **extra}


def test_round_trip(tmp_path):
    save_checkpoint(tmp_path / CHECKPOINT, _state())
    back = load_checkpoint(tmp_path / CHECKPOINT)
    assert back["seed"] == 4 and back["history"] == [{"step": 3, "loss_critic": 0.5}]
    assert torch.equal(back["generator"]["w"], torch.ones(2))
    assert torch.equal(back["rng"]["latent"], torch.Generator().get_state())
    assert not list(tmp_path.glob("*.partial*")) and len(list(tmp_path.iterdir())) == 1


def test_a_real_checkpoint_loads_weights_only(tmp_path, small_gan):
    fit(*small_gan(), Config(steps=2, batch_size=4), seed=1, run_dir=tmp_path)
    torch.load(tmp_path / CHECKPOINT, weights_only=True)  # the whole of what fit writes
    assert load_checkpoint(tmp_path / CHECKPOINT)["step"] == 2


def test_a_pickle_bearing_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / CHECKPOINT
    torch.save(_state(history=[Planted(marker)]), path)
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path} is not a weights-only "
                                                      "checkpoint, refused unread")
    assert "exec" in message  # names what it refused
    assert not marker.exists()
    # The planted object is live: a trusting load (never done by qlatent) runs it.
    with open(path, "rb"):
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_fit_refuses_a_planted_checkpoint_before_training(tmp_path, small_gan):
    marker = tmp_path / "code-ran"
    torch.save(_state(rng=Planted(marker)), tmp_path / CHECKPOINT)
    G, D, latent, data = small_gan()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with pytest.raises(ValueError, match="not a weights-only checkpoint"):
        fit(G, D, latent, data, Config(steps=2, batch_size=4), seed=4, run_dir=tmp_path)
    assert not marker.exists()
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())
    assert not (tmp_path / "log.jsonl").exists()  # nothing was written


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_names_the_file(tmp_path, damage):
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, _state())
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a checkpoint",
                      "empty": b""}[damage])
    with pytest.raises(ValueError, match=r"checkpoint.pt is not a readable checkpoint "
                                         r"\(truncated or corrupt") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_foreign_file_is_not_a_qlatent_checkpoint(tmp_path):
    path = tmp_path / CHECKPOINT
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match="not a qlatent checkpoint .it holds a list"):
        load_checkpoint(path)
    torch.save({"step": 1}, path)
    with pytest.raises(ValueError, match="no config, history, generator"):
        load_checkpoint(path)
    torch.save(_state(history={"a": 1}), path)
    with pytest.raises(ValueError, match="history is a dict, not a list"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="needs key.*rng"):
        save_checkpoint(path, {k: v for k, v in _state().items() if k != "rng"})


def test_check_resumable():
    state = _state()
    check_resumable(state, Config(steps=9, log_every=7, checkpoint_every=3), 4, "ck.pt")
    with pytest.raises(ValueError, match=r"^ck.pt was written with seed 4, not 5; resume "
                                         r"with seed=4"):
        check_resumable(state, Config(steps=3), 5, "ck.pt")
    with pytest.raises(ValueError, match=r"^ck.pt was written with a different config "
                                         r"\(batch_size: 32 -> 8, lr: 0.0005 -> 0.1\)"):
        check_resumable(state, Config(steps=3, lr=0.1, batch_size=8), 4, "ck.pt")


def test_check_resumable_reads_the_seed_of_an_older_checkpoint():
    # Before seed became an argument of fit, the config dict held seed, device and progress.
    old = _state()
    del old["seed"]
    old["config"].update(seed=11, device="cuda", progress=True)
    check_resumable(old, Config(steps=3), 11, "ck.pt")  # device and progress are free
    with pytest.raises(ValueError, match="seed 11, not 0"):
        check_resumable(old, Config(steps=3), 0, "ck.pt")
    del old["config"]["seed"]
    with pytest.raises(ValueError, match="ck.pt records no seed"):
        check_resumable(old, Config(steps=3), 0, "ck.pt")

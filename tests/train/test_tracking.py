import sys

import pytest

from qlatent.train import Config, fit
from qlatent.train.tracking import TRACKERS, TensorBoardCallback, make_callbacks


class Stop(Exception):
    pass


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_events_hold_the_log_rows_once_across_a_resume(tmp_path, small_gan):
    pytest.importorskip("tensorboard")
    config = Config(steps=8, batch_size=4, n_critic=1, log_every=2, checkpoint_every=4)

    def stop_at_7(step, info):
        if step == 7:
            raise Stop

    with pytest.raises(Stop):  # logged step 6 past the checkpoint at 4
        fit(*small_gan(), config, seed=0, run_dir=tmp_path,
            callbacks=[*make_callbacks(["tensorboard"], tmp_path), stop_at_7])
    assert {s for s, _ in _scalars(tmp_path / "tensorboard")["train/loss_critic"]} == {2, 4, 6}
    result = fit(*small_gan(), config, seed=0, run_dir=tmp_path,
                 callbacks=make_callbacks(["tensorboard"], tmp_path))
    assert result.resumed_from == 4
    scalars = _scalars(tmp_path / "tensorboard")
    assert set(scalars) == {f"train/{k}" for k in ("loss_critic", "loss_generator",
                                                   "gradient_penalty", "wasserstein",
                                                   "seconds")}
    for name in ("loss_critic", "wasserstein", "seconds"):
        got = sorted(scalars[f"train/{name}"])
        want = [(h["step"], h[name]) for h in result.history]
        assert [s for s, _ in got] == [2, 4, 6, 8]  # step 6 once: the first one was purged
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)


def test_an_unknown_tracker_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown tracker 'wandb'; valid trackers: tensorboard"):
        make_callbacks(["wandb"], tmp_path)
    with pytest.raises(TypeError, match="sequence of tracker names"):
        make_callbacks("tensorboard", tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        make_callbacks(["tensorboard", "tensorboard"], tmp_path)
    assert make_callbacks([], tmp_path) == [] and TRACKERS == ("tensorboard",)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_missing_tensorboard_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    with pytest.raises(ImportError, match=r"pip install 'qlatent\[tracking\]'"):
        make_callbacks(["tensorboard"], tmp_path)
    with pytest.raises(ImportError, match="tensorboard tracker"):
        TensorBoardCallback(tmp_path)

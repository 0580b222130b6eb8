"""The loop skeleton (``qlatent.train.skeleton``) on a minimal trainer: log means, resume after
SIGKILL bit-identical, the non-finite guard, callbacks, plain progress lines, packs."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from qlatent.train.skeleton import (
    FitResult,
    LoopConfig,
    NonFiniteError,
    Trainer,
    train,
)


class Mean(Trainer):
    """Adam fits K means to noisy draws around ``targets``; figures: the loss and the mean.

    ``nan_at``: per member, the step from which its draws are NaN (``None``: never).
    """

    keys = ("loss", "mu")

    def __init__(self, targets=(3.0,), *, members=None, seed=0, nan_at=None):
        K = len(targets)
        self.members = members
        self.targets = torch.tensor(targets)
        self.mu = torch.zeros(K, requires_grad=True)
        self.opt = torch.optim.Adam([self.mu], lr=0.1)
        self.rng = torch.Generator().manual_seed(seed)
        self.nan_at = nan_at or [None] * K

    def step(self, step):
        x = self.targets[:, None] + torch.randn(len(self.targets), 8, generator=self.rng)
        for k, s in enumerate(self.nan_at):
            if s is not None and step >= s:
                x[k] = float("nan")
        loss = (x - self.mu[:, None]).pow(2).mean(1)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        figures = torch.stack((loss.detach(), self.mu.detach().clone()))
        return figures[:, 0] if self.members is None else figures

    def state_dict(self):
        return {"mu": self.mu.detach().clone(), "opt": self.opt.state_dict(),
                "rng": self.rng.get_state()}

    def load_state_dict(self, state, path):
        with torch.no_grad():
            self.mu.copy_(state["mu"])
        self.opt.load_state_dict(state["opt"])
        self.rng.set_state(state["rng"])


CONFIG = LoopConfig(steps=30, checkpoint_every=10, log_every=4)


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def _strip(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_a_run_logs_window_means_and_learns(tmp_path):
    every = train(Mean(), CONFIG.replace(log_every=1))[0]
    trainer = Mean()
    [result] = train(trainer, CONFIG, run_dir=tmp_path)
    assert isinstance(result, FitResult) and result.steps == 30 and result.failed_at is None
    assert [r["step"] for r in result.history] == [4, 8, 12, 16, 20, 24, 28, 30]
    for row, lo in zip(result.history, range(0, 30, 4), strict=True):
        hi = min(lo + 4, 30)
        assert row["loss"] == pytest.approx(sum(r["loss"] for r in every.history[lo:hi])
                                            / (hi - lo), rel=1e-12)
    assert _rows(tmp_path / "log.jsonl") == result.history
    assert abs(float(trainer.mu.detach()) - 3.0) < abs(0.0 - 3.0) / 2  # it learns


KILLED = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_skeleton import CONFIG, Mean
from qlatent.train.skeleton import train

def kill(step, info):
    if step == 23:
        os.kill(os.getpid(), signal.SIGKILL)

train(Mean(), CONFIG, run_dir={run_dir!r}, callbacks=[kill])
"""


def test_a_run_killed_by_sigkill_resumes_bit_identical(tmp_path):
    full_trainer = Mean()
    [full] = train(full_trainer, CONFIG, run_dir=tmp_path / "full")
    code = KILLED.format(tests=str(Path(__file__).parent), run_dir=str(tmp_path / "cut"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert [r["step"] for r in _rows(tmp_path / "cut" / "log.jsonl")][-1] == 20
    trainer = Mean(seed=99)  # another seed: everything must come from the checkpoint
    [resumed] = train(trainer, CONFIG, run_dir=tmp_path / "cut")
    assert resumed.resumed_from == 20 and resumed.steps == 30
    assert torch.equal(trainer.mu, full_trainer.mu)
    assert _strip(resumed.history) == _strip(full.history)
    assert _strip(_rows(tmp_path / "cut" / "log.jsonl")) == _strip(full.history)


def test_a_non_finite_figure_stops_a_single_run_naming_the_step(tmp_path):
    with pytest.raises(NonFiniteError, match=r"the figure\(s\) loss, mu turned non-finite "
                                             r"\(NaN or inf\) at step 13") as err:
        train(Mean(nan_at=[13]), CONFIG, run_dir=tmp_path)
    assert err.value.step == 13
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 10 and torch.isfinite(state["mu"]).all()  # the last finite one
    # a rerun resumes the finite checkpoint (and, the same data, stops at the same step)
    with pytest.raises(NonFiniteError, match="at step 13"):
        train(Mean(nan_at=[13]), CONFIG, run_dir=tmp_path)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 10


def test_a_pack_member_that_fails_stops_alone_and_callbacks_follow_members(tmp_path):
    seen = [[], []]

    class Record:
        def __init__(self, k):
            self.k, self.closed = k, False

        def __call__(self, step, info):
            seen[self.k].append((step, info["row"]))

        def close(self):
            self.closed = True

    callbacks = [[Record(0)], [Record(1)]]
    dirs = [tmp_path / "m0", tmp_path / "m1"]
    results = train(Mean((1.0, -2.0), members=2, nan_at=[None, 7]), CONFIG,
                    run_dir=tmp_path / "pack", callbacks=callbacks, member_dirs=dirs)
    assert [r.failed_at for r in results] == [None, 7] and [r.steps for r in results] == [30, 6]
    assert [r["step"] for r in results[1].history] == [4]
    assert [r["step"] for r in _rows(dirs[1] / "log.jsonl")] == [4]
    assert [s for s, _ in seen[0]] == list(range(1, 31)) and [s for s, _ in seen[1]] == [
        1, 2, 3, 4, 5, 6]
    assert all(cb.closed for cbs in callbacks for cb in cbs)
    state = torch.load(tmp_path / "pack" / "checkpoint.pt", weights_only=True)
    assert state["members"] == 2 and state["failed"] == [0, 7] and len(state["history"]) == 2
    with pytest.raises(ValueError, match="holds a pack"):
        train(Mean(), CONFIG, run_dir=tmp_path / "pack")


def test_every_member_failed_ends_the_pack():
    results = train(Mean((1.0, 2.0), members=2, nan_at=[5, 9]), CONFIG)
    assert [r.failed_at for r in results] == [5, 9]


def test_plain_progress_lines_off_a_terminal(capsys, monkeypatch):
    from qlatent import _progress

    monkeypatch.setattr(_progress, "PLAIN_SECONDS", 0.0)  # a line at every logged step
    train(Mean(), CONFIG.replace(log_every=1), progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 30 and lines[-1].startswith("train: 30 / 30 (100 %), ")
    number = r"[-+][\d.e+-]+"
    assert re.fullmatch(rf"train: 30 / 30 \(100 %\), \d+ s, [\d,.]+/s  loss {number}  mu {number}",
                        lines[-1]), lines[-1]
    monkeypatch.setattr(_progress, "PLAIN_SECONDS", 3600.0)
    train(Mean(), CONFIG, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("train: 30 / 30 (100 %)")  # only the end


def test_progress_runs_through_train(capsys):
    train(Mean(), CONFIG, progress=True)
    err = capsys.readouterr().err
    assert "train: 30 / 30 (100 %)" in err


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps must be >= 1, got 0"), ({"log_every": 0}, "log_every"),
    ({"checkpoint_every": -1}, "checkpoint_every"), ({"steps": 1.5}, "steps must be an integer"),
])
def test_loop_config_is_validated(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        LoopConfig(**kwargs)


def test_loop_config_round_trips_and_names_unknown_keys():
    config = LoopConfig(steps=7)
    assert LoopConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="'stpes'"):
        LoopConfig.from_dict({"stpes": 3})


@dataclass(frozen=True)
class WithLr(LoopConfig):
    lr: float = 0.1
    """A trainer's own field."""


def test_a_resume_with_another_config_is_refused(tmp_path):
    train(Mean(), WithLr(steps=10), run_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different config \(lr: 0.1 -> 0.2\)"):
        train(Mean(), WithLr(steps=20, lr=0.2), run_dir=tmp_path)
    assert train(Mean(), WithLr(steps=20), run_dir=tmp_path)[0].resumed_from == 10

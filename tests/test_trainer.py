"""The trainer: exact resume, refusal on a changed config, NaN guard, atomic files."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from genbench.api import DataInfo, ModelConfig
from genbench.errors import GenbenchError
from genbench.registry import get_dataset, get_model, names
from genbench.run.plan import RunOptions
from genbench.run.runner import run
from genbench.run.trainer import Schedule, train
from genbench.store.runconfig import RunConfig, RunSettings
from genbench.store.runfolder import CHECKPOINT, RunFolder


@pytest.fixture(scope="module")
def data():
    return get_dataset("shapes")().load("train", 16, 64, 0)


def _vae(seed=0):
    torch.manual_seed(seed)
    cls = get_model("vae")
    return cls(cls.Config(latent_dim=8, width=1 / 16, batch_size=8, steps=6), DataInfo("shapes", 16, 64))


def _run_config(model):
    return RunConfig("shapes", "a", 3, "vae", RunSettings(image_size=16, n_train=64), model.config.to_dict())


def _train(model, data, run_dir, steps, config=None, fresh=False):
    model.config.steps = steps  # the trainer trains to the model config's steps
    cfg = config or _run_config(model)
    folder = RunFolder(run_dir)
    if fresh:
        folder.reset()
    return train(model, data, folder, Schedule(seed=3, ckpt_every=3, sample_every=100, log_every=10), cfg,
                 progress=False)


def test_steps_have_one_home_the_model_config():
    assert "steps" not in {f.name for f in dataclasses.fields(Schedule)}
    for name in names("models"):
        config = get_model(name).Config
        homes = [c.__name__ for c in config.__mro__ if "steps" in c.__dict__.get("__annotations__", {})]
        assert homes == ["ModelConfig"] or config.steps != ModelConfig.steps, (name, homes)  # no copy of the default


def test_resume_reproduces_an_uninterrupted_run(data, tmp_path):
    straight = _vae()
    _train(straight, data, tmp_path / "a", 6)
    interrupted = _vae()
    _train(interrupted, data, tmp_path / "b", 3)  # "killed" after its step-3 checkpoint
    resumed = _vae(seed=99)  # a fresh process: different init, restored from the checkpoint
    res = _train(resumed, data, tmp_path / "b", 6)
    assert res.resumed_from == 3 and res.step == 6
    for (n, p), q in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(p, q), n
    log = (tmp_path / "b" / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and log[-1].startswith("6,")


def test_changed_config_refuses_to_resume(data, tmp_path):
    m = _vae()
    _train(m, data, tmp_path, 3)
    with pytest.raises(GenbenchError, match="different config.*lr"):
        other = _vae()
        other.config.lr = 1.0
        _train(other, data, tmp_path, 6)
    # --fresh starts over instead
    res = _train(_vae(), data, tmp_path, 3, config=dataclasses.replace(_run_config(m), model={"lr": 1.0}), fresh=True)
    assert res.resumed_from == 0


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(data, tmp_path):
    m = _vae()
    real_step = m.train_step

    def poisoned(batches, step):
        losses = real_step(batches, step)
        return {**losses, "loss": float("nan")} if step == 5 else losses

    m.train_step = poisoned
    res = _train(m, data, tmp_path, 6)
    assert res.status == "diverged" and "step 5" in res.message and "loss" in res.message
    ckpt = torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert ckpt["step"] == 3  # the last checkpoint before the NaN
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_run_folder_contents(data, tmp_path):
    m = _vae()
    _train(m, data, tmp_path, 3)
    names = {p.name for p in tmp_path.iterdir()}
    assert {CHECKPOINT, "config.json", "samples.png", "reconstructions.png", "train_log.csv"} <= names
    assert json.loads((tmp_path / "config.json").read_text()) == _run_config(m).to_json()


def test_resume_cuts_the_log_back_to_the_checkpoint_and_a_fresh_start_replaces_it(data, tmp_path):
    _train(_vae(), data, tmp_path, 3)  # checkpoint at step 3
    log = tmp_path / "train_log.csv"
    header = log.read_text().splitlines()[0]
    with log.open("a") as f:  # what a run killed at step 5 had appended after its step-3 checkpoint
        f.write("4,1,1,1\r\n5,1,1,1\r\n6,1")
    res = _train(_vae(), data, tmp_path, 6)
    assert res.resumed_from == 3
    steps = [line.split(",")[0] for line in log.read_text().splitlines()]
    assert steps == ["step", "3", "6"]  # log_every 10: the checkpoint's row, then the last step; no duplicates

    (tmp_path / CHECKPOINT).unlink()  # killed before its first checkpoint: the next start is from step 0
    log.write_text(header + "\n9,1,1,1\n")
    _train(_vae(), data, tmp_path, 3)
    assert [line.split(",")[0] for line in log.read_text().splitlines()] == ["step", "3"]


def test_a_runs_outcome_says_where_its_training_started(tmp_path):
    """The runner's outcome carries the step it resumed from, so that a caller timing a stage (the interpretability
    benchmark's --budget-min) counts only the steps this call trained."""
    def go(steps):
        (o,) = run(RunOptions(["vae"], preset="tiny", results=tmp_path, metrics=["swd"], steps=steps,
                              progress=False, log=["none"]), echo=lambda *a, **k: None)
        assert o.status == "finished"
        return o

    first, second = go(2), go(5)
    assert (first.resumed_from, second.resumed_from) == (0, 2)
    assert second.seconds > 0

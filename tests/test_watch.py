"""Watching a run (issue 27): metrics.jsonl and TensorBoard event files, read back with TensorBoard's own reader
and served by the real ``tensorboard``; a resumed run's logs hold each step once; ``--log`` is checked."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RUN = ["run", "--models", "ours", "--preset", "tiny", "--device", "cpu", "--metrics", "swd", "--no-progress"]
LANGEVIN = {"z_norm_before", "mse_before", "energy_before", "energy_after"}  # ours' chains, before and after
LOSSES = {"f_loss", "f_real", "f_fake", "f_gen", "g_loss", "mse", "z_norm"} | LANGEVIN  # what ours' train_step reports


def _run_dir(results: Path) -> Path:
    return results / "shapes" / "ours" / "tiny-seed0"


def _jsonl(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


QUICK = {"swd@64", "fd_rand@256"}  # genbench.run.quick at tiny: 256 training images


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny ``ours`` run (20 steps, a log every 5, images every 2: the default tenth of the run, quick metrics
    every 10: a tiny run has none unless asked)."""
    from genbench.cli import main

    results = tmp_path_factory.mktemp("watch")
    try:
        main([*RUN, "--results", str(results), "--set", "quick_every=10"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return _run_dir(results)


def test_tensorboard_reads_back_every_scalar_at_every_logged_step_and_the_image_grids(trained):
    acc = _events(trained)
    tags = acc.Tags()
    assert {f"train/{k}" for k in LOSSES} | {"speed/images_per_s", "lr/g", "lr/f"} <= set(tags["scalars"])
    assert any(t.startswith("memory/") for t in tags["scalars"])
    quick = {f"quick/{k}" for k in QUICK} | {"speed/quick_seconds"}
    for tag in tags["scalars"]:
        assert [e.step for e in acc.Scalars(tag)] == ([10, 20] if tag in quick else [5, 10, 15, 20]), tag
    assert quick <= set(tags["scalars"])
    assert {"samples/fixed_z", "reconstructions/train"} <= set(tags["images"])  # ours infers
    grids = acc.Images("samples/fixed_z")
    assert [e.step for e in grids] == list(range(2, 21, 2))
    assert [e.step for e in acc.Images("reconstructions/train")] == list(range(4, 21, 4))  # every other grid
    assert grids[0].width > 16 and grids[0].height > 16
    from PIL import Image

    from genbench.run.runlog import grid_files

    pngs = grid_files(trained / "watch")  # the same grids as PNGs, for the report's strip
    assert [s for s, _ in pngs] == list(range(2, 21, 2))
    assert Image.open(pngs[0][1]).size == (grids[0].width, grids[0].height)


def test_metrics_jsonl_has_one_object_per_logged_step_with_the_losses(trained):
    rows = _jsonl(trained)
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    for r in rows:
        assert set(r["losses"]) == LOSSES and all(isinstance(v, float) for v in r["losses"].values())
        assert r["images_per_s"] > 0 and set(r["lr"]) == {"g", "f"} and r["time"] > 1e9
        assert ("quick" in r) == (r["step"] % 10 == 0)  # quick metrics every 10 steps, in the same step's row
    for r in rows[1::2]:
        assert set(r["quick"]) == QUICK and all(v > 0 for v in r["quick"].values()) and r["quick_seconds"] > 0
    csv_steps = [int(line.split(",")[0]) for line in (trained / "train_log.csv").read_text().splitlines()[1:]]
    assert csv_steps == [r["step"] for r in rows]  # the same steps as train_log.csv
    # the Langevin diagnostics: the chains lower the posterior energy (on average over the logged steps)
    before, after = ([r["losses"][f"energy_{k}"] for r in rows] for k in ("before", "after"))
    assert sum(after) < sum(before)


def test_a_resumed_run_has_each_step_once_in_both_logs(cli, tmp_path):
    """A run killed after logging steps past its checkpoint (staged: the step-10 checkpoint put back under logs that
    reach step 20), then rerun: both logs are cut back to step 10 and continue, each step once."""
    run = _run_dir(tmp_path)
    args = [*RUN, "--results", str(tmp_path), "--set", "log_every=2"]
    assert cli(*args, "--steps", "10")[0] == 0
    shutil.copy(run / "checkpoint.pt", tmp_path / "step10.pt")
    assert cli(*args, "--steps", "20")[0] == 0
    shutil.copy(tmp_path / "step10.pt", run / "checkpoint.pt")  # as if killed before the step-20 checkpoint
    (run / "results.json").unlink()  # ... and before its evaluation
    shutil.copy(run / "watch" / "fixed_z-20.png", run / "watch" / "fixed_z-13.png")  # a grid the rerun will not write
    code, out, err = cli(*args, "--steps", "20")
    assert code == 0, err
    assert "resuming from step 10" in out
    assert [r["step"] for r in _jsonl(run)] == list(range(2, 21, 2))
    acc = _events(run)
    for tag in ("train/g_loss", "lr/g"):
        assert [e.step for e in acc.Scalars(tag)] == list(range(2, 21, 2)), tag
    # images every tenth of the run: of 10 steps until the checkpoint, of 20 after it; the same grids as PNGs, the
    # later steps' cut back (fixed_z-13.png) and written again
    assert [e.step for e in acc.Images("samples/fixed_z")] == [*range(1, 11), *range(12, 21, 2)]
    from genbench.run.runlog import grid_files

    assert [s for s, _ in grid_files(run / "watch")] == [*range(1, 11), *range(12, 21, 2)]
    # the earlier sessions' event files were rewritten: no reader sees a step beyond the checkpoint twice
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps = [e.step for f in sorted((run / "tb").iterdir()) for e in EventFileLoader(str(f)).Load()
             if e.summary.value and e.summary.value[0].tag == "train/g_loss"]
    assert sorted(steps) == list(range(2, 21, 2))


# A signal-stopped run's logs end at its saved step and the rerun continues them: checked inside
# test_reliability.py's SIGTERM test (the same stopped run, no second one).


def test_log_option_is_checked_and_none_writes_no_watch_log(cli, tmp_path):
    code, _, err = cli(*RUN, "--results", str(tmp_path), "--log", "jsonl,wandb")
    assert code == 2 and "--log wandb: not a kind of log; choose from jsonl, tensorboard" in err
    assert not tmp_path.joinpath("shapes").exists()
    code, _, err = cli(*RUN, "--results", str(tmp_path), "--steps", "4", "--log", "none")
    assert code == 0, err
    run = _run_dir(tmp_path)
    assert (run / "train_log.csv").exists() and not (run / "metrics.jsonl").exists() and not (run / "tb").exists()
    assert not (run / "watch").exists()


@pytest.mark.parametrize("name", ["tb", "watch"])
def test_a_linked_tb_or_watch_folder_is_refused(cli, tmp_path, name):
    run, elsewhere = _run_dir(tmp_path / "res"), tmp_path / "elsewhere"
    run.mkdir(parents=True)
    elsewhere.mkdir()
    (run / name).symlink_to(elsewhere)
    code, _, err = cli(*RUN, "--results", str(tmp_path / "res"), "--steps", "4")
    assert code != 0 and "symbolic link" in err and list(elsewhere.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_serves_a_scalar_series_over_http(trained):
    exe = shutil.which("tensorboard") or str(Path(sys.executable).with_name("tensorboard"))
    if not Path(exe).exists():
        pytest.skip("the tensorboard executable is not installed")
    logdir = trained.parents[2]  # the results folder, as README says: tensorboard --logdir results
    port = _free_port()
    proc = subprocess.Popen([exe, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
                             "--reload_interval", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    run = "shapes/ours/tiny-seed0/tb"
    url = (f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?"
           + urllib.parse.urlencode({"tag": "train/g_loss", "run": run}))
    try:
        series, end = None, time.monotonic() + 25
        while series is None and time.monotonic() < end:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(url, timeout=3) as r:
                    data = json.loads(r.read())
                series = data if data else None  # empty until the first load of the logdir
            except (OSError, ValueError):
                pass
            if series is None:
                time.sleep(0.5)
        assert series is not None, "tensorboard served no scalars within 25 s"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert [row[1] for row in series] == [5, 10, 15, 20]  # [wall_time, step, value]
    g_loss = [r["losses"]["g_loss"] for r in _jsonl(trained)]
    assert [row[2] for row in series] == pytest.approx(g_loss, rel=1e-5)


def _train_ours(folder: Path, logs: tuple[str, ...], quick_every: int) -> dict:
    """6 steps of a tiny ``ours`` on 64 images, logged every 4 steps; its final state."""
    import dataclasses

    from genbench import registry
    from genbench.api import DataInfo
    from genbench.run.config import resolve
    from genbench.run.trainer import Schedule, train
    from genbench.store.runconfig import RunConfig
    from genbench.store.runfolder import RunFolder

    cls = registry.get_model("ours")
    run, cfgs = resolve("tiny", ["ours"], {"ours": cls}, sets={"steps": "6", "n_train": "64"})
    data = registry.get_dataset("shapes")().load("train", run.image_size, 64, 0)
    torch.manual_seed(0)
    model = cls(cfgs["ours"], DataInfo("shapes", run.image_size, len(data)))
    config = RunConfig("shapes", "tiny", 0, "ours", dataclasses.replace(run, quick_every=quick_every),
                       model.config.to_dict())
    schedule = Schedule(0, ckpt_every=100, sample_every=100, log_every=4, logs=logs, quick_every=quick_every)
    train(model, data, RunFolder(folder), schedule, config, progress=False)
    return model.state_dict()


def test_quick_metrics_come_at_their_steps_and_change_no_training_number(tmp_path):
    """Quick metrics every 3 steps, logs every 4: step 3's row has only the quick object, step 6's both; the
    trained state and train_log.csv are bit for bit those of a run that watches nothing."""
    watched = _train_ours(tmp_path / "watched", ("jsonl", "tensorboard"), quick_every=3)
    plain = _train_ours(tmp_path / "plain", (), quick_every=0)
    assert all(torch.equal(watched[k], plain[k]) for k in plain)
    assert (tmp_path / "watched" / "train_log.csv").read_text() == (tmp_path / "plain" / "train_log.csv").read_text()
    rows = _jsonl(tmp_path / "watched")
    assert [(r["step"], "losses" in r, sorted(r.get("quick", {}))) for r in rows] == [
        (3, False, ["fd_rand@64", "swd@64"]), (4, True, []), (6, True, ["fd_rand@64", "swd@64"])]
    assert "images_per_s" not in rows[0] and rows[0]["quick_seconds"] > 0
    acc = _events(tmp_path / "watched")
    assert [e.step for e in acc.Scalars("quick/swd@64")] == [3, 6]


def test_quick_metrics_default_to_three_points_at_least_100_steps_apart():
    from genbench.run.quick import default_quick_every, is_due

    assert default_quick_every(600) == 200 and default_quick_every(1500) == 500  # small: ours, the baselines
    assert default_quick_every(20) == 100  # tiny: none unless asked
    assert not is_due(120, 0) and is_due(400, 200) and not is_due(250, 200)

"""Data-parallel training (genbench.run.distributed): 2 CPU processes with gloo, started as torchrun
starts them (RANK / WORLD_SIZE / MASTER_ADDR in the environment), against one process."""

from __future__ import annotations

import functools
import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from genbench.cli import main
from genbench.store.runfolder import CHECKPOINT

# The 2-process run and the 1-process run see the same global batches; they differ only in the
# order of floating-point sums (each rank's mean gradient, then the mean of the two). Measured on
# tiny abp-sparse over 6 steps (values up to 4.7): on an Intel machine the largest difference was
# 3.2e-6; on an AMD EPYC (AVX2) 6.8e-5, in one element of generator.fc.weight's 320,000, with 99 % of
# every tensor's elements within 2.8e-6. Adam with beta1 = 0 moves an element by about lr (7e-4) a
# step whatever its gradient's size, so round-off on a gradient near zero can show in a single
# element. A run on other batches (one process at batch 8 against the two at 16) differs at the
# 99th percentile by 5e-4 to 5e-2 per tensor, 50x this tolerance and more.
TOLERANCE = 1e-5  # the 99th percentile of |difference| per tensor
MAX_DIFF = 7e-4  # and no element further apart than one Adam step (the tiny preset's lr)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _noise_free_langevin():
    """The compared runs use Langevin without noise, so 1 and 2 processes can be compared number for
    number (with noise, each rank draws its own)."""
    from genbench.langevin import langevin

    return functools.partial(langevin, noise=False)


def _worker(rank: int, world: int, port: int, args: list[str], deterministic: bool) -> None:
    import os

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    if deterministic:
        import genbench_plugins.ours

        genbench_plugins.ours.langevin = _noise_free_langevin()
    try:
        main(args)
    except SystemExit as exc:
        if exc.code:
            raise


def _spawn(args: list[str], world: int = 2, deterministic: bool = False) -> None:
    mp.spawn(_worker, args=(world, _free_port(), args, deterministic), nprocs=world, join=True)


def _args(results, *extra) -> list[str]:
    return ["run", "--preset", "tiny", "--results", str(results), "--no-progress", *extra]


def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path, monkeypatch, cli):
    args = ["--models", "abp-sparse", "--steps", "6", "--metrics", "sparsity", "--set", "batch_size=16",
            "--set", "quick_every=6"]  # quick metrics: rank 0 alone computes them, the others go on
    _spawn(_args(tmp_path / "ddp", *args), deterministic=True)
    threads = torch.get_num_threads()
    with monkeypatch.context() as m:
        m.setattr("genbench_plugins.ours.langevin", _noise_free_langevin())
        torch.set_num_threads(1)  # as each rank: the kernels' sums in the same order, whatever the machine's cores
        try:
            code, _, err = cli(*_args(tmp_path / "one", *args))
        finally:
            torch.set_num_threads(threads)
    assert code == 0, err
    run = "shapes/abp-sparse/tiny-seed0"
    ddp = torch.load(tmp_path / "ddp" / run / CHECKPOINT, weights_only=False)
    one = torch.load(tmp_path / "one" / run / CHECKPOINT, weights_only=False)
    assert ddp["step"] == one["step"] == 6 and ddp["world_size"] == 2 and len(ddp["rng_ranks"]) == 2
    assert torch.equal(ddp["stream"]["perm"], one["stream"]["perm"]) and ddp["stream"]["pos"] == one["stream"]["pos"]
    for name, a in one["model"]["model"].items():
        b = ddp["model"]["model"][name]
        diff = (a - b).abs().flatten().float()
        assert diff.quantile(0.99) <= TOLERANCE and diff.max() <= MAX_DIFF, (name, diff.max())
    # every example of the 6 global batches had its chain revised, rank 1's half included
    seen = set(one["stream"]["perm"][:one["stream"]["pos"]].tolist())
    assert len(seen) == 6 * 16
    # evaluation ran once, in rank 0's run folder; no other rank wrote there
    assert (tmp_path / "ddp" / run / "results.json").exists()
    rows = [[json.loads(line) for line in (tmp_path / r / run / "metrics.jsonl").read_text().splitlines()]
            for r in ("ddp", "one")]
    steps = [[row["step"] for row in r] for r in rows]
    assert steps[0] == steps[1] and len(set(steps[0])) == len(steps[0])  # the watch log once, by rank 0
    assert [sorted(r[-1]["quick"]) for r in rows] == [["fd_rand@256", "swd@64"]] * 2
    assert sorted(p.name for p in (tmp_path / "ddp" / run).iterdir()) == \
        sorted(p.name for p in (tmp_path / "one" / run).iterdir())


def test_critic_and_gan_models_train_on_two_processes_and_resume_on_one(tmp_path, cli):
    _spawn(_args(tmp_path, "--models", "ours,wgan", "--steps", "4", "--metrics", "swd"))
    for model in ("ours", "wgan"):
        ckpt = torch.load(tmp_path / "shapes" / model / "tiny-seed0" / CHECKPOINT, weights_only=False)
        assert ckpt["step"] == 4 and ckpt["world_size"] == 2
        assert all(torch.isfinite(v).all() for v in ckpt["model"]["model"].values() if v.is_floating_point())
    code, out, err = cli(*_args(tmp_path, "--models", "ours", "--steps", "6", "--metrics", "swd"))
    assert code == 0, err
    assert "trained steps 4->6" in out


def test_batch_not_divisible_by_the_processes_is_one_sentence():
    from genbench.api import DataInfo
    from genbench.errors import GenbenchError
    from genbench.registry import get_dataset, get_model
    from genbench.run.distributed import Distributed
    from genbench.run.trainer import BatchStream

    cls = get_model("vae")
    model = cls(cls.Config(latent_dim=8, width=1 / 16, batch_size=15), DataInfo("shapes", 16, 64))
    stream = BatchStream(get_dataset("shapes")().load("train", 16, 64, 0), 15, torch.device("cpu"), 0)
    group = Distributed(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"))
    with pytest.raises(GenbenchError, match="batch_size 15 is not divisible by the 2 processes; pass --set"):
        group.setup(model, stream, 0, None)


def _signalled_worker(rank: int, world: int, port: int, args: list[str], codes) -> None:
    """Rank 1 alone gets SIGUSR1, during its step 3; rank 0 never does."""
    import os
    import signal

    from genbench.registry import get_model

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    cls = get_model("vae")
    real = cls.train_step

    def train_step(self, batches, step):
        if rank == 1 and step == 3:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real(self, batches, step)

    cls.train_step = train_step
    try:
        main(args)
    except SystemExit as exc:
        (codes / f"rank{rank}").write_text(str(exc.code))


def test_a_signal_on_one_rank_stops_every_rank_after_the_same_step(tmp_path):
    codes = tmp_path / "codes"
    codes.mkdir()
    args = _args(tmp_path / "res", "--models", "vae", "--steps", "8", "--metrics", "swd")
    mp.spawn(_signalled_worker, args=(2, _free_port(), args, codes), nprocs=2, join=True)
    assert [(codes / f"rank{r}").read_text() for r in (0, 1)] == ["138", "138"]  # 128 + SIGUSR1 on both
    ckpt = torch.load(tmp_path / "res" / "shapes" / "vae" / "tiny-seed0" / CHECKPOINT, weights_only=False)
    assert ckpt["step"] == 3 and ckpt["world_size"] == 2 and len(ckpt["rng_ranks"]) == 2
    assert not (tmp_path / "res" / "shapes" / "vae" / "tiny-seed0" / "results.json").exists()


EVAL_METRICS = "fd_rand,kid_rand,prdc_rand,cmmd_rand,copying,mse"


def _split_eval_worker(rank: int, world: int, port: int, args: list[str], counts: str) -> None:
    """A rank that embeds in batches of 32 (so 2 ranks have batches to split) and counts the batches it
    embedded itself."""
    from pathlib import Path

    from genbench.metrics.core import features, inference, shard

    features.CHUNK = 32
    inference.BATCH = 16  # the reconstruction metric's 64 + 64 images: 8 batches of z* to split
    real, infer = shard.embed_split, inference._infer_range
    done, inferred = [], []

    def counted(items, embed):
        return real(items, lambda item: done.append(1) or embed(item))

    shard.embed_split = counted
    inference._infer_range = lambda *a: inferred.append(a[-1]) or infer(*a)
    _worker(rank, world, port, args, False)
    Path(counts, f"rank{rank}").write_text(str(len(done)))
    Path(counts, f"inferred{rank}").write_text(json.dumps(inferred))


def _values(results) -> dict[str, float]:
    import json

    records = json.loads((results / "shapes" / "vae" / "tiny-seed0" / "results.json").read_text())["records"]
    return {r["metric"]: r["value"] for r in records}


def test_two_processes_evaluate_as_one_splitting_the_sampling_and_embedding(tmp_path, monkeypatch, cli):
    """The same trained model evaluated by one process and by two: the same values, number for number, and each
    rank embedded about half of the batches."""
    import shutil

    monkeypatch.setattr("genbench.metrics.core.features.CHUNK", 32)
    monkeypatch.setattr("genbench.metrics.core.inference.BATCH", 16)
    code, _, err = cli(*_args(tmp_path / "one", "--models", "vae", "--steps", "2", "--metrics", EVAL_METRICS))
    assert code == 0, err
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    (tmp_path / "two" / "shapes" / "vae" / "tiny-seed0" / "results.json").unlink()  # scores to compute again
    shutil.rmtree(tmp_path / "two" / ".cache")  # and the real features with them
    args = _args(tmp_path / "two", "--models", "vae", "--steps", "2", "--metrics", EVAL_METRICS)
    mp.spawn(_split_eval_worker, args=(2, _free_port(), args, str(tmp_path)), nprocs=2, join=True)
    one, two = _values(tmp_path / "one"), _values(tmp_path / "two")
    assert set(one) == set(two) and len(one) == 10 and "mse_heldout" in one
    assert one == two  # CPU: bit for bit
    done = [int((tmp_path / f"rank{r}").read_text()) for r in (0, 1)]
    assert min(done) > 0 and abs(done[0] - done[1]) <= 2  # generated chunks, training batches, z* batches: split
    inferred = [json.loads((tmp_path / f"inferred{r}").read_text()) for r in (0, 1)]
    assert len(inferred[0]) == len(inferred[1]) == 4  # mse's 4 + 4 batches of 16: each rank inferred half
    assert not {tuple(r) for r in inferred[0]} & {tuple(r) for r in inferred[1]}


def test_genbench_eval_of_an_image_file_splits_over_two_processes_with_the_same_values(tmp_path, monkeypatch, cli):
    import json

    import numpy as np

    images = tmp_path / "imgs.npz"
    np.savez(images, x=np.random.default_rng(0).integers(0, 256, (100, 16, 16, 3), dtype=np.uint8))
    monkeypatch.setattr("genbench.metrics.core.features.CHUNK", 32)
    common = ["eval", "--images", str(images), "--preset", "tiny", "--metrics", "fd_rand,kid_rand,prdc_rand"]
    code, _, err = cli(*common, "--results", str(tmp_path / "one"))
    assert code == 0, err
    mp.spawn(_split_eval_worker, args=(2, _free_port(), [*common, "--results", str(tmp_path / "two")], str(tmp_path)),
             nprocs=2, join=True)

    def values(results):
        records = json.loads((results / "shapes" / "imgs" / "tiny-seed0" / "results.json").read_text())["records"]
        return {r["metric"]: r["value"] for r in records}

    assert values(tmp_path / "one") == values(tmp_path / "two") and len(values(tmp_path / "one")) == 6
    assert all(int((tmp_path / f"rank{r}").read_text()) > 0 for r in (0, 1))
    run = ("shapes", "imgs", "tiny-seed0")
    assert sorted(p.name for p in tmp_path.joinpath("two", *run).iterdir()) == \
        sorted(p.name for p in tmp_path.joinpath("one", *run).iterdir())  # written once, by rank 0

"""The training loop: seeded, resumable, atomic checkpoints, NaN guard, sample grids, progress.

A checkpoint holds the full state (every network and optimizer, buffers such as a persistent latent
bank, all RNG states, the data order, the step and the config), so a killed run resumes where it
stopped, and a run whose config changed refuses to resume instead of mixing two experiments.
"""

from __future__ import annotations

import csv
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench import distributed
from genbench.accel import Acceleration
from genbench.api import Batch, GenerativeModel, ImageSet, capabilities
from genbench.errors import GenbenchError
from genbench.io import atomic_path, read_json, write_json
from genbench.validate import nonfinite_parameters
from genbench.viz import save_grid

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenbenchError(f"--device {name} was asked for but no CUDA device is visible; use --device cpu.")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class BatchStream(Iterator[Batch]):
    """Endless batches over the training set: a fresh seeded permutation each epoch.
    Its position is part of the checkpoint, so a resumed run sees the same data order."""

    def __init__(self, data: ImageSet, batch_size: int, device: torch.device, seed: int):
        if len(data) == 0:
            raise GenbenchError(f"Dataset '{data.name}' has no training images; check --set n_train.")
        self.data, self.device = data, device
        self.batch_size = min(batch_size, len(data))
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(data), generator=self.gen)
        self.pos = 0
        self.images_seen = 0

    def next_index(self) -> torch.Tensor:
        """The dataset indices of the next batch (advances the stream)."""
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.data), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        self.images_seen += len(idx)
        return idx

    def __next__(self) -> Batch:
        idx = self.next_index()
        return Batch(self.data.as_float(idx).to(self.device, non_blocking=True), idx.to(self.device))

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "perm": self.perm, "pos": self.pos, "seen": self.images_seen}

    def load(self, s: dict[str, Any]) -> None:
        self.gen.set_state(s["gen"])
        self.perm, self.pos, self.images_seen = s["perm"], s["pos"], s["seen"]


def _rng_state() -> dict[str, Any]:
    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(s: dict[str, Any]) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def save_checkpoint(run_dir: Path, model: GenerativeModel, stream: BatchStream, step: int,
                    config: dict[str, Any]) -> None:
    state = {"step": step, "model": model.training_state(), "stream": stream.state(), "rng": _rng_state(),
             "config": config}
    group = distributed.current()
    if group is not None:  # every rank's RNG state, so the same number of ranks resumes exactly
        state["rng_ranks"], state["world_size"] = group.all_gather(_rng_state()), group.world_size
        if not group.is_main:
            return
    with atomic_path(run_dir / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def load_checkpoint(run_dir: Path, device: torch.device) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:
        raise GenbenchError(f"Checkpoint {path} cannot be read ({type(exc).__name__}); delete it or "
                            f"rerun with --fresh to start this run over.") from None


def config_diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out


@dataclass
class TrainResult:
    status: str  # finished | diverged
    step: int
    seconds: float
    images_per_s: float
    message: str = ""
    resumed_from: int = 0


class _Log:
    """Loss log as CSV, appended every ``log_every`` steps (a resumed run continues the file)."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, step: int, losses: dict[str, float]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", *losses])
            w.writerow([step, *(f"{v:.6g}" for v in losses.values())])


def train(model: GenerativeModel, data: ImageSet, run_dir: Path, config: dict[str, Any], *, steps: int,
          seed: int, ckpt_every: int, sample_every: int, log_every: int = 10, progress: bool = True,
          fresh: bool = False, label: str = "", accel: Acceleration | None = None, echo=None) -> TrainResult:
    """Train ``model`` for ``steps`` steps in ``run_dir``, resuming from its checkpoint if present."""
    run_dir.mkdir(parents=True, exist_ok=True)
    device = model.device
    if fresh:
        for name in (CHECKPOINT, CONFIG, "train_log.csv"):
            (run_dir / name).unlink(missing_ok=True)
    saved_cfg = read_json(run_dir / CONFIG) if (run_dir / CONFIG).exists() else None
    ckpt = load_checkpoint(run_dir, device)
    if ckpt is not None and saved_cfg is not None:
        # steps may grow (train longer); anything else changing means a different experiment
        diff = config_diff(_without_steps(saved_cfg), _without_steps(config))
        if diff:
            raise GenbenchError(f"{run_dir} holds a run with a different config ({'; '.join(diff[:3])}); "
                                f"rerun with --fresh to overwrite it or pass another --results folder.")

    seed_everything(seed)
    stream = BatchStream(data, model.config.batch_size, device, seed)
    start = 0
    if ckpt is not None:
        try:
            model.load_training_state(ckpt["model"])
            stream.load(ckpt["stream"])
            _set_rng_state(ckpt["rng"])
            start = ckpt["step"]
        except Exception as exc:  # written by another model or version: refuse, do not train from a mix
            why = (str(exc).strip().splitlines() or [""])[0][:160]
            raise GenbenchError(f"Checkpoint {run_dir / CHECKPOINT} does not fit this model ({type(exc).__name__}: "
                                f"{why}); rerun with --fresh to start this run over.") from None
        if echo is not None:
            echo(f"{label or model.name}: resuming from step {start} ({run_dir / CHECKPOINT})")

    group = distributed.current()
    if group is not None:  # data-parallel (torchrun): every rank starts from rank 0's state
        stream, start, rng = group.setup(model, stream, start, ckpt)
        if rng is not None:
            _set_rng_state(rng)
        else:
            seed_everything(group.rank_seed(seed, start))
    write_json(run_dir / CONFIG, config)  # after the checkpoint proved loadable: a refusal changes nothing
    accel = accel or Acceleration()
    accel.prepare(model)
    grid_z = grid_latents(model, seed)
    log = _Log(run_dir / "train_log.csv")
    model.train()
    t0, seen0 = time.perf_counter(), stream.images_seen
    status, message, step = "finished", "", start

    bar = _progress(progress)
    task = bar.add_task(label or model.name, total=steps, completed=start, info="") if bar else None
    try:
        if bar:
            bar.start()
        for step in range(start + 1, steps + 1):
            with accel.autocast(device):
                losses = model.train_step(stream, step)
            if group is not None:
                losses = group.after_step(model, stream, losses)
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                status = "diverged"
                message = (f"{label or model.name} diverged at step {step} ({', '.join(bad)} is not finite); "
                           f"the last good checkpoint is kept in {run_dir}.")
                step -= 1
                break
            if step % log_every == 0 or step == steps:
                log.write(step, losses)
            if bar:
                rate = (stream.images_seen - seen0) / max(time.perf_counter() - t0, 1e-9)
                info = " ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:4])
                bar.update(task, completed=step, info=f"{rate:.0f} img/s {info}")
            if (step % ckpt_every == 0 and step < steps) or step == steps:
                bad = nonfinite_parameters(model)  # never checkpoint NaN/inf weights
                if bad:
                    status = "diverged"
                    message = (f"{label or model.name} diverged by step {step} (parameter {bad[0]} is not "
                               f"finite); the last good checkpoint is kept in {run_dir}.")
                    break
            if step % ckpt_every == 0 and step < steps:
                save_checkpoint(run_dir, model, stream, step, config)
            if step % sample_every == 0 or step == steps:
                _save_samples(model, grid_z, run_dir)
    finally:
        if bar:
            bar.stop()
        if group is not None:
            group.teardown()
    if status == "finished" and step > start:
        save_checkpoint(run_dir, model, stream, step, config)
    seconds = time.perf_counter() - t0
    rate = (stream.images_seen - seen0) / max(seconds, 1e-9)
    if status == "finished" and "inferrer" in capabilities(model) and step > start:
        _save_reconstructions(model, data, run_dir)
    return TrainResult(status, step, seconds, rate, message, start)


def grid_latents(model: GenerativeModel, seed: int) -> torch.Tensor:
    """The 64 latents behind samples.png (fixed per seed), so other tools can refer to sample i."""
    return model.prior(64, torch.Generator().manual_seed(seed + 12345))


def _without_steps(cfg: dict[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    model_cfg = dict(out.get("model", {}))
    model_cfg.pop("steps", None)
    out["model"] = model_cfg
    return out


@torch.no_grad()
def _save_samples(model: GenerativeModel, z: torch.Tensor, run_dir: Path) -> None:
    was = model.training
    model.eval()
    save_grid(model.generate(z).clamp(-1, 1).cpu(), run_dir / "samples.png")
    model.train(was)


def _save_reconstructions(model: GenerativeModel, data: ImageSet, run_dir: Path) -> None:
    idx = torch.arange(min(16, len(data)))
    x = data.as_float(idx).to(model.device)
    was = model.training
    model.eval()
    with torch.enable_grad():  # inference may run Langevin dynamics, which needs gradients
        rec = model.reconstruct(x, idx.to(model.device)).detach()
    model.train(was)
    save_grid(torch.cat([x.cpu(), rec.cpu()]), run_dir / "reconstructions.png", nrow=len(idx))


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"))

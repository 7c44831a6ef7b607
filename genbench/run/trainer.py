"""The training loop: seeded, resumable, atomic checkpoints, NaN guard, sample grids, progress.

A checkpoint holds the full state (every network and optimizer, buffers such as a persistent latent
bank, all RNG states, the data order, the step and the config), so a killed run resumes where it
stopped, and a run whose config changed refuses to resume instead of mixing two experiments. A run
trains to its model's ``config.steps`` (``ModelConfig.steps``: the one home of a run's length).
SIGTERM, SIGINT and SIGUSR1 stop the loop after the step in progress with a checkpoint of that step
(genbench.run.signals). train_log.csv always matches the state: a resumed run cuts it back to the
checkpoint's step, a run started from step 0 replaces it; so do the watch logs (metrics.jsonl and TensorBoard's
tb/: genbench.run.runlog), which rank 0 alone writes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genbench.api import Batch, GenerativeModel, ImageSet, capabilities
from genbench.errors import GenbenchError
from genbench.io import write_text
from genbench.rng import rng_state, seed_everything, set_rng_state
from genbench.run import distributed, signals
from genbench.run.accel import Acceleration
from genbench.run.quick import QuickMetrics, default_quick_every, is_due
from genbench.run.runlog import GRID_TAG, RunLog, default_watch_every, harness_values, reconstructions_due
from genbench.run.validate import nonfinite_parameters
from genbench.store.runconfig import RunConfig
from genbench.store.runfolder import CHECKPOINT, CONFIG, RECONSTRUCTIONS, SAMPLES, TRAIN_LOG, RunFolder
from genbench.viz import save_grid, to_unit


@dataclass(frozen=True)
class Schedule:
    """When the trainer does what: train from seed ``seed`` (to the model's ``config.steps``), checkpoint,
    sample and log every so many steps; which watch logs it writes (``logs``: genbench.run.runlog.KINDS), how
    often TensorBoard gets images (``watch_every``; None: ``runlog.default_watch_every``) and the watch logs get
    quick metrics (``quick_every``; None: ``quick.default_quick_every``; 0: never)."""

    seed: int
    ckpt_every: int
    sample_every: int
    log_every: int
    logs: tuple[str, ...] = ("jsonl",)
    watch_every: int | None = None
    quick_every: int | None = None


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


def save_checkpoint(folder: RunFolder, model: GenerativeModel, stream: BatchStream, step: int,
                    config: RunConfig) -> None:
    """The whole training state (see genbench.store.runfolder), with every rank's RNG state under torchrun."""
    state = {"step": step, "model": model.training_state(), "stream": stream.state(), "rng": rng_state(),
             "config": config.to_json(), "data": dataclasses.asdict(model.data)}
    group = distributed.current()
    if group is not None:  # every rank's RNG state, so the same number of ranks resumes exactly
        state["rng_ranks"], state["world_size"] = group.all_gather(rng_state()), group.world_size
        if not group.is_main:
            return
    folder.save_checkpoint(state)


@dataclass
class TrainResult:
    status: str  # finished | diverged (an interrupted run raises genbench.run.signals.Interrupted instead)
    step: int
    seconds: float
    images_per_s: float
    message: str = ""
    resumed_from: int = 0


class _Log:
    """Loss log as CSV, appended every ``log_every`` steps (a resumed run continues the file)."""

    def __init__(self, path: Path):
        self.path = path

    def cut(self, step: int) -> None:
        """Make the log match a state at ``step``: from step 0 there is no log yet; on resume the rows after
        the checkpoint's step (written before a kill, and about to be written again) go."""
        if step == 0 or not self.path.exists():
            self.path.unlink(missing_ok=True)
            return
        rows = list(csv.reader(self.path.read_text(errors="replace").splitlines()))
        width = len(rows[0]) if rows else 0  # a row cut short by a kill mid-append goes too
        kept = rows[:1] + [r for r in rows[1:] if len(r) == width and r[0].isdigit() and int(r[0]) <= step]
        if len(kept) == len(rows):
            return
        buf = io.StringIO(newline="")
        csv.writer(buf).writerows(kept)
        write_text(self.path, buf.getvalue())

    def write(self, step: int, losses: dict[str, float]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", *losses])
            w.writerow([step, *(f"{v:.6g}" for v in losses.values())])


def train(model: GenerativeModel, data: ImageSet, folder: RunFolder, schedule: Schedule, config: RunConfig, *,
          accel: Acceleration | None = None, progress: bool = True, echo=None) -> TrainResult:
    """Train ``model`` to ``model.config.steps`` in ``folder``, resuming from its checkpoint if present."""
    folder.path.mkdir(parents=True, exist_ok=True)
    label = config.model_name or model.name
    ckpt = _checked_checkpoint(folder, config, model.device)
    seed_everything(schedule.seed)
    stream = BatchStream(data, model.config.batch_size, model.device, schedule.seed)
    start = _resume(model, stream, ckpt, folder) if ckpt is not None else 0
    if ckpt is not None and echo is not None:
        echo(f"{label}: resuming from step {start} ({folder.file(CHECKPOINT)})")
    group = distributed.current()
    if group is not None:  # data-parallel (torchrun): every rank starts from rank 0's state
        stream, start, rng = group.setup(model, stream, start, ckpt)
        if rng is not None:
            set_rng_state(rng)
        else:
            seed_everything(group.rank_seed(schedule.seed, start))
    folder.write_config(config)  # after the checkpoint proved loadable: a refusal changes nothing
    _Log(folder.file(TRAIN_LOG)).cut(start)
    accel = accel or Acceleration()
    accel.prepare(model)
    t0, seen0 = time.perf_counter(), stream.images_seen
    runlog = RunLog(folder, schedule.logs, start, enabled=group is None or group.is_main)
    loop = _Loop(model, stream, folder, schedule, label, accel, config, runlog, data)
    with signals.stop_point():  # a signal ends the step in progress, then the checkpoint below is written
        try:
            status, message, step = _run_loop(loop, start, progress, group)
        finally:
            runlog.close()
        if status != "diverged" and step > start and loop.saved_at != step:
            save_checkpoint(folder, model, stream, step, config)
        seconds = time.perf_counter() - t0
        rate = (stream.images_seen - seen0) / max(seconds, 1e-9)
        if status != "diverged" and step == model.config.steps > start and "inferrer" in capabilities(model):
            _save_reconstructions(model, data, folder)
        if status == "interrupted":
            raise signals.Interrupted(message, loop.signum)
    return TrainResult(status, step, seconds, rate, message, start)


def _run_loop(loop: _Loop, start: int, progress: bool, group) -> tuple[str, str, int]:
    """``loop.run`` with its progress bar; the torchrun hooks are removed however it ends."""
    bar = _progress(progress)
    try:
        if bar:
            bar.start()
        return loop.run(start, bar)
    finally:
        if bar:
            bar.stop()
        if group is not None:
            group.teardown()


def _checked_checkpoint(folder: RunFolder, config: RunConfig, device: torch.device) -> dict[str, Any] | None:
    """The folder's checkpoint, refused when it was trained under another config (steps may grow)."""
    ckpt = folder.load_checkpoint(device)
    if ckpt is None:
        return None
    try:
        saved = folder.read_config()
        diff = config.changes_from(saved) if saved is not None else []
    except ValueError:  # a config genbench did not write: another experiment's, as far as anyone can tell
        diff = [f"its {CONFIG} is not genbench's"]
    if diff:
        raise GenbenchError(f"{folder} holds a run with a different config ({'; '.join(diff[:3])}); "
                            f"rerun with --fresh to overwrite it or pass another --results folder.")
    return ckpt


def _resume(model: GenerativeModel, stream: BatchStream, ckpt: dict[str, Any], folder: RunFolder) -> int:
    try:
        model.load_training_state(ckpt["model"])
        stream.load(ckpt["stream"])
        set_rng_state(ckpt["rng"])
        step = ckpt["step"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"its step is {step!r}, not a number of steps")
        return step
    except Exception as exc:  # written by another model or version: refuse, do not train from a mix
        why = (str(exc).strip().splitlines() or [""])[0][:160]
        raise GenbenchError(f"Checkpoint {folder.file(CHECKPOINT)} does not fit this model ({type(exc).__name__}: "
                            f"{why}); rerun with --fresh to start this run over.") from None


@dataclass
class _Loop:
    """The training loop proper: steps, the NaN guard, logs, checkpoints and sample grids."""

    model: GenerativeModel
    stream: BatchStream
    folder: RunFolder
    schedule: Schedule
    label: str
    accel: Acceleration
    config: RunConfig
    runlog: RunLog
    data: ImageSet
    signum: int = 0  # the signal that stopped the loop (status "interrupted")
    saved_at: int = -1  # the step of the last checkpoint the loop wrote
    last_log: tuple[float, int] = (0.0, 0)  # (time, images seen) at the last logged step: images/s over the interval

    def run(self, start: int, bar) -> tuple[str, str, int]:
        """Train from ``start``; returns (status, message, last good step)."""
        model, stream, sch, device = self.model, self.stream, self.schedule, self.model.device
        steps = model.config.steps
        group = distributed.current()
        grid_z = grid_latents(model, sch.seed)
        log = _Log(self.folder.file(TRAIN_LOG))
        task = bar.add_task(self.label, total=steps, completed=start, info="") if bar else None
        watch_every = sch.watch_every or default_watch_every(steps, sch.sample_every)
        quick_every = default_quick_every(steps) if sch.quick_every is None else sch.quick_every
        quick = QuickMetrics(self.data, sch.seed, device) if (
            self.runlog.kinds and quick_every and "generator" in capabilities(model)) else None
        model.train()
        t0, seen0, step = time.perf_counter(), stream.images_seen, start
        self.last_log = (t0, seen0)
        for step in range(start + 1, steps + 1):
            with self.accel.autocast(device):
                losses = model.train_step(stream, step)
            if group is not None:
                losses = group.after_step(model, stream, losses)
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                return "diverged", (f"{self.label} diverged at step {step} ({', '.join(bad)} is not finite); "
                                    f"the last good checkpoint is kept in {self.folder}."), step - 1
            logged = step % sch.log_every == 0 or step == steps
            if logged:
                log.write(step, losses)
            if self.runlog.kinds:
                self._watch_scalars(step, losses if logged else None,
                                    quick if quick is not None and is_due(step, quick_every) else None)
            if self.runlog.kinds and (step % watch_every == 0 or step == steps):
                recon = self.runlog.tensorboard and reconstructions_due(step, steps, watch_every)
                self.runlog.images(step, _watch_images(model, grid_z, self.data, recon))
            if bar:
                rate = (stream.images_seen - seen0) / max(time.perf_counter() - t0, 1e-9)
                info = " ".join(f"{k}={v:.3g}" for k, v in list(losses.items())[:4])
                bar.update(task, completed=step, info=f"{rate:.0f} img/s {info}")
            self.signum = signals.pending() if group is None else group.agree_stop(signals.pending())
            due = step % sch.ckpt_every == 0 and step < steps
            if (due or step == steps or self.signum) and nonfinite_parameters(model):  # never checkpoint NaN
                return "diverged", (f"{self.label} diverged by step {step} (parameter "
                                    f"{nonfinite_parameters(model)[0]} is not finite); the last good checkpoint "
                                    f"is kept in {self.folder}."), step
            if due:
                save_checkpoint(self.folder, model, stream, step, self.config)
                self.runlog.flush()  # a kill loses no logged step the checkpoint has
                self.saved_at = step
            if step % sch.sample_every == 0 or step == steps:
                _save_samples(model, grid_z, self.folder)
            if self.signum:
                return "interrupted", (f"interrupted at step {step} ({signals.name(self.signum)}): {self.label}'s "
                                       f"checkpoint of that step is in {self.folder}; the same command resumes "
                                       f"from it."), step
        return "finished", "", step

    def _watch_scalars(self, step: int, losses: dict[str, float] | None, quick: QuickMetrics | None) -> None:
        """The watch logs' scalars of ``step``: the losses and harness values at a logged step (images/s over
        the interval since the last one, the quick metrics' time left out), the quick metrics when due."""
        scores = quick(self.model) if quick is not None else None
        extra: dict[str, Any] = {"quick_seconds": round(quick.seconds, 3)} if quick is not None else {}
        if quick is not None:  # not training time
            self.last_log = (self.last_log[0] + quick.seconds, self.last_log[1])
        if losses is not None:
            now, seen = time.perf_counter(), self.stream.images_seen
            rate = (seen - self.last_log[1]) / max(now - self.last_log[0], 1e-9)
            extra = {**harness_values(self.model, self.model.device, rate), **extra}
            self.last_log = (now, seen)
        if losses is not None or scores:
            self.runlog.scalars(step, losses, extra, scores)


def grid_latents(model: GenerativeModel, seed: int) -> torch.Tensor:
    """The 64 latents behind samples.png (fixed per seed), so other tools can refer to sample i."""
    return model.prior(64, torch.Generator().manual_seed(seed + 12345))


@torch.no_grad()
def _save_samples(model: GenerativeModel, z: torch.Tensor, folder: RunFolder) -> None:
    was = model.training
    model.eval()
    save_grid(model.generate(z).clamp(-1, 1).cpu(), folder.file(SAMPLES))
    model.train(was)


def _reconstructions(model: GenerativeModel, data: ImageSet, n: int = 16) -> tuple[torch.Tensor, int]:
    """The first ``n`` training images above their reconstructions (2n images on the CPU), and n."""
    idx = torch.arange(min(n, len(data)))
    x = data.as_float(idx).to(model.device)
    was = model.training
    model.eval()
    with torch.enable_grad():  # inference may run Langevin dynamics, which needs gradients
        rec = model.reconstruct(x, idx.to(model.device)).detach()
    model.train(was)
    return torch.cat([x.cpu(), rec.cpu()]), len(idx)


def _save_reconstructions(model: GenerativeModel, data: ImageSet, folder: RunFolder) -> None:
    images, n = _reconstructions(model, data)
    save_grid(images, folder.file(RECONSTRUCTIONS), nrow=n)


def _watch_images(model: GenerativeModel, z: torch.Tensor, data: ImageSet,
                  reconstructions: bool) -> dict[str, torch.Tensor]:
    """The watch logs' images: samples from the fixed latents ``z`` and, for inferrers when ``reconstructions``
    (TensorBoard is written), 8 reconstructions. The random state is put back afterwards (a model's sampler or
    inference may draw), so watching a run never changes what it trains."""
    from torchvision.utils import make_grid

    state = rng_state()
    try:
        with torch.no_grad():
            was = model.training
            model.eval()
            samples = model.generate(z[:32]).clamp(-1, 1).float().cpu()
            model.train(was)
        out = {GRID_TAG: make_grid(to_unit(samples), nrow=8, padding=1, pad_value=1.0)}
        if reconstructions and "inferrer" in capabilities(model):
            images, n = _reconstructions(model, data, 8)
            out["reconstructions/train"] = make_grid(to_unit(images.clamp(-1, 1).float()), nrow=n, padding=1,
                                                     pad_value=1.0)
    finally:
        set_rng_state(state)
    return out


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # the label (a model name) and the losses are text, not markup
    return Progress(TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}", markup=False))

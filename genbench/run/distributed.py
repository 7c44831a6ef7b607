"""Data-parallel training across processes started by ``torchrun`` (NCCL on GPUs, gloo on CPU).

``torchrun --nproc_per_node N -m genbench run ...`` (or ``srun torchrun ...`` under SLURM) trains one
model on N processes. What each rank does:

- **Data.** Every rank walks the *same* seeded permutation as a single process would, and takes its
  slice (rank r gets rows r*b..(r+1)*b of each global batch of ``batch_size = N * b`` images). So the
  global batch of step t is the single-process run's batch of step t: ``batch_size`` and the
  learning rates keep their meaning whatever N is, and ``batch_size`` must be divisible by N.
- **Gradients.** Every optimizer of the model gets a step pre-hook that averages its parameters'
  gradients over the ranks (one all-reduce per ``optimizer.step()``). This serves every model, GANs
  with several players included, without touching the plugins: PyTorch's ``DistributedDataParallel``
  wrapper needs each wrapped module's forward to be followed by one backward that reaches its
  parameters, which multi-player loops break (a generator forward feeding a detached critic step, a
  critic frozen during the generator's step, ``autograd.grad`` with ``create_graph`` for gradient
  penalties, Langevin gradients with respect to the input only). The only requirement here is that
  every rank calls each optimizer's ``step()`` the same number of times in the same order, which
  every built-in model does (its control flow depends on the step number, never on the data).
  Communication is not overlapped with the backward pass as DDP's buckets would; for the Table-1
  networks (a few million parameters) one flat all-reduce per step is a small cost.
- **Persistent chains.** Buffers a model lists in ``example_buffers`` (the latent bank of ``ours`` and
  its ablations, one row per training example) are sharded by example index: during a step each rank
  revises only the rows of the examples in its slice, then the revised rows are all-gathered, so every
  rank holds the whole, current bank after every step (B x latent_dim numbers per step). This keeps
  the bank identical on every rank, so rank 0's checkpoint is complete and resumes on any number of
  ranks, and evaluation (which starts inference from the bank) needs no gathering.
- **Other buffers** (batch-norm running statistics) are broadcast from rank 0 after every step, as
  DDP's ``broadcast_buffers`` does; batch statistics themselves are per rank (no SyncBatchNorm).
- **Randomness.** Rank r draws its own random numbers (seeded from the run seed, r and the start
  step), so the ranks' fake samples and Langevin noise differ, as in a larger single batch.
- **Signals.** SIGTERM, SIGINT or SIGUSR1 on any rank stops every rank after the same step
  (``agree_stop``: a max all-reduce of the pending signal after each step); they write one checkpoint
  together and exit with 128 + the signal's number (genbench.run.signals).
- **Files.** Only rank 0 writes the run folder (checkpoints, logs, samples, results); the other ranks
  train in a scratch folder that is removed afterwards. Every rank evaluates, splitting the sampling, latent
  inference and feature extraction (genbench.metrics.core.shard) on rank 0's previous records (so all ranks compute the
  same metrics and their collectives meet). A checkpoint holds every rank's RNG
  state: resuming on the same number of ranks continues exactly; on another number it continues the
  same data order and state with fresh random draws.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from genbench.api import Batch, GenerativeModel
from genbench.errors import GenbenchError
from genbench.rng import STATE_TYPES

# Collectives wait this long for the slowest rank; rank 0 evaluates alone while the others wait at the
# next model's start, so it must cover a full evaluation. $GENBENCH_DIST_TIMEOUT_MIN overrides it.
DEFAULT_TIMEOUT_MIN = 240


@dataclass
class Distributed:
    """This process's place in a data-parallel group."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    _hooks: list[Any] = field(default_factory=list, repr=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- set-up ----------------------------------------------------------------------------
    def setup(self, model: GenerativeModel, stream, start: int,
              ckpt: dict[str, Any] | None) -> tuple[ShardedBatches, int, dict[str, Any] | None]:
        """Make this rank's copy of the run identical to rank 0's (model, optimizers, data position,
        step), hook gradient averaging into the optimizers and shard the batches. Returns the sharded
        stream, the start step, and this rank's saved RNG state when the checkpoint was written by
        as many ranks (else None: the caller seeds with ``rank_seed``)."""
        if stream.batch_size % self.world_size:
            raise GenbenchError(f"batch_size {stream.batch_size} is not divisible by the {self.world_size} "
                                f"processes; pass --set batch_size=N with N a multiple of {self.world_size}.")
        state = None
        if self.is_main:
            state = {"start": start, "model": model.training_state(), "stream": stream.state(),
                     "rng_ranks": (ckpt or {}).get("rng_ranks")}
        state = self.broadcast(state)
        if not self.is_main:
            model.load_training_state(state["model"])
            stream.load(state["stream"])
        for opt in model.optimizers.values():
            self._hooks.append(opt.register_step_pre_hook(self._average_gradients))
        ranks = state["rng_ranks"]
        rng = ranks[self.rank] if ranks is not None and len(ranks) == self.world_size else None
        return ShardedBatches(stream, self), state["start"], rng

    def teardown(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def rank_seed(self, seed: int, start: int) -> int:
        """This rank's seed for a run (re)started at ``start``: distinct per rank and per restart."""
        return int(np.random.SeedSequence([seed, self.rank, start]).generate_state(1)[0])

    # -- per step ----------------------------------------------------------------------------
    def _average_gradients(self, opt: torch.optim.Optimizer, args, kwargs) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        for dtype in sorted({g.dtype for g in grads}, key=str):
            same = [g for g in grads if g.dtype == dtype]
            flat = _flatten_dense_tensors(same)
            dist.all_reduce(flat)
            flat.div_(self.world_size)
            for g, avg in zip(same, _unflatten_dense_tensors(flat, same), strict=True):
                g.copy_(avg)

    def after_step(self, model: GenerativeModel, stream: ShardedBatches,
                   losses: dict[str, float]) -> dict[str, float]:
        """Share the chains revised this step, align buffers with rank 0, and average the losses
        (so a NaN on any rank stops every rank at the same step)."""
        self._gather_example_rows(model, stream.take_drawn())
        self._broadcast_buffers(model)
        values = torch.tensor(list(losses.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return dict(zip(losses, (values / self.world_size).tolist(), strict=True))

    def agree_stop(self, signum: int) -> int:
        """The largest signal number any rank has pending (0: none), on every rank: one small all-reduce
        after each step, so a signal that reached some ranks only (or reached them during different steps)
        stops every rank after the same step, and all of them write the checkpoint together."""
        flag = torch.tensor([signum], dtype=torch.int64, device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item())

    def _gather_example_rows(self, model: GenerativeModel, drawn: list[torch.Tensor]) -> None:
        names = tuple(getattr(model, "example_buffers", ()))
        for idx in drawn:  # in order: a later batch's rows win, as in one process
            for name in names:
                buf = model.get_buffer(name)
                idx_dev = idx.to(buf.device)
                rows = buf[self.my_slice(idx_dev)].contiguous()
                parts = [torch.empty_like(rows) for _ in range(self.world_size)]
                dist.all_gather(parts, rows)
                buf[idx_dev] = torch.cat(parts)

    def _broadcast_buffers(self, model: GenerativeModel) -> None:
        skip = {model.get_buffer(n).data_ptr() for n in getattr(model, "example_buffers", ())}
        bufs = [b for b in model.buffers() if b.data_ptr() not in skip]
        for dtype in sorted({b.dtype for b in bufs}, key=str):
            same = [b for b in bufs if b.dtype == dtype]
            flat = _flatten_dense_tensors(same)
            dist.broadcast(flat, 0)
            for b, v in zip(same, _unflatten_dense_tensors(flat, same), strict=True):
                b.copy_(v)

    def my_slice(self, idx: torch.Tensor) -> torch.Tensor:
        b = len(idx) // self.world_size
        return idx[self.rank * b:(self.rank + 1) * b]

    # -- collectives on Python objects --------------------------------------------------------
    def broadcast(self, obj: Any) -> Any:
        """``obj`` from rank 0 on every rank (its tensors on the CPU; loading a state dict moves them)."""
        box = [None]
        if self.is_main:
            buf = io.BytesIO()
            torch.save(obj, buf)
            box = [buf.getvalue()]
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        with torch.serialization.safe_globals(STATE_TYPES):
            return torch.load(io.BytesIO(box[0]), map_location="cpu", weights_only=True)

    def all_gather(self, obj: Any) -> list[Any]:
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def _object_device(self) -> torch.device | None:
        return self.device if self.device.type == "cuda" else None


class ShardedBatches(Iterator[Batch]):
    """This rank's slice of each global batch of a ``BatchStream``; the global indices drawn are
    kept until ``take_drawn`` so the revised chains can be shared after the step."""

    def __init__(self, stream, group: Distributed):
        self.stream, self.group = stream, group
        self.batch_size = stream.batch_size
        self._drawn: list[torch.Tensor] = []

    def __next__(self) -> Batch:
        idx = self.stream.next_index()
        self._drawn.append(idx)
        mine = self.group.my_slice(idx)
        dev = self.stream.device
        return Batch(self.stream.data.as_float(mine).to(dev, non_blocking=True), mine.to(dev))

    def take_drawn(self) -> list[torch.Tensor]:
        drawn, self._drawn = self._drawn, []
        return drawn

    @property
    def images_seen(self) -> int:  # global: images/s is the whole group's throughput
        return self.stream.images_seen

    def state(self) -> dict[str, Any]:
        return self.stream.state()

    def load(self, s: dict[str, Any]) -> None:
        self.stream.load(s)


_current: Distributed | None = None


def launched() -> bool:
    """True when started by torchrun (or any launcher setting WORLD_SIZE) with more than one process."""
    return _env_int("WORLD_SIZE", 1) > 1


def _env_int(name: str, default: int | None = None) -> int:
    text = os.environ.get(name)
    if text is None and default is not None:
        return default
    try:
        return int(text)
    except (TypeError, ValueError):
        raise GenbenchError(f"${name}={text!r} is not a process number; start genbench with torchrun, which sets "
                            f"RANK, LOCAL_RANK and WORLD_SIZE.") from None


def timeout_minutes() -> float:
    """$GENBENCH_DIST_TIMEOUT_MIN (default DEFAULT_TIMEOUT_MIN): how long a collective waits, in minutes."""
    text = os.environ.get("GENBENCH_DIST_TIMEOUT_MIN", "").strip()
    if not text:
        return DEFAULT_TIMEOUT_MIN
    try:
        minutes = float(text)
    except ValueError:
        minutes = math.nan
    if not (math.isfinite(minutes) and minutes > 0):
        raise GenbenchError(f"GENBENCH_DIST_TIMEOUT_MIN={text!r} is not a positive number of minutes; set it to "
                            f"e.g. {DEFAULT_TIMEOUT_MIN}, or unset it.")
    return minutes


def init(device: torch.device) -> Distributed | None:
    """Join the process group torchrun describes in the environment (once per process) and return
    this rank's ``Distributed``; None when running as one process. ``device`` is the device asked
    for; a CUDA device becomes ``cuda:LOCAL_RANK``."""
    global _current
    if _current is not None:
        return _current
    if not launched():
        return None
    rank, world = _env_int("RANK"), _env_int("WORLD_SIZE")
    local = _env_int("LOCAL_RANK", rank)
    minutes = timeout_minutes()  # checked before joining: a bad value is one sentence, not a hang
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=minutes),
                                **kwargs)
        atexit.register(shutdown)
    _current = Distributed(rank, world, local, device)
    return _current


def current() -> Distributed | None:
    return _current


def is_main() -> bool:
    return _current is None or _current.is_main


def shutdown() -> None:
    global _current
    _current = None
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. filling a data cache), then the others, so they read what it
    wrote instead of all writing it at once."""
    if _current is not None and not _current.is_main:
        _current.barrier()
    yield
    if _current is not None and _current.is_main:
        _current.barrier()


def decide(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (so all ranks take the same branch, e.g. skip the same runs)."""
    return value if _current is None else _current.broadcast(value)

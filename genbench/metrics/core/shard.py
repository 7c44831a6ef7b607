"""Evaluation over ``torchrun`` ranks: the images to embed split among the processes, the features gathered.

When ``genbench run`` or ``genbench eval`` runs under torchrun, every rank evaluates (rank 0 alone writes); the
expensive part of a feature-space evaluation, generating samples and embedding images, is split here, batch by
batch: batch (or generator chunk) k goes to rank k mod N, each rank embeds its own, and ``all_gather`` gives
every rank all of them in order. The batches are the single process's batches, computed by the same calls on the
same inputs, so the features, and every value computed from them, equal a one-process evaluation's (CPU: bit for
bit; GPUs: to the kernels' own determinism). Latent inference (z* for the reconstruction metrics and
``dissect``, genbench.metrics.core.inference) splits the same way, each batch under its own seeded random state.
What is not split: the metrics' maths on the gathered features (every rank computes it; only rank 0's records
are written), and a model's own ``reconstruct`` where it overrides generate(infer(x)) (no built-in model does),
which every rank runs whole.

It uses ``torch.distributed``'s process group as the runner set it up (genbench.run.distributed); with none, or
one process, everything here is the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch.distributed as dist


def group() -> tuple[int, int]:
    """(this process's rank, the number of processes); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_writer() -> bool:
    """Whether this process writes shared files (caches): rank 0, or the only process."""
    return group()[0] == 0


def all_agree(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on every rank (e.g. every rank found the cached features)."""
    return all_agree_each([flag])[0]


def all_agree_each(flags: list[bool]) -> list[bool]:
    """``all_agree`` of each flag, in one exchange (e.g. which cached chunks every rank found)."""
    rank, world = group()
    if world == 1:
        return [bool(f) for f in flags]
    every: list[Any] = [None] * world
    dist.all_gather_object(every, [bool(f) for f in flags])
    return [all(rank_flags[i] for rank_flags in every) for i in range(len(flags))]


def embed_split(items: Iterable[Any], embed: Callable[[Any], Any]) -> list[Any]:
    """``embed`` of every item of ``items`` (batches, generator chunks: callables producing one, or ranges of
    images to infer), item k on rank k mod N, gathered on every rank in the items' order (CPU arrays or tensors:
    they are pickled between the processes)."""
    rank, world = group()
    if world == 1:
        return [embed(item) for item in items]
    mine = {k: embed(item) for k, item in enumerate(items) if k % world == rank}
    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, mine)
    merged = {k: v for part in parts for k, v in part.items()}
    return [merged[k] for k in sorted(merged)]

"""Latent inference z* = infer(x) for the first n images of a split, computed once per model.

Several metrics infer the same training images with the same model: ``mse`` and ``lpips`` reconstruct
the first n_eval (``genbench.metrics.core.reconstruction``), ``dissect`` traces g(z*) for the first 2 n_eval. An ABP
model infers by Langevin dynamics, which costs far more than any of those metrics, so z* is memoised
per model object while its parameters and buffers (e.g. a latent bank) stay the same. The batches are
the fixed ranges [i, i + batch) from 0: a metric that asks for fewer images gets exactly the batches
another one computed, the same calls on the same inputs, so its numbers do not depend on which metric
ran first.

Under torchrun the batches split over the processes as the embeddings do (``genbench.metrics.core.shard``: batch
k on rank k mod N, z* gathered on every rank). Each batch is inferred under its own random state, seeded from
its range and split alone (the global stream is left as it was), so a model whose ``infer`` draws noise gives
the same z* whichever process, and however many, computed the batch; the built-in models' inference for
evaluation is noise-free (ABP: gradient descent on the posterior energy; VAE, ALI: the encoder's mean).
"""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Iterator
from functools import partial

import numpy as np
import torch

from genbench.api import GenerativeModel, ImageSet
from genbench.metrics.core import shard

BATCH = 100
_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {"state": fingerprint, key: z}


def state_fingerprint(model: torch.nn.Module) -> float:
    """A cheap summary of a model's parameters and floating-point buffers: changes when it trains."""
    with torch.no_grad():
        tensors = [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]
        return float(sum(t.detach().double().abs().sum().item() for t in tensors))


def inferred_batches(model: GenerativeModel, images: ImageSet, n: int, with_index: bool,
                     batch_size: int = BATCH) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, z*) for the first ``n`` images in batches, x on the model's device and z* = ``model.infer(x)``
    in eval mode; ``with_index`` passes the dataset indices (training images: persistent chains). The batches
    not yet memoised are inferred first, split over the processes under torchrun."""
    memo = _MEMO.setdefault(model, {})
    state = state_fingerprint(model)
    if memo.get("state") != state:
        memo.clear()
        memo["state"] = state
    n = min(n, len(images))
    ranges = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]

    def key(r: tuple[int, int]) -> tuple:
        return id(images), images.name, images.split, len(images), with_index, *r

    missing = [r for r in ranges if key(r) not in memo]
    for r, z in zip(missing, shard.embed_split(missing, partial(_infer_range, model, images, with_index)),
                    strict=True):
        memo[key(r)] = z.to(model.device)
    for r in ranges:
        yield images.as_float(torch.arange(*r)).to(model.device), memo[key(r)]


def _infer_range(model: GenerativeModel, images: ImageSet, with_index: bool, r: tuple[int, int]) -> torch.Tensor:
    """z* of images [r[0], r[1]) on the CPU (gathered between processes), under a random state of its own:
    seeded from the range and the split, the caller's stream restored after."""
    idx = torch.arange(*r)
    x = images.as_float(idx).to(model.device)
    dev = model.device
    cuda = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    seed = np.random.SeedSequence([*r, zlib.crc32(str(images.split).encode())]).generate_state(1)[0]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(int(seed))
        return _infer(model, x, idx.to(dev) if with_index else None).cpu()


def _infer(model: GenerativeModel, x: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    was = model.training
    model.eval()
    try:
        with torch.enable_grad():  # inference by Langevin dynamics needs gradients
            return model.infer(x, index).detach()
    finally:
        model.train(was)

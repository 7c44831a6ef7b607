"""Latent inference z* = infer(x) for the first n images of a split, computed once per model.

Several metrics infer the same training images with the same model: ``mse`` and ``lpips`` reconstruct
the first n_eval (``genbench.metrics.core.reconstruction``), ``dissect`` traces g(z*) for the first 2 n_eval. An ABP
model infers by Langevin dynamics, which costs far more than any of those metrics, so z* is memoised
per model object while its parameters and buffers (e.g. a latent bank) stay the same. The batches are
the fixed ranges [i, i + batch) from 0: a metric that asks for fewer images gets exactly the batches
another one computed, the same calls on the same inputs, so its numbers do not depend on which metric
ran first.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import torch

from genbench.api import GenerativeModel, ImageSet

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
    in eval mode; ``with_index`` passes the dataset indices (training images: persistent chains)."""
    memo = _MEMO.setdefault(model, {})
    state = state_fingerprint(model)
    if memo.get("state") != state:
        memo.clear()
        memo["state"] = state
    n = min(n, len(images))
    for i in range(0, n, batch_size):
        idx = torch.arange(i, min(i + batch_size, n))
        x = images.as_float(idx).to(model.device)
        key = (id(images), images.name, images.split, len(images), with_index, i, i + len(idx))
        if key not in memo:
            memo[key] = _infer(model, x, idx.to(model.device) if with_index else None)
        yield x, memo[key]


def _infer(model: GenerativeModel, x: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    was = model.training
    model.eval()
    try:
        with torch.enable_grad():  # inference by Langevin dynamics needs gradients
            return model.infer(x, index).detach()
    finally:
        model.train(was)

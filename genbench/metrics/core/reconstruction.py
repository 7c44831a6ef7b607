"""Reconstructions for the reconstruction metrics (``mse``, ``lpips``), computed once per model.

An ABP model reconstructs by Langevin inference, which costs far more than any metric on the result,
so the (x, reconstruction) batches of a split are memoised per model object while its parameters stay
the same, and every reconstruction metric of one evaluation reuses them (up to a memory cap). A model
whose ``reconstruct`` is the default generate(infer(x)) takes z* from ``genbench.metrics.core.inference``, which
``dissect`` shares.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import torch

from genbench.api import GenerativeModel, ImageSet
from genbench.metrics.core import inference
from genbench.metrics.core.inference import inferred_batches, state_fingerprint

MEMO_BYTES = 256 * 2**20  # reconstructions larger than this are recomputed rather than kept
_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compute(model: GenerativeModel, images: ImageSet, n: int, with_index: bool,
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if not _reconstructs_by_inference(model):
        yield from _compute_by_reconstruct(model, images, n, with_index, batch_size)
        return
    was = model.training
    model.eval()
    try:
        for x, z in inferred_batches(model, images, n, with_index, batch_size):  # shared with other metrics
            with torch.enable_grad():  # as GenerativeModel.reconstruct runs here: the same kernels, the same bits
                rec = model.generate(z).clamp(-1, 1).detach()
            yield x, rec
    finally:
        model.train(was)


def _reconstructs_by_inference(model: GenerativeModel) -> bool:
    """Whether ``model.reconstruct`` is the default generate(infer(x)).clamp(-1, 1)."""
    return getattr(model.reconstruct, "__func__", None) is GenerativeModel.reconstruct


def _compute_by_reconstruct(model: GenerativeModel, images: ImageSet, n: int, with_index: bool,
                            batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    was = model.training
    model.eval()
    try:
        for i in range(0, n, batch_size):
            idx = torch.arange(i, min(i + batch_size, n))
            x = images.as_float(idx).to(model.device)
            with torch.enable_grad():  # inference by Langevin dynamics needs gradients
                rec = model.reconstruct(x, idx.to(model.device) if with_index else None).detach()
            yield x, rec
    finally:
        model.train(was)


def reconstruction_batches(model: GenerativeModel, images: ImageSet, n: int, with_index: bool,
                           batch_size: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, reconstruct(x)) for the first ``n`` images, in batches (``inference.BATCH`` unless given);
    ``with_index`` passes the dataset indices (training images, so persistent latent chains may be used)."""
    n = min(n, len(images))
    batch_size = batch_size or inference.BATCH
    key = (id(images), images.split, n, with_index, state_fingerprint(model))
    memo = _MEMO.setdefault(model, {})
    if key in memo:
        yield from memo[key]
        return
    keep = n * images.images[0].numel() * 4 <= MEMO_BYTES
    batches = []
    for x, rec in _compute(model, images, n, with_index, batch_size):
        if keep:
            batches.append((x.cpu(), rec.cpu()))
        yield x, rec
    if keep:
        memo.clear()
        memo[key] = batches

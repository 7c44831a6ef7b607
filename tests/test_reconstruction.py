"""Reconstruction metrics share one pass of (possibly Langevin) inference per model and split."""

from __future__ import annotations

import torch

from genbench.api import DataInfo
from genbench.metrics.core.reconstruction import reconstruction_batches
from genbench.metrics.mse import reconstruction_mse
from genbench.registry import get_dataset, get_model


def test_reconstructions_are_computed_once_and_recomputed_after_training():
    data = get_dataset("shapes")().load("train", 16, 40, 0)
    cls = get_model("vae")
    model = cls(cls.Config(latent_dim=8, width=1 / 16), DataInfo("shapes", 16, 40))
    calls = []
    real = model.reconstruct
    model.reconstruct = lambda x, index=None: calls.append(len(x)) or real(x, index)

    first = reconstruction_mse(model, data, 40, with_index=True)
    assert calls == [40]
    again = [rec for _, rec in reconstruction_batches(model, data, 40, with_index=True)]
    assert calls == [40] and reconstruction_mse(model, data, 40, with_index=True) == first
    # exact value: the memoised batches are the model's reconstructions
    x = data.as_float(slice(0, 40))
    assert torch.allclose(torch.cat(again), real(x, torch.arange(40)), atol=1e-6)

    with torch.no_grad():
        next(model.parameters()).add_(0.1)  # a changed model must not reuse stale reconstructions
    reconstruction_mse(model, data, 40, with_index=True)
    assert calls == [40, 40]

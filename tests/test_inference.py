"""Langevin inference is shared between metrics: dissect's z* and mse/lpips's reconstructions come from
one memo, batch for batch, with the numbers the model itself gives."""

from __future__ import annotations

import torch
from metric_fakes import context, single_blas_thread  # noqa: F401

from genbench.api import DataInfo
from genbench.metrics.core.inference import inferred_batches
from genbench.metrics.core.reconstruction import reconstruction_batches
from genbench.metrics.dissect import latents_and_activations
from genbench.metrics.mse import reconstruction_mse
from genbench.registry import get_dataset, get_model
from genbench.run.config import resolve


def _ours(n_train: int):
    cls = get_model("ours")
    _, cfgs = resolve("tiny", ["ours"], {"ours": cls}, None, None)
    torch.manual_seed(0)
    model = cls(cfgs["ours"], DataInfo("shapes", 16, n_train, 3))
    calls: list[tuple[int, int]] = []
    real = model.infer
    model.infer = lambda x, index=None: calls.append((int(index[0]), len(x))) or real(x, index)
    return model, calls, real


def test_fewer_images_reuse_the_same_batches_and_training_invalidates_them():
    data = get_dataset("shapes")().load("train", 16, 30, 0)
    model, calls, real = _ours(30)
    first = [z for _, z in inferred_batches(model, data, 30, with_index=True, batch_size=10)]
    assert calls == [(0, 10), (10, 10), (20, 10)]
    again = [z for _, z in inferred_batches(model, data, 15, with_index=True, batch_size=10)]
    assert calls[3:] == [(10, 5)]  # [0, 10) is reused; [10, 15) is another batch than [10, 20)
    assert again[0] is first[0] and torch.equal(again[1], real(data.as_float(slice(10, 15)), torch.arange(10, 15)))
    with torch.no_grad():
        model.bank.add_(0.5)  # the chains moved (a buffer, not a parameter): z* is stale
    list(inferred_batches(model, data, 10, with_index=True, batch_size=10))
    assert calls[4:] == [(0, 10)]


def test_mse_reuses_dissect_inference_bit_for_bit():
    data = get_dataset("shapes")().load("train", 16, 200, 0)
    model, calls, real = _ours(200)
    ctx = context(model, data, n_eval=100)
    z, _ = latents_and_activations(ctx, 200)  # dissect: the first 2 n_eval images
    assert calls == [(0, 100), (100, 100)]
    mse = reconstruction_mse(model, data, 100, with_index=True)
    assert calls == [(0, 100), (100, 100)]  # no inference of its own
    x, rec = next(reconstruction_batches(model, data, 100, with_index=True))
    model.eval()
    with torch.enable_grad():
        expected = model.generate(real(x, torch.arange(100))).clamp(-1, 1)
    assert torch.equal(real(x, torch.arange(100)), z[:100])
    assert torch.equal(rec, expected.detach())  # exactly what model.reconstruct gives
    assert mse == (expected.detach() - x).pow(2).sum().item() / x.numel()


def test_a_noisy_inference_gives_each_batch_the_same_z_whatever_ran_before():
    """A model whose infer draws noise: each batch is inferred under its own seeded state, so its z* does not
    depend on the global stream or on which batches were inferred before it (or by another process), and the
    caller's stream is left as it was."""
    from genbench.metrics.core.inference import _infer_range

    data = get_dataset("shapes")().load("train", 16, 30, 0)

    def noisy():
        model, _, real = _ours(30)  # the same weights every time (seed 0)
        model.infer = lambda x, index=None: real(x, index) + torch.randn(len(x), model.config.latent_dim)
        return model, real

    torch.manual_seed(1)
    expected_next = torch.rand(3)
    model, real = noisy()
    torch.manual_seed(1)
    whole = [z for _, z in inferred_batches(model, data, 30, with_index=True, batch_size=10)]
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream continues as if nothing ran
    model.eval()
    assert (whole[0] - real(data.as_float(slice(0, 10)), torch.arange(10))).abs().mean() > 0.5  # noise drawn
    other, _ = noisy()
    torch.manual_seed(99)  # another global state, and the third batch alone, first
    assert torch.equal(_infer_range(other, data, True, (20, 30)), whole[2])

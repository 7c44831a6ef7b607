"""Pieces the built-in baselines share (docs/method.md section 4), so each concept has one home.

- ``dcgan_backbone``: the Table-1 backbones in the DCGAN convention the GAN-family references use
  (batch norm, no equalised learning rate, N(0, std) initialisation) and ``init_batchnorm``
  (the reference ``weights_init``: BN scale N(1, 0.02), shift 0).
- ``GaussianEncoder``: q(z|x) = N(mu(x), diag sigma^2(x)) on the Table-1 energy-network trunk,
  used as the VAE encoder, the ALI/ALICE encoder and CE-GAN's inference network.
- ``bce_d_loss``: the standard GAN discriminator loss on logits (DCGAN, ALI, ALICE).
- ``optimise`` and ``frozen``: one optimiser update; a network held fixed while another learns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.backbones import Table1EnergyNet, held_kernels

# log sigma^2 is clamped so that exp() neither underflows nor overflows early in training
LOGVAR_RANGE = (-12.0, 8.0)


def dcgan_backbone(init_std: float = 0.02) -> dict[str, Any]:
    """Keyword arguments for Table1Generator / Table1EnergyNet in the DCGAN convention."""
    return {"norm": "batch", "equalized": False, "init_std": init_std}


def init_batchnorm(module: nn.Module) -> None:
    """Reference DCGAN ``weights_init`` for BN layers (convs get N(0, std) when they are built)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def bce_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log sigmoid(D(real)) - log(1 - sigmoid(D(fake))), averaged: softplus(-r) + softplus(f)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def optimise(opt: torch.optim.Optimizer, loss: Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Hold these networks' parameters fixed (no gradients) while another network's loss is built; their layers'
    run-time kernels are made once for the block (``held_kernels``)."""
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.requires_grad_(False)
    try:
        with held_kernels(*modules):
            yield
    finally:
        for p in params:
            p.requires_grad_(True)


class GaussianEncoder(nn.Module):
    """q(z|x) on the Table-1 energy-network trunk with a head giving (mu, log sigma^2) in R^{2d}."""

    def __init__(self, latent_dim: int, image_size: int, width: float, **backbone: Any):
        super().__init__()
        self.net = Table1EnergyNet(image_size, width, out_features=2 * latent_dim, **backbone)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def sample(self, x: Tensor) -> Tensor:
        """A reparameterised draw z = mu + sigma * eps, so gradients reach the encoder."""
        mu, logvar = self(x)
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

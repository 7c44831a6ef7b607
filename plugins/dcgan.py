"""DCGAN (Radford, Metz & Chintala, ICLR 2016), a baseline of Xing et al. (CVPR 2020, Table 2), on the
shared Table-1 backbones (docs/method.md section 4).

Recipe (Radford et al.): D maximises log D(x) + log(1 - D(G(z))), i.e. minimises
softplus(-D(x)) + softplus(D(G(z))) on logits; G minimises the non-saturating -log D(G(z)) =
softplus(-D(G(z))). Adam 2e-4, beta1 0.5, batch 128, N(0, 0.02) initialisation, batch norm in both
networks (none on D's first layer), z ~ N(0, I) in R^100. One D update then one G update per step, on
the same fakes (as the PyTorch DCGAN example does).

Deviations: the Table-1 backbones (nearest-neighbour up-sampling + 3x3 convs in G, 3x3 convs +
average pooling in D, ReLU / LReLU(0.2)) replace the strided (de)convolutions of DCGAN-64, so that
every model in a comparison has the same capacity; Radford et al.'s z ~ U(-1, 1) is replaced by the
N(0, I) prior genbench uses for every model but CE-GAN (docs/method.md section 4). The ``small``
preset uses batch 64 and 500 steps (about 0.47 CPU-seconds each; 2-3 minutes on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator
from genbench.domains import adam_beta, positive

from ._common import bce_d_loss, dcgan_backbone, frozen, init_batchnorm, optimise


@dataclass
class DCGANConfig(ModelConfig):
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 128
    PRESETS = {"small": {"steps": 500}}
    DOMAINS = {"lr": positive, "beta1": adam_beta, "beta2": adam_beta}


class DCGAN(GenerativeModel):
    """Deep convolutional GAN (Radford et al., ICLR 2016), non-saturating loss, batch norm."""

    Config = DCGANConfig
    provides = ("generator",)  # D is a classifier of real vs fake, not an energy over images

    def __init__(self, config: DCGANConfig, data: DataInfo):
        super().__init__(config, data)
        kw = dcgan_backbone(0.02)
        self.generator = Table1Generator(config.latent_dim, data.image_size, config.width, **kw)
        self.discriminator = Table1EnergyNet(data.image_size, config.width, **kw)
        init_batchnorm(self)
        betas = (config.beta1, config.beta2)
        self.optimizers["g"] = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.optimizers["d"] = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas)

    d_loss = staticmethod(bce_d_loss)

    @staticmethod
    def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
        """Non-saturating generator loss -log sigmoid(D(G(z)))."""
        return F.softplus(-fake_logits).mean()

    def train_step(self, batches, step: int) -> dict[str, float]:
        x, _ = next(batches)
        fake = self.generator(self.prior(x.shape[0]))
        real_logits = self.discriminator(x)
        loss_d = self.d_loss(real_logits, self.discriminator(fake.detach()))
        optimise(self.optimizers["d"], loss_d)
        with frozen(self.discriminator):
            loss_g = self.g_loss(self.discriminator(fake))
            optimise(self.optimizers["g"], loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(real_logits).mean().item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

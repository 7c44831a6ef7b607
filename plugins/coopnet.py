"""CoopNet: cooperative training of a descriptor and a generator (Xie et al., AAAI 2018 / TPAMI 2020),
a baseline of Xing et al. (CVPR 2020, Table 2), following the reference ``jianwen-xie/CoopNets``
(``model/model.py``) on the shared Table-1 backbones (docs/method.md section 4).

Recipe, per step:
1. Y0 = g(Z), Z ~ N(0, I).
2. Descriptor Langevin revises Y0 (15 steps, delta 0.002, reference sigma 0.016):
   Y <- Y - (delta^2 / 2) (Y / sigma_ref^2 - d score / dY) + delta * eps, i.e. Langevin on the energy
   E(Y) = ||Y||^2 / (2 sigma_ref^2) - score(Y).
3. Optional latent Langevin (``gen_steps``; 0 in the reference defaults, the AAAI'18 version uses
   delta 0.1) infers Z for the revised Y under ||Y - g(Z)||^2 / (2 sigma^2) + ||Z||^2 / 2.
4. Descriptor: minimise mean score(Y) - mean score(X) (Adam 0.007, beta1 0.5).
5. Generator: regress g(Z) onto the revised Y, loss ||Y - g(Z)||^2 / (2 sigma^2) summed over pixels
   and averaged over the batch (sigma 0.3; Adam 1e-4, beta1 0.5). Batch 100.
The generator uses batch norm (as the reference's), the descriptor none; both N(0, 0.02) initialised.

Deviations: the Table-1 backbones replace the reference's strided networks and its 100-output
descriptor head becomes a single score (the reference's loss sums its 100 outputs, so a single
output loses no expressiveness); the latent Langevin uses the per-example posterior energy (the
reference averages its data term over the batch, a 1/B-weaker likelihood); ``generate`` returns g(Z)
without the descriptor's revision, so samples are the generator's, as for every other Generator.
The ``small`` preset trains 250 steps at batch 64 (each step costs 15 descriptor gradient
evaluations, about 1 CPU-second; 2-3 minutes on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator
from genbench.domains import adam_beta, non_negative_count, positive
from genbench.langevin import langevin

from ._common import dcgan_backbone, init_batchnorm, optimise


@dataclass
class CoopNetConfig(ModelConfig):
    des_lr: float = 0.007
    des_beta1: float = 0.5
    gen_lr: float = 1e-4
    gen_beta1: float = 0.5
    des_steps: int = 15
    des_step_size: float = 0.002
    des_refsig: float = 0.016
    gen_refsig: float = 0.3
    gen_steps: int = 0
    gen_step_size: float = 0.1
    batch_size: int = 100
    PRESETS = {"small": {"steps": 250}}
    DOMAINS = {"des_lr": positive, "des_beta1": adam_beta, "gen_lr": positive, "gen_beta1": adam_beta,
               "des_steps": non_negative_count, "des_step_size": positive, "des_refsig": positive,
               "gen_refsig": positive, "gen_steps": non_negative_count, "gen_step_size": positive}


class CoopNet(GenerativeModel):
    """Cooperative descriptor + generator (Xie et al., AAAI 2018): Langevin-revised samples."""

    Config = CoopNetConfig
    provides = ("generator", "critic")

    def __init__(self, config: CoopNetConfig, data: DataInfo):
        super().__init__(config, data)
        self.generator = Table1Generator(config.latent_dim, data.image_size, config.width, **dcgan_backbone(0.02))
        self.descriptor = Table1EnergyNet(data.image_size, config.width, equalized=False, init_std=0.02)
        init_batchnorm(self)
        self.optimizers["des"] = torch.optim.Adam(self.descriptor.parameters(), lr=config.des_lr,
                                                  betas=(config.des_beta1, 0.999))
        self.optimizers["gen"] = torch.optim.Adam(self.generator.parameters(), lr=config.gen_lr,
                                                  betas=(config.gen_beta1, 0.999))

    @staticmethod
    def descriptor_loss(score_real: torch.Tensor, score_revised: torch.Tensor) -> torch.Tensor:
        """Maximum-likelihood gradient of the descriptor: raise the score of data, lower the revised samples'."""
        return score_revised.mean() - score_real.mean()

    @staticmethod
    def regression_loss(target: torch.Tensor, generated: torch.Tensor, sigma: float) -> torch.Tensor:
        """||Y - g(Z)||^2 / (2 sigma^2), summed over pixels, averaged over the batch."""
        return (target - generated).pow(2).flatten(1).sum(1).mean() / (2 * sigma**2)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.descriptor(x).squeeze(1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """The descriptor's energy: Gaussian reference term minus the learned score."""
        return x.pow(2).flatten(1).sum(1) / (2 * self.config.des_refsig**2) - self.score(x)

    def latent_energy(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        sse = (y - self.generator(z)).pow(2).flatten(1).sum(1)
        return sse / (2 * self.config.gen_refsig**2) + 0.5 * z.pow(2).sum(1)

    def train_step(self, batches, step: int) -> dict[str, float]:
        c = self.config
        x, _ = next(batches)
        z = self.prior(x.shape[0])
        with torch.no_grad():
            y0 = self.generator(z)
        y = langevin(y0, self.energy, c.des_step_size, c.des_steps)
        if c.gen_steps > 0:
            z = langevin(z, lambda v: self.latent_energy(v, y), c.gen_step_size, c.gen_steps)
        loss_des = self.descriptor_loss(self.score(x), self.score(y))
        optimise(self.optimizers["des"], loss_des)
        loss_gen = self.regression_loss(y, self.generator(z), c.gen_refsig)
        optimise(self.optimizers["gen"], loss_gen)
        return {"loss_des": loss_des.item(), "loss_gen": loss_gen.item(),
                "revision": (y - y0).pow(2).mean().item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

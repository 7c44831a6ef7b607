"""Calibrated energy-based GAN, variational-inference variant (Dai, Almahairi, Bachman, Hovy & Courville,
ICLR 2017), a baseline of Xing et al. (CVPR 2020, Table 2), following the reference
``zihangdai/cegan_iclr2017`` (``celebA/conv_celeba_energy_gan.py``) on the shared Table-1 backbones
(docs/method.md section 4).

Recipe: D is an energy E(x) (identity energy form: the sum of D's outputs, here one output).
- D minimises mean E(x) - mean E(G(z)) + 0.01 (mean E(x)^2 + mean E(G(z))^2) (the smoothness term
  bounds the otherwise unbounded objective).
- G minimises mean E(G(z)) + c * NLL, where NLL = -log q(z | G(z)) under a Gaussian inference net q:
  the variational lower bound on the generator's entropy that calibrates D.
- q minimises c * NLL on the same samples.
- c = 0.5, multiplied by 0.9 after each epoch until it reaches 0.1; lr 2e-4 (Adam, beta1 0.5) for all
  three nets, multiplied by 0.9 after each epoch past the 26th (50 epochs in all), down to 1e-6.
  Batch 64, z ~ U(-1, 1) in R^100, N(0, 0.015) initialisation, batch norm in every network.

Deviations:
- The Table-1 backbones replace the reference's networks; q is the Table-1 energy trunk with a
  (mu, log sigma^2) head.
- The undefined minibatch-discriminator term ``BS_T - BS_F`` of the reference is skipped (docs/method.md).
- The NLL is the exact Gaussian one, sum(log sigma + (z - mu)^2 / (2 sigma^2)); the reference writes
  0.5 * sum(log sigma), an inconsistency that only reweights q's variance.
- The updates alternate (D, then G and q on the updated D), as PyTorch GANs do, where the reference
  applies all three from one graph simultaneously.
- The epoch-wise schedules are laid over the run's ``steps``: epoch = floor(step / steps * 50), so a
  shortened run keeps the reference's schedule shape.
- The ``small`` preset trains 450 steps (about 0.56 CPU-seconds each; 2-3 minutes on 2 CPU cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator
from genbench.domains import adam_beta, count, fraction, non_negative, non_negative_count, positive

from ._common import GaussianEncoder, dcgan_backbone, frozen, init_batchnorm, optimise


@dataclass
class CEGANConfig(ModelConfig):
    lr: float = 2e-4
    beta1: float = 0.5
    lr_decay: float = 0.9
    lr_min: float = 1e-6
    entropy_weight: float = 0.5
    entropy_decay: float = 0.9
    entropy_min: float = 0.1
    smooth: float = 0.01
    epochs: int = 50
    decay_after: int = 25
    init_std: float = 0.015
    batch_size: int = 64
    PRESETS = {"small": {"steps": 450}}
    DOMAINS = {"lr": positive, "beta1": adam_beta, "lr_decay": fraction, "lr_min": non_negative,
               "entropy_weight": non_negative, "entropy_decay": fraction, "entropy_min": non_negative,
               "smooth": non_negative, "epochs": count, "decay_after": non_negative_count, "init_std": positive}


def decayed(start: float, rate: float, floor: float, times: int) -> float:
    """``start`` multiplied by ``rate`` ``times`` times, stopping once it is at or below ``floor``
    (the reference's ``hp_update``: decay only while the value is above the floor)."""
    needed = max(0, math.ceil(math.log(floor / start) / math.log(rate))) if start > floor else 0
    return start * rate ** min(times, needed)


class CEGAN(GenerativeModel):
    """Calibrated energy-based GAN (Dai et al., ICLR 2017), variational entropy term."""

    Config = CEGANConfig
    provides = ("generator", "critic")

    def __init__(self, config: CEGANConfig, data: DataInfo):
        super().__init__(config, data)
        d, kw = config.latent_dim, dcgan_backbone(config.init_std)
        self.generator = Table1Generator(d, data.image_size, config.width, **kw)
        self.discriminator = Table1EnergyNet(data.image_size, config.width, **kw)
        self.inference = GaussianEncoder(d, data.image_size, config.width, **kw)
        init_batchnorm(self)
        for name, net in (("g", self.generator), ("d", self.discriminator), ("q", self.inference)):
            self.optimizers[name] = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, 0.999))

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ U(-1, 1)^d, as in the reference."""
        return (torch.rand(n, self.latent_dim, generator=generator) * 2 - 1).to(self.device)

    def schedule(self, step: int) -> tuple[float, float]:
        """(entropy weight c, learning rate) during ``step``, from the reference's per-epoch decays."""
        c = self.config
        epoch = min(c.epochs - 1, (step - 1) * c.epochs // max(c.steps, 1))
        weight = decayed(c.entropy_weight, c.entropy_decay, c.entropy_min, epoch)
        # the reference decays lr at the end of every epoch index > decay_after
        lr = decayed(c.lr, c.lr_decay, c.lr_min, max(0, epoch - c.decay_after - 1))
        return weight, lr

    @staticmethod
    def d_loss(e_real: torch.Tensor, e_fake: torch.Tensor, smooth: float) -> torch.Tensor:
        return e_real.mean() - e_fake.mean() + smooth * (e_real.pow(2).mean() + e_fake.pow(2).mean())

    @staticmethod
    def gaussian_nll(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """-log N(z; mu, diag exp(logvar)) per sample, without the constant d/2 log(2 pi)."""
        return 0.5 * (logvar + (z - mu).pow(2) / logvar.exp()).sum(1)

    def train_step(self, batches, step: int) -> dict[str, float]:
        weight, lr = self.schedule(step)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        x, _ = next(batches)
        z = self.prior(x.shape[0])
        fake = self.generator(z)
        e_real = self.discriminator(x).squeeze(1)
        loss_d = self.d_loss(e_real, self.discriminator(fake.detach()).squeeze(1), self.config.smooth)
        optimise(self.optimizers["d"], loss_d)
        with frozen(self.discriminator):
            e_fake = self.discriminator(fake).squeeze(1)
            nll = self.gaussian_nll(z, *self.inference(fake)).mean()
            # one backward serves both: d(loss_g)/d(q) is exactly the gradient of q's loss c * NLL
            loss_g = e_fake.mean() + weight * nll
            self.optimizers["q"].zero_grad(set_to_none=True)
            optimise(self.optimizers["g"], loss_g)
            self.optimizers["q"].step()
        return {"loss_d": loss_d.item(), "e_real": e_real.mean().item(), "e_fake": e_fake.mean().item(),
                "nll": nll.item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x).squeeze(1)

"""WGAN with weight clipping (Arjovsky, Chintala & Bottou, ICML 2017), a baseline of Xing et al.
(CVPR 2020, Table 2), following the reference ``martinarjovsky/WassersteinGAN/main.py`` on the shared
Table-1 backbones (docs/method.md section 4).

Recipe: the critic f minimises mean f(x) - mean f(g(z)) (an energy: real low, fake high) with all its
parameters clipped to [-c, c], c = 0.01, before every critic update (as the reference does); the
generator minimises mean f(g(z)). RMSprop 5e-5, n_critic 5, but 100 critic steps while fewer than 25
generator iterations are done and at every 500th generator iteration; batch 64, z ~ N(0, I) in R^100.
Networks use batch norm and N(0, 0.02) initialisation, as the reference DCGAN networks do. One
``step`` is one generator iteration (the reference's ``gen_iterations`` is ``step - 1``).

Deviations: the Table-1 backbones replace the reference's DCGAN-64 convolutions (same capacity for every
model); the ``tiny`` and ``small`` presets shorten the 100-step critic warm-up (5 x 2 and 25 x 10) so
that it does not swallow a short run; ``small`` trains 150 generator iterations (about 950 critic
updates; not timed uncontended in this session).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator
from genbench.domains import count, non_negative_count, positive

from ._common import dcgan_backbone, frozen, init_batchnorm, optimise


@dataclass
class WGANConfig(ModelConfig):
    lr: float = 5e-5
    clip: float = 0.01
    n_critic: int = 5
    n_critic_warmup: int = 100
    warmup_iters: int = 25
    warmup_every: int = 500
    batch_size: int = 64
    PRESETS = {"tiny": {"n_critic_warmup": 5, "warmup_iters": 2},
               "small": {"steps": 150, "n_critic_warmup": 25, "warmup_iters": 10}}
    DOMAINS = {"lr": positive, "clip": positive, "n_critic": count, "n_critic_warmup": count,
               "warmup_iters": non_negative_count, "warmup_every": count}


class WGAN(GenerativeModel):
    """Wasserstein GAN with weight clipping (Arjovsky et al., ICML 2017)."""

    Config = WGANConfig
    provides = ("generator", "critic")

    def __init__(self, config: WGANConfig, data: DataInfo):
        super().__init__(config, data)
        kw = dcgan_backbone()
        self.generator = Table1Generator(config.latent_dim, data.image_size, config.width, **kw)
        self.critic = Table1EnergyNet(data.image_size, config.width, **kw)
        init_batchnorm(self)
        self.optimizers["g"] = torch.optim.RMSprop(self.generator.parameters(), lr=config.lr)
        self.optimizers["d"] = torch.optim.RMSprop(self.critic.parameters(), lr=config.lr)

    def critic_iters(self, step: int) -> int:
        c, gen_iterations = self.config, step - 1
        if gen_iterations < c.warmup_iters or gen_iterations % c.warmup_every == 0:
            return c.n_critic_warmup
        return c.n_critic

    @staticmethod
    def critic_loss(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
        return f_real.mean() - f_fake.mean()

    def train_step(self, batches, step: int) -> dict[str, float]:
        for _ in range(self.critic_iters(step)):
            with torch.no_grad():  # clip before the update, as the reference does
                for p in self.critic.parameters():
                    p.clamp_(-self.config.clip, self.config.clip)
            x, _ = next(batches)
            with torch.no_grad():
                fake = self.generator(self.prior(x.shape[0]))
            loss_d = self.critic_loss(self.critic(x), self.critic(fake))
            optimise(self.optimizers["d"], loss_d)
        with frozen(self.critic):
            loss_g = self.critic(self.generator(self.prior(self.config.batch_size))).mean()
            optimise(self.optimizers["g"], loss_g)
        # -loss_d estimates the Wasserstein distance (up to the critic's Lipschitz constant)
        return {"w_dist": -loss_d.item(), "loss_g": loss_g.item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(1)

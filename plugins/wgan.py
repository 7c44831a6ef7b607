"""WGAN with weight clipping (Arjovsky, Chintala & Bottou, ICML 2017), following the reference
``martinarjovsky/WassersteinGAN/main.py`` on the shared Table-1 backbones (METHOD.md section 4).

Critic f minimises mean f(x) - mean f(g(z)) (an energy: real low, fake high) with its weights
clipped to [-c, c] after every update; the generator minimises mean f(g(z)). RMSprop 5e-5,
n_critic 5, but 100 critic steps for the first 25 generator iterations and every 500th (reference
schedule), batch 64. Networks use batch norm and N(0, 0.02) initialisation, as the reference DCGAN
networks do; one ``step`` is one generator iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator


@dataclass
class WGANConfig(ModelConfig):
    lr: float = 5e-5
    clip: float = 0.01
    n_critic: int = 5
    n_critic_warmup: int = 100
    warmup_iters: int = 25
    warmup_every: int = 500
    batch_size: int = 64
    steps: int = 20000
    norm: str = "batch"
    PRESETS = {"tiny": {"n_critic_warmup": 5, "warmup_iters": 2},
               "small": {"steps": 700, "n_critic_warmup": 25, "warmup_iters": 10}}


def _init_dcgan(module: torch.nn.Module) -> None:
    """Reference weights_init: BN weights N(1, 0.02), biases 0 (convs are N(0, 0.02) at build)."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)


class WGAN(GenerativeModel):
    Config = WGANConfig
    provides = ("generator", "critic")

    def __init__(self, config: WGANConfig, data: DataInfo):
        super().__init__(config, data)
        kw = dict(norm=config.norm, equalized=False, init_std=0.02)
        self.generator = Table1Generator(config.latent_dim, data.image_size, config.width, **kw)
        self.critic = Table1EnergyNet(data.image_size, config.width, **kw)
        _init_dcgan(self)
        self.optimizers["g"] = torch.optim.RMSprop(self.generator.parameters(), lr=config.lr)
        self.optimizers["d"] = torch.optim.RMSprop(self.critic.parameters(), lr=config.lr)

    def critic_iters(self, step: int) -> int:
        c = self.config
        if step <= c.warmup_iters or step % c.warmup_every == 0:
            return c.n_critic_warmup
        return c.n_critic

    @staticmethod
    def critic_loss(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
        return f_real.mean() - f_fake.mean()

    def train_step(self, batches, step: int) -> dict[str, float]:
        opt_d, opt_g = self.optimizers["d"], self.optimizers["g"]
        for _ in range(self.critic_iters(step)):
            x, _ = next(batches)
            with torch.no_grad():
                fake = self.generator(self.prior(x.shape[0]))
            loss_d = self.critic_loss(self.critic(x), self.critic(fake))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.config.clip, self.config.clip)
        for p in self.critic.parameters():
            p.requires_grad_(False)
        loss_g = self.critic(self.generator(self.prior(self.config.batch_size))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        # -loss_d estimates the Wasserstein distance (up to the critic's Lipschitz constant)
        return {"w_dist": -loss_d.item(), "loss_g": loss_g.item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(1)

"""VAE (Kingma & Welling 2014) on the shared Table-1 backbones (METHOD.md section 4).

Decoder = the dense Table-1 generator; encoder = the Table-1 energy-network trunk with a head giving
(mu, log sigma^2) in R^{2d}. Loss per image = SSE(x, g(z)) + KL(q(z|x) || N(0, I)) with the
reparameterised z = mu + sigma * eps (a Gaussian decoder with variance 1/2); Adam 2e-4, batch 100.
Reconstruction uses the posterior mean: g(mu(x)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1EnergyNet, Table1Generator


@dataclass
class VAEConfig(ModelConfig):
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 100
    steps: int = 20000
    PRESETS = {"small": {"steps": 1500}}


class VAE(GenerativeModel):
    Config = VAEConfig
    provides = ("generator", "inferrer")

    def __init__(self, config: VAEConfig, data: DataInfo):
        super().__init__(config, data)
        d = config.latent_dim
        self.decoder = Table1Generator(d, data.image_size, config.width)
        self.encoder = Table1EnergyNet(data.image_size, config.width, out_features=2 * d)
        self.optimizers["adam"] = torch.optim.Adam(self.parameters(), lr=config.lr,
                                                   betas=(config.beta1, config.beta2))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    @staticmethod
    def loss(x, rec, mu, logvar) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image SSE and KL(N(mu, sigma^2) || N(0, I)), each averaged over the batch."""
        sse = (rec - x).pow(2).flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        return sse, kl

    def train_step(self, batches, step: int) -> dict[str, float]:
        x, _ = next(batches)
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        sse, kl = self.loss(x, self.decoder(z), mu, logvar)
        opt = self.optimizers["adam"]
        opt.zero_grad(set_to_none=True)
        (sse + kl).backward()
        opt.step()
        return {"loss": (sse + kl).item(), "sse": sse.item(), "kl": kl.item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def infer(self, x: torch.Tensor, index=None) -> torch.Tensor:
        with torch.no_grad():
            return self.encode(x)[0]

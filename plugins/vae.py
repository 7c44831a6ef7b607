"""VAE (Kingma & Welling, ICLR 2014), a baseline of Xing et al. (CVPR 2020, Tables 2-3), on the shared
Table-1 backbones (docs/method.md section 4; the paper gives no baseline settings and there is no reference
code, so this is docs/method.md's choice).

Recipe: decoder = the dense Table-1 generator; encoder = the Table-1 energy-network trunk with a head
giving (mu, log sigma^2) in R^{2d}, d = 100. Loss per image = SSE(x, g(z)) + KL(q(z|x) || N(0, I)) with
the reparameterised z = mu + sigma * eps (a Gaussian decoder with variance 1/2), averaged over the
batch; Adam 2e-4, batch 100. Reconstruction uses the posterior mean: g(mu(x)).

Deviations: log sigma^2 is clamped to [-12, 8] (numerical safety early in training); the ``small``
preset trains 700 steps at batch 64 (about 0.37 CPU-seconds each; 2-3 minutes on 2 CPU cores) instead of to convergence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Table1Generator
from genbench.domains import adam_beta, positive
from genbench.render import trace_layer

from ._common import GaussianEncoder, optimise


@dataclass
class VAEConfig(ModelConfig):
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.999
    batch_size: int = 100
    PRESETS = {"small": {"steps": 700}}
    DOMAINS = {"lr": positive, "beta1": adam_beta, "beta2": adam_beta}


class VAE(GenerativeModel):
    """Variational autoencoder (Kingma & Welling, ICLR 2014) on the Table-1 backbones."""

    Config = VAEConfig
    provides = ("generator", "inferrer", "tracer")

    def __init__(self, config: VAEConfig, data: DataInfo):
        super().__init__(config, data)
        d = config.latent_dim
        self.decoder = Table1Generator(d, data.image_size, config.width)
        self.encoder = GaussianEncoder(d, data.image_size, config.width)
        self.optimizers["adam"] = torch.optim.Adam(self.parameters(), lr=config.lr,
                                                   betas=(config.beta1, config.beta2))

    @staticmethod
    def loss(x, rec, mu, logvar) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image SSE and KL(N(mu, sigma^2) || N(0, I)), each averaged over the batch."""
        sse = (rec - x).pow(2).flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        return sse, kl

    def train_step(self, batches, step: int) -> dict[str, float]:
        x, _ = next(batches)
        mu, logvar = self.encoder(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        sse, kl = self.loss(x, self.decoder(z), mu, logvar)
        optimise(self.optimizers["adam"], sse + kl)
        return {"loss": (sse + kl).item(), "sse": sse.item(), "kl": kl.item()}

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def infer(self, x: torch.Tensor, index=None) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(x)[0]

    def trace_layer(self, z, layer, edit=None):
        return trace_layer(self.decoder, z, layer, edit)

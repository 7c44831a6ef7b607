"""ALI: adversarially learned inference (Dumoulin et al., ICLR 2017), a baseline of Xing et al.
(CVPR 2020, Tables 2-3), following the reference ``IshmaelBelghazi/ALI`` (``experiments/ali_celeba.py``)
on the shared Table-1 backbones (docs/method.md section 4).

Recipe: a Gaussian encoder E (reparameterised z = mu(x) + sigma(x) eps), a generator G and a joint
discriminator D(x, z) that tells the encoder's pairs (x, E(x)) from the generator's (G(z), z):
- D minimises softplus(-D(x, E(x))) + softplus(D(G(z), z));
- G and E minimise softplus(D(x, E(x))) + softplus(-D(G(z), z)) (labels swapped).
D = x-trunk (the Table-1 energy network's features), z-trunk (two 512-unit layers) and a joint
network (two 1024-unit layers, then one logit), LReLU(0.2), dropout 0.2 on every D layer; widths scale
with the preset's ``width``. z ~ N(0, I) in R^256, Adam 1e-4, beta1 0.5, batch 100, batch norm in every
network (none on D's first layer), N(0, 0.01) initialisation (the reference's isotropic Gaussian).
Reconstruction: G(mu_E(x)).

Deviations: the Table-1 backbones replace the reference's strided (de)convolutions and the z/joint
trunks are fully connected layers where the reference uses 1x1 convolutions on a 1x1 map (the same
maps); the updates alternate (D, then G and E on the updated D) where the reference updates them
simultaneously; the reference's 123 epochs become the preset's ``steps`` (``small``: 300 steps at
batch 64, about 0.85 CPU-seconds each, so 2-3 minutes on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.api import DataInfo, GenerativeModel, ModelConfig
from genbench.backbones import Dense, Table1EnergyNet, Table1Generator, scaled
from genbench.domains import adam_beta, between, count, positive
from genbench.render import trace_layer

from ._common import GaussianEncoder, bce_d_loss, dcgan_backbone, frozen, init_batchnorm, optimise


@dataclass
class ALIConfig(ModelConfig):
    latent_dim: int = 256
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    dropout: float = 0.2
    init_std: float = 0.01
    d_steps: int = 1
    batch_size: int = 100
    PRESETS = {"small": {"steps": 300}}
    DOMAINS = {"lr": positive, "beta1": adam_beta, "beta2": adam_beta, "dropout": between(0, 1, high_open=True),
               "init_std": positive, "d_steps": count}


def _mlp(fin: int, widths: list[int], dropout: float, init_std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w in widths:
        layers += [Dense(fin, w, equalized=False, init_std=init_std), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        fin = w
    return nn.Sequential(*layers)


class JointDiscriminator(nn.Module):
    """D(x, z): a logit for "this pair came from the encoder" (real) vs "from the generator" (fake)."""

    def __init__(self, latent_dim: int, image_size: int, width: float, dropout: float, init_std: float):
        super().__init__()
        self.x_net = Table1EnergyNet(image_size, width, dropout=dropout, **dcgan_backbone(init_std))
        zw, jw = scaled(512, width), scaled(1024, width)
        self.z_net = _mlp(latent_dim, [zw, zw], dropout, init_std)
        self.joint = _mlp(self.x_net.feature_dim + zw, [jw, jw], dropout, init_std)
        self.head = Dense(jw, 1, equalized=False, init_std=init_std)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        h = torch.cat([self.x_net.features(x), self.z_net(z)], dim=1)
        return self.head(self.joint(h)).squeeze(1)


class ALI(GenerativeModel):
    """Adversarially learned inference (Dumoulin et al., ICLR 2017): joint (x, z) discriminator."""

    Config = ALIConfig
    provides = ("generator", "inferrer", "tracer")

    def __init__(self, config: ALIConfig, data: DataInfo):
        super().__init__(config, data)
        d, size, w, kw = config.latent_dim, data.image_size, config.width, dcgan_backbone(config.init_std)
        self.generator = Table1Generator(d, size, w, **kw)
        self.encoder = GaussianEncoder(d, size, w, **kw)
        self.discriminator = JointDiscriminator(d, size, w, config.dropout, config.init_std)
        init_batchnorm(self)
        betas = (config.beta1, config.beta2)
        ge_params = [*self.generator.parameters(), *self.encoder.parameters()]
        self.optimizers["ge"] = torch.optim.Adam(ge_params, lr=config.lr, betas=betas)
        self.optimizers["d"] = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas)

    d_loss = staticmethod(bce_d_loss)

    @staticmethod
    def ge_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator's loss with the labels swapped: softplus(D_real) + softplus(-D_fake)."""
        return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()

    def extra_losses(self, x: Tensor, z: Tensor, z_x: Tensor, x_z: Tensor) -> dict[str, Tensor]:
        """Regularisers added to the G/E loss (none for ALI; ALICE adds its cycle terms)."""
        return {}

    def train_step(self, batches, step: int) -> dict[str, float]:
        D = self.discriminator
        for _ in range(self.config.d_steps):
            x, _ = next(batches)
            z = self.prior(x.shape[0])
            with torch.no_grad():
                z_x, x_z = self.encoder.sample(x), self.generator(z)
            loss_d = self.d_loss(D(x, z_x), D(x_z, z))
            optimise(self.optimizers["d"], loss_d)
        with frozen(D):  # G and E step on the last D batch
            z_x, x_z = self.encoder.sample(x), self.generator(z)
            loss_adv = self.ge_loss(D(x, z_x), D(x_z, z))
            extra = self.extra_losses(x, z, z_x, x_z)
            loss_ge = loss_adv + sum(extra.values())
            optimise(self.optimizers["ge"], loss_ge)
        return {"loss_d": loss_d.item(), "loss_ge": loss_adv.item(), **{k: v.item() for k, v in extra.items()}}

    def generate(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def infer(self, x: Tensor, index=None) -> Tensor:
        with torch.no_grad():
            return self.encoder(x)[0]

    def trace_layer(self, z, layer, edit=None):
        return trace_layer(self.generator, z, layer, edit)

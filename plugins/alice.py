"""ALICE: ALI with conditional-entropy regularisers (Li et al., NeurIPS 2017), a baseline of Xing et al.
(CVPR 2020, Tables 2-3), following the reference ``ChunyuanLI/ALICE`` (``celeba/celebA_alice.py``) on the
shared Table-1 backbones (docs/method.md section 4). Built on ``ali.ALI``: same networks and adversarial
game, plus cycle-consistency terms in the G/E loss that bound the conditional entropies H(x|z), H(z|x):

    loss_GE = ALI's loss + lambda * (mean |x - G(E(x))| + mean |z - E(G(z))|)

with E's reparameterised samples. lambda = 1 (the reference sweeps 1e-6 ... 1e3), z ~ N(0, I) in R^64,
Adam 1e-4, beta1 0.5, batch 64, 2 D steps per G/E step. Reconstruction: G(mu_E(x)).

Deviations: as ALI's (Table-1 backbones, alternating updates); the adversarial loss is the
non-saturating log loss on logits where the reference code uses raw probabilities (docs/method.md choice,
for stable gradients); reconstruction decodes the encoder mean rather than a sample, so MSE is
deterministic. The ``small`` preset trains 175 G/E steps (350 D steps; about 1.45 CPU-seconds per step, so
2-3 minutes on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from genbench.domains import non_negative

from .ali import ALI, ALIConfig


@dataclass
class ALICEConfig(ALIConfig):
    latent_dim: int = 64
    cycle_weight: float = 1.0
    d_steps: int = 2
    batch_size: int = 64
    PRESETS = {"small": {"steps": 175}}
    DOMAINS = {"cycle_weight": non_negative}


class ALICE(ALI):
    """ALI with cycle-consistency (conditional-entropy) regularisers (Li et al., NeurIPS 2017)."""

    Config = ALICEConfig

    @staticmethod
    def cycle_loss(x: Tensor, x_rec: Tensor, z: Tensor, z_rec: Tensor) -> Tensor:
        """mean |x - G(E(x))| + mean |z - E(G(z))| (L1 cycle consistency in both spaces)."""
        return (x - x_rec).abs().mean() + (z - z_rec).abs().mean()

    def extra_losses(self, x: Tensor, z: Tensor, z_x: Tensor, x_z: Tensor) -> dict[str, Tensor]:
        cycle = self.cycle_loss(x, self.generator(z_x), z, self.encoder.sample(x_z))
        return {"cycle": self.config.cycle_weight * cycle}

"""``cmmd`` in every feature space: CMMD (Jayasumana et al., "Rethinking FID: Towards a Better Evaluation Metric
for Image Generation", CVPR 2024): MMD² with a Gaussian RBF kernel (sigma = 10) on L2-normalised embeddings,
scaled by 1000, as google-research ``cmmd/distance.py`` computes it (the biased V-statistic over the whole sets;
genbench.metrics.core.cmmd). Defined in CLIP ViT-L/14@336 (``cmmd``, comparable with the paper's numbers at the
same n); ``cmmd_<space>`` is the same statistic in another space (compare genbench runs only).

Why it is there: no Gaussian assumption on the features, and unbiased enough at small n that Jayasumana et al.
report it stable from a few thousand images where FID is not. It is not zero for two samples of one distribution:
the V-statistic's floor is about 1000 (1/m + 1/n)(1 - E k) (module notes of the core); compare at equal n.

Samples: the same n per side as ``fd`` in that space, from the same extracted features.
Interval: split halves of the real and generated feature vectors, as ``kid``'s (genbench.metrics.core.bootstrap
``kernel_interval`` with the scaled RBF kernel): an interval for the whole sets' unbiased MMD² on the
variance-stabilised scale, shifted to the value (the V-statistic differs from the U-statistic by about
1000 (1/m + 1/n)(1 - E k), a near constant, so their spreads agree).
"""

from __future__ import annotations

import torch

from genbench.api import EvalContext, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.cmmd import SCALE, SIGMA, block_rbf, cmmd, l2_normalize
from genbench.metrics.core.features import Extractor, feature_sets, fewer_fakes_note
from genbench.metrics.core.spacemetric import SpaceMetric


class CMMD(SpaceMetric):
    description = "CMMD (Jayasumana et al. 2024): RBF-kernel MMD² (sigma 10, x1000) on L2-normalised embeddings"
    family = "cmmd"
    rank = 22
    version = 1
    constants = {"kernel": f"Gaussian RBF, sigma = {SIGMA:g}", "scale": SCALE, "estimator": "V-statistic, whole sets",
                 "features": "L2-normalised", "interval": bootstrap.KERNEL_INTERVAL}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        real, fake, info = feature_sets(ctx, extractor)
        value = cmmd(real, fake, device=ctx.device)
        interval = bootstrap.kernel_interval(value, l2_normalize(real), l2_normalize(fake), ctx.device,
                                             kernel=scaled_rbf)
        note = fewer_fakes_note(info, ctx)
        return [Score(self.name, value, "warn" if note else "ok", note,
                      extra={**info, **bootstrap.extra(interval)})]


def scaled_rbf(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CMMD's kernel times its scale, so that the interval's MMD² is in CMMD's units."""
    return SCALE * block_rbf(x, y, x.square().sum(1), y.square().sum(1), SIGMA)

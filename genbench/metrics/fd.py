"""``fd`` in every feature space: the Fréchet distance (Heusel et al., "GANs Trained by a Two Time-Scale Update
Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, Eq. 6) between Gaussians fitted to the features of
real and generated images: d² = ||mu_r - mu_g||² + Tr(S_r + S_g - 2 (S_r S_g)^{1/2}).

Named by space (genbench.api.space_name): ``fid`` in pytorch-fid's Inception (FID as published, the paper's
Table 2), ``fd_dinov2`` (FD_DINOv2 as EDM2 and dgm-eval report it), ``fd_clip``, ``fd_effnet``, ``fd_rand``
(genbench's random CNN; Naeem et al. 2020, Lee et al. 2023). Only ``fid`` and ``fd_dinov2`` compare with
published numbers, and only at the same n.

Samples: the first n training images (real features cached per protocol) against n generated samples, n = the
training-set size as in the paper (docs/method.md section 5) unless ``n_fid`` caps it. Below 2048 samples the
value is marked 'warn' (†): the Fréchet distance is biased upwards on small samples (``fdinf`` extrapolates
that bias away).

Interval (genbench.metrics.core.bootstrap.frechet_interval), from the feature vectors already extracted: the
mean term ||mu_r - mu_g||² by its variance law in closed form (2 tr(Ω²) + 4 q θ, growing with the distance θ;
the interval taken on the scale where that variance is constant), the covariance term's variance from split
halves of each side (B = 50 splits, 25 of them quartered; FD's small-sample bias cancels in the difference of
two equal halves, the variance at n is extrapolated from n/2 and n/4). The bootstrap with replacement before it
was 1.6-2x too wide near equality; the plug-in value ± 1.96 sd after it missed from below between equality and
a clear difference.
"""

from __future__ import annotations

from genbench.api import EvalContext, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.features import Extractor, feature_sets, fewer_fakes_note, sample_count, small_sample_note
from genbench.metrics.core.frechet import feature_stats, frechet_distance
from genbench.metrics.core.spacemetric import SpaceMetric


class FD(SpaceMetric):
    description = "Fréchet distance (Heusel et al. 2017, Eq. 6) in a feature space: FID in Inception"
    family = "fd"
    rank = 10
    version = 3
    constants = {"interval": bootstrap.FRECHET_INTERVAL}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        real, fake, info = feature_sets(ctx, extractor)
        mu_r, s_r = feature_stats(real)
        mu_g, s_g = feature_stats(fake)
        value = frechet_distance(mu_r, s_r, mu_g, s_g)
        note = small_sample_note(min(info["n_real"], info["n_fake"], sample_count(ctx)), self.name) \
            or fewer_fakes_note(info, ctx)
        interval = bootstrap.frechet_interval(value, real, fake, ctx.device)
        return [Score(self.name, value, "warn" if note else "ok", note, extra={**info, **bootstrap.extra(interval)})]

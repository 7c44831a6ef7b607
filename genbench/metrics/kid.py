"""``kid`` in every feature space: the unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)^3
(Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, Eq. 4 and section 4): KID in Inception (``kid``),
``kid_dinov2``, ``kid_clip``, ``kid_effnet``, ``kid_rand`` elsewhere (comparable with nothing published but
``kid`` at the same n).

Computed on the same features as ``fd`` in that space (same cached real features, same generated samples),
averaged over 100 random subsets of up to 1000 samples per set; the standard deviation over subsets is kept
in ``extra``. Unbiased, so it can be slightly negative and needs no small-sample warning.

Interval: split halves of the real and generated feature vectors already extracted
(genbench.metrics.core.bootstrap.kernel_interval, issue 29: B = 200 splits; the unbiased MMD² of each half and
of the halves swapped across the sides, the variance at equality from the swapped ones, and an interval on the
variance-stabilised scale of a variance that grows with the distance, at a slope that errs high; the bootstrap
with replacement was 1.3-1.7x too wide near equality, the plug-in split-half interval too narrow between
equality and a clear difference, the score interval of the same law 2x too wide at equality in a network's
features, the Rayleigh slope short between equality and a clear difference), on the whole sets, not 100 subsets
again (shifted to the value).
"""

from __future__ import annotations

from genbench.api import EvalContext, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.features import Extractor, feature_sets, fewer_fakes_note
from genbench.metrics.core.frechet import KID_SUBSET_SIZE, KID_SUBSETS, kernel_distance
from genbench.metrics.core.spacemetric import SpaceMetric


class KID(SpaceMetric):
    description = "Kernel distance, unbiased MMD² with cubic kernel (Bińkowski et al. 2018, Eq. 4): KID in Inception"
    family = "kid"
    rank = 20
    version = 2
    constants = {"kid_subsets": KID_SUBSETS, "kid_subset_size": KID_SUBSET_SIZE, "interval": bootstrap.KERNEL_INTERVAL}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        real, fake, info = feature_sets(ctx, extractor)
        mean, std = kernel_distance(real, fake, seed=ctx.seed)
        note = fewer_fakes_note(info, ctx)
        interval = bootstrap.kernel_interval(mean, real, fake, ctx.device)
        return [Score(self.name, mean, "warn" if note else "ok", note,
                      extra={**info, "std": std, **bootstrap.extra(interval)})]

"""``kid``: Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, Eq. 4:
the unbiased MMD² estimator, with the cubic polynomial kernel k(x, y) = (x·y/d + 1)^3 of their section 4).

Computed on the same pytorch-fid InceptionV3 pool3 features as ``fid`` (same verified weights, same
cached real statistics, same generated samples), averaged over 100 random subsets of up to 1000
samples per set; the standard deviation over subsets is kept in ``extra``. Unbiased, so it can be
slightly negative and, unlike FID, needs no small-sample warning. Unavailable when FID's weights are.

Interval: split halves of the real and generated feature vectors already extracted
(genbench.metrics.core.bootstrap.split_interval, issue 29: B = 200 splits, the unbiased MMD² of each half and
quarter, the variance at n extrapolated from n/2 and n/4; the bootstrap with replacement it replaced was 1.3-1.7x
too wide near equality), not 100 subsets again.
"""

from __future__ import annotations

from genbench.api import INCEPTION, EvalContext, Metric, Score
from genbench.metrics.core import bootstrap, inception
from genbench.metrics.core.features import feature_protocol, feature_sets, fewer_fakes_note
from genbench.metrics.core.frechet import KID_SUBSET_SIZE, KID_SUBSETS, kernel_distance


class KID(Metric):
    description = "Kernel Inception Distance, unbiased MMD² with cubic kernel (Bińkowski et al. 2018, Eq. 4)"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    rank = 20
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        weights = ctx.settings.weights(INCEPTION)
        return {**feature_protocol(ctx, inception.identity(weights)), "kid_subsets": KID_SUBSETS,
                "kid_subset_size": KID_SUBSET_SIZE, "interval": bootstrap.KERNEL_INTERVAL}

    def compute(self, ctx: EvalContext) -> list[Score]:
        weights = ctx.settings.weights(INCEPTION)
        extractor = inception.extractor(weights, ctx.device)
        if extractor is None:
            return [Score("kid", None, "unavailable", weights.reason)]
        real, fake, info = feature_sets(ctx, extractor)
        mean, std = kernel_distance(real, fake, seed=ctx.seed)
        extra = {**info, "std": std, "weights_sha256": weights.sha256,
                 **bootstrap.extra(bootstrap.kernel_interval(mean, real, fake, ctx.device))}
        if not weights.verified:
            return [Score(weights.score_name("kid"), mean, "warn",
                          f"Inception weights failed verification ({weights.reason}); not KID", extra=extra)]
        note = fewer_fakes_note(info, ctx)
        return [Score("kid", mean, "warn" if note else "ok", note, extra=extra)]

"""``kid``: Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, Eq. 4:
the unbiased MMD² estimator, with the cubic polynomial kernel k(x, y) = (x·y/d + 1)^3 of their section 4).

Computed on the same pytorch-fid InceptionV3 pool3 features as ``fid`` (same verified weights, same
cached real statistics, same generated samples), averaged over 100 random subsets of up to 1000
samples per set; the standard deviation over subsets is kept in ``extra``. Unbiased, so it can be
slightly negative and, unlike FID, needs no small-sample warning. Unavailable when FID's weights are.
"""

from __future__ import annotations

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core.features import feature_sets, fewer_fakes_note
from genbench.metrics.core.frechet import KID_SUBSET_SIZE, KID_SUBSETS, kernel_distance
from genbench.metrics.fid import inception_extractor, inception_protocol


class KID(Metric):
    description = "Kernel Inception Distance, unbiased MMD² with cubic kernel (Bińkowski et al. 2018, Eq. 4)"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    rank = 20

    def protocol(self, ctx: EvalContext) -> dict:
        return {**inception_protocol(ctx), "kid_subsets": KID_SUBSETS, "kid_subset_size": KID_SUBSET_SIZE}

    def compute(self, ctx: EvalContext) -> list[Score]:
        extractor, verified, reason = inception_extractor(ctx)
        if extractor is None:
            return [Score("kid", None, "unavailable", reason)]
        real, fake, info = feature_sets(ctx, extractor)
        mean, std = kernel_distance(real, fake, seed=ctx.seed)
        extra = {**info, "std": std, "weights_sha256": extractor.identity["weights_sha256"]}
        if not verified:
            return [Score("kid_unverified", mean, "warn",
                          f"Inception weights failed verification ({reason}); not KID", extra=extra)]
        note = fewer_fakes_note(info, ctx)
        return [Score("kid", mean, "warn" if note else "ok", note, extra=extra)]

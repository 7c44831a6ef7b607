"""``kid_rand``: KID's unbiased MMD² with the cubic kernel (Bińkowski et al. 2018, Eq. 4) in the feature
space of genbench's frozen, seeded random CNN (genbench.metrics.core.randcnn; Naeem et al., ICML 2020; Lee, Kim &
Lee, AAAI 2023). NOT KID on Inception features: not comparable with published KID values. Needs no
downloaded weights. Same samples and subsets as ``kid``, and the same interval (split halves).
"""

from __future__ import annotations

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.features import feature_protocol, feature_sets, fewer_fakes_note
from genbench.metrics.core.frechet import KID_SUBSET_SIZE, KID_SUBSETS, kernel_distance
from genbench.metrics.core.randcnn import PROTOCOL, RandCNNExtractor


class KIDRand(Metric):
    description = "unbiased MMD² (cubic kernel) on frozen random-CNN features (Lee et al. 2023); NOT KID"
    requires = frozenset({"generator"})
    rank = 50
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {**feature_protocol(ctx, RandCNNExtractor.identity_for()), "kid_subsets": KID_SUBSETS,
                "kid_subset_size": KID_SUBSET_SIZE, "interval": bootstrap.KERNEL_INTERVAL}

    def compute(self, ctx: EvalContext) -> list[Score]:
        real, fake, info = feature_sets(ctx, RandCNNExtractor(ctx.device))
        mean, std = kernel_distance(real, fake, seed=ctx.seed)
        note = fewer_fakes_note(info, ctx)
        interval = bootstrap.kernel_interval(mean, real, fake, ctx.device)
        return [Score("kid_rand", mean, "warn" if note else "ok", note or "random-CNN features; not KID",
                      extra={**info, "std": std, "network": PROTOCOL["network"], **bootstrap.extra(interval)})]

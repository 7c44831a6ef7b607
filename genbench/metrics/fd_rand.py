"""``fd_rand``: Fréchet distance (Heusel et al. 2017, Eq. 6) in the feature space of genbench's frozen,
seeded random CNN (genbench.metrics.core.randcnn), following the random-embedding evaluations of Naeem et al.,
ICML 2020 (section 5) and Lee, Kim & Lee, AAAI 2023. NOT FID: its values cannot be compared with any
published FID. It needs no downloaded weights (the 0.8 MB weights file ships with genbench and is
SHA-256 checked), so a feature-space distance exists offline. Same sample sizes as ``fid``, and the
same 'warn' below 2048 samples (the Fréchet distance is biased upwards on small samples).

Interval: split halves of the feature vectors already extracted, as ``fid``'s
(genbench.metrics.core.bootstrap.split_interval, B = 100 splits).
"""

from __future__ import annotations

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.features import (
    feature_protocol,
    feature_sets,
    fewer_fakes_note,
    sample_count,
    small_sample_note,
)
from genbench.metrics.core.frechet import feature_stats, frechet_distance
from genbench.metrics.core.randcnn import PROTOCOL, RandCNNExtractor


class FDRand(Metric):
    description = "Fréchet distance on frozen random-CNN features (Naeem et al. 2020; Lee et al. 2023); NOT FID"
    requires = frozenset({"generator"})
    rank = 40
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {**feature_protocol(ctx, RandCNNExtractor.identity_for()), "interval": bootstrap.FRECHET_INTERVAL}

    def compute(self, ctx: EvalContext) -> list[Score]:
        real, fake, info = feature_sets(ctx, RandCNNExtractor(ctx.device))
        mu_r, s_r = feature_stats(real)
        mu_g, s_g = feature_stats(fake)
        value = frechet_distance(mu_r, s_r, mu_g, s_g)
        note = small_sample_note(min(info["n_real"], info["n_fake"], sample_count(ctx)), "fd_rand") \
            or fewer_fakes_note(info, ctx)
        interval = bootstrap.frechet_interval(value, real, fake, ctx.device)
        return [Score("fd_rand", value, "warn" if note else "ok", note or "random-CNN features; not FID",
                      extra={**info, "network": PROTOCOL["network"], **bootstrap.extra(interval)})]

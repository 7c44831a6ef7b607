"""``fid``: Fréchet Inception Distance (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", NeurIPS 2017, Eq. 6), as in the paper's Table 2 and pytorch-fid.

d² = ||mu_r - mu_g||² + Tr(S_r + S_g - 2 (S_r S_g)^{1/2}) between Gaussians fitted to the 2048-d pool3
features of pytorch-fid's InceptionV3 on the whole training split (real, cached per protocol) and on
n generated samples, n = the training-set size as in the paper (docs/method.md section 5).

Weights: ``--inception-weights``, ``$GENBENCH_INCEPTION_WEIGHTS`` or the torch hub cache; SHA-256 must
start with 6726825d and is recorded. Missing or mismatched weights give status 'unavailable' (never
another network). ``--allow-unverified-weights`` computes a mismatched file only as ``fid_unverified``.
Below 2048 samples the value is marked 'warn' (†): FID is biased upwards on small samples.

Interval: split halves of the real and generated feature vectors already extracted
(genbench.metrics.core.bootstrap.split_interval, issue 29: B = 100 splits; FD's small-sample bias cancels in
the difference of two equal halves, the variance at n is extrapolated from n/2 and n/4; the bootstrap with
replacement it replaced was 1.6-2x too wide near equality).
"""

from __future__ import annotations

from genbench.api import INCEPTION, EvalContext, Metric, Score
from genbench.metrics.core import bootstrap, inception
from genbench.metrics.core.features import (
    feature_protocol,
    feature_sets,
    fewer_fakes_note,
    sample_count,
    small_sample_note,
)
from genbench.metrics.core.frechet import feature_stats, frechet_distance


class FID(Metric):
    description = "Fréchet Inception Distance (Heusel et al. 2017, Eq. 6; pytorch-fid network, verified weights)"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    rank = 10
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        weights = ctx.settings.weights(INCEPTION)
        return {**feature_protocol(ctx, inception.identity(weights)), "interval": bootstrap.FRECHET_INTERVAL}

    def compute(self, ctx: EvalContext) -> list[Score]:
        weights = ctx.settings.weights(INCEPTION)
        extractor = inception.extractor(weights, ctx.device)
        if extractor is None:
            return [Score("fid", None, "unavailable", weights.reason)]
        real, fake, info = feature_sets(ctx, extractor)
        mu_r, s_r = feature_stats(real)
        mu_g, s_g = feature_stats(fake)
        value = frechet_distance(mu_r, s_r, mu_g, s_g)
        extra = {**info, "weights_sha256": weights.sha256,
                 **bootstrap.extra(bootstrap.frechet_interval(value, real, fake, ctx.device))}
        if not weights.verified:
            return [Score(weights.score_name("fid"), value, "warn",
                          f"Inception weights failed verification ({weights.reason}); not FID", extra=extra)]
        note = small_sample_note(min(info["n_real"], info["n_fake"], sample_count(ctx)), "FID") \
            or fewer_fakes_note(info, ctx)
        return [Score("fid", value, "warn" if note else "ok", note, extra=extra)]

"""``fdinf`` in every feature space: FD∞ (Chong & Forsyth, "Effectively Unbiased FID and Inception Score and
where to find them", CVPR 2020): the Fréchet distance at 15 generated-sample sizes N, a least-squares line in 1/N,
its intercept (genbench.metrics.core.fdinf, after mchong6/FID_IS_infinity). The honest answer to "FD depends on
N": ``fid`` from 2048 samples and ``fid`` from 50,000 differ by their bias; their FD∞ need not.

Named ``fdinf_inception`` (FID∞ in the paper), ``fdinf_dinov2``, ``fdinf_rand``, ... Samples: the same real
features as ``fd`` (their statistics fixed) and subsets of the same generated samples (N from max(30, n/10) to n).
Status 'warn' (†) when the smallest N is at or below the feature dimension (FD is then not linear in 1/N and the
intercept can be far off, even negative: any run under 2048 samples in Inception) or when fewer samples were
generated than the protocol asks; 'n/a' below 60 generated samples. No bootstrap interval: a replicate would
cost 15 Fréchet distances; the fit's own standard error (``intercept_se``, which leaves out the sampling noise
of the two sets) and the 15 (N, FD_N) points are in the record.
"""

from __future__ import annotations

from genbench.api import EvalContext, Score
from genbench.metrics.core.fdinf import MIN_SIZE, NUM_POINTS, fd_infinity
from genbench.metrics.core.features import Extractor, feature_sets, fewer_fakes_note
from genbench.metrics.core.spacemetric import SpaceMetric


class FDInf(SpaceMetric):
    description = "FD∞ (Chong & Forsyth 2020): FD at 15 sample sizes, linear in 1/N, the intercept"
    family = "fdinf"
    rank = 12
    version = 1
    constants = {"points": NUM_POINTS, "smallest_n": f"max({MIN_SIZE}, n / 10)", "fit": "OLS of FD_N on 1/N"}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        real, fake, info = feature_sets(ctx, extractor)
        r = fd_infinity(real, fake, seed=ctx.seed)
        extra = {**info, "sizes": [int(n) for n in r.sizes], "fd": [round(float(v), 6) for v in r.fd],
                 "slope": r.slope, "intercept_se": r.intercept_se, "residual_se": r.residual_se}
        if r.value is None:
            return [Score(self.name, None, "n/a", r.reason or "too few samples for the fit", extra=extra)]
        note = fewer_fakes_note(info, ctx) or (
            f"smallest N ({int(r.sizes[0])}) <= the features' dimension ({real.shape[1]}): FD is not linear in 1/N "
            f"there; the intercept is unreliable" if r.below_dim else "")
        return [Score(self.name, r.value, "warn" if note else "ok", note, extra=extra)]

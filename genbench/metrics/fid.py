"""``fid``: Fréchet Inception Distance (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", NeurIPS 2017, Eq. 6), as in the paper's Table 2 and pytorch-fid.

d² = ||mu_r - mu_g||² + Tr(S_r + S_g - 2 (S_r S_g)^{1/2}) between Gaussians fitted to the 2048-d pool3
features of pytorch-fid's InceptionV3 on the whole training split (real, cached per protocol) and on
n generated samples, n = the training-set size as in the paper (docs/method.md section 5).

Weights: ``--inception-weights``, ``$GENBENCH_INCEPTION_WEIGHTS`` or the torch hub cache; SHA-256 must
start with 6726825d and is recorded. Missing or mismatched weights give status 'unavailable' (never
another network). ``--allow-unverified-weights`` computes a mismatched file only as ``fid_unverified``.
Below 2048 samples the value is marked 'warn' (†): FID is biased upwards on small samples.

Interval (version 2): bootstrap over the real and generated feature vectors already extracted
(genbench.metrics.core.bootstrap: B = 100, percentile 95 %, re-centred on the value).
"""

from __future__ import annotations

import warnings
from typing import Any

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core import bootstrap, inception
from genbench.metrics.core.features import (
    MIN_RELIABLE_N,
    feature_protocol,
    feature_sets,
    fewer_fakes_note,
    sample_count,
)
from genbench.metrics.core.frechet import feature_stats, frechet_distance

_NETS: dict[str, inception.FIDInception] = {}
FRECHET_INTERVAL = bootstrap.describe("feature vectors, real and generated", b=bootstrap.B_FRECHET)
KERNEL_INTERVAL = bootstrap.describe("feature vectors, real and generated",
                                     statistic="unbiased MMD² of the whole resampled sets, distinct pairs")


def inception_source(ctx: EvalContext) -> tuple[str | None, str | None, bool, str]:
    """(path, sha256, verified, reason): the weights to use, or path None and the reason they are unavailable."""
    return inception.find_weights(ctx.options.get("inception_weights"), ctx.options.get("allow_unverified_weights"))


def inception_extractor(ctx: EvalContext) -> tuple[inception.InceptionExtractor | None, bool, str]:
    """(extractor or None, verified, reason); warns once per call when unavailable or unverified."""
    path, sha, verified, reason = inception_source(ctx)
    if path is None:
        warnings.warn(f"Inception weights unavailable: {reason}", RuntimeWarning, stacklevel=2)
        return None, False, reason
    if not verified:
        warnings.warn(f"using UNVERIFIED Inception weights {path} (--allow-unverified-weights): {reason}",
                      RuntimeWarning, stacklevel=2)
    if sha not in _NETS:
        _NETS[sha] = inception.load(path, sha, allow_unverified=not verified)
    return inception.InceptionExtractor(_NETS[sha], sha, ctx.device), verified, reason


def inception_protocol(ctx: EvalContext) -> dict[str, Any]:
    _, sha, verified, reason = inception_source(ctx)
    identity = {**inception.PROTOCOL, "weights_sha256": sha or f"unavailable: {reason}"}
    if sha and not verified:
        identity["weights_verified"] = False
    return feature_protocol(ctx, identity)


def small_sample_note(n: int, what: str) -> str:
    return (f"{what} from {n} < {MIN_RELIABLE_N} samples is biased upwards; not comparable with published values"
            if n < MIN_RELIABLE_N else "")


class FID(Metric):
    description = "Fréchet Inception Distance (Heusel et al. 2017, Eq. 6; pytorch-fid network, verified weights)"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    rank = 10
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {**inception_protocol(ctx), "interval": FRECHET_INTERVAL}

    def compute(self, ctx: EvalContext) -> list[Score]:
        extractor, verified, reason = inception_extractor(ctx)
        if extractor is None:
            return [Score("fid", None, "unavailable", reason)]
        real, fake, info = feature_sets(ctx, extractor)
        mu_r, s_r = feature_stats(real)
        mu_g, s_g = feature_stats(fake)
        value = frechet_distance(mu_r, s_r, mu_g, s_g)
        extra = {**info, "weights_sha256": extractor.identity["weights_sha256"],
                 **bootstrap.extra(bootstrap.frechet_interval(value, real, fake, ctx.device))}
        note = small_sample_note(min(info["n_real"], info["n_fake"], sample_count(ctx)), "FID") \
            or fewer_fakes_note(info, ctx)
        if not verified:
            return [Score("fid_unverified", value, "warn",
                          f"Inception weights failed verification ({reason}); not FID", extra=extra)]
        return [Score("fid", value, "warn" if note else "ok", note, extra=extra)]

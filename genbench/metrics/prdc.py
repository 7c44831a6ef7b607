"""``prdc`` and ``prdc_rand``: precision, recall, density and coverage (Naeem, Oh, Uh, Choi & Yoo,
"Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020; precision and recall as in
Kynkäänniemi et al., NeurIPS 2019), which separate fidelity (precision, density: are the samples on the
data manifold?) from diversity (recall, coverage: is all of the data covered?). Definitions, k = 5,
Euclidean k-NN radii and the strict "<" exactly as the ``prdc`` package (genbench.metrics.core.prdc;
tests/test_prdc.py checks all four numbers against it).

- ``prdc``: in the Inception pool3 space (verified pytorch-fid weights, as FID): ``precision``,
  ``recall``, ``density``, ``coverage``.
- ``prdc_rand``: in the frozen random-CNN space (genbench.metrics.core.randcnn, as ``fd_rand``), always
  available: ``precision_rand``, ``recall_rand``, ``density_rand``, ``coverage_rand``. Not comparable
  with published values.

Samples: the same n per side as FID (the first n training images against n generated ones; ``n_fid``:
2048 at ``small``, 64 at ``tiny``, the training-set size at ``paper``), from the same extracted features
(computed once per evaluation). Naeem et al. use ``RELIABLE_N`` = 10,000 per side; below that the values
are marked † (status 'warn'). Expectations (Naeem et al., section 3): for identical distributions
precision and recall are high, density about 1 and coverage about 1 - 2^-k = 0.97.

Intervals (genbench.metrics.core.bootstrap.prdc_intervals): each score is a mean over points (precision and
density over the generated samples, recall and coverage over the real ones), bootstrapped over those points
with the k-NN balls held as computed, B = 200, 95 % percentile intervals.
"""

from __future__ import annotations

from genbench.api import INCEPTION, EvalContext, Metric, Score
from genbench.metrics.core import bootstrap, inception
from genbench.metrics.core.features import feature_protocol, feature_sets, fewer_fakes_note
from genbench.metrics.core.prdc import NEAREST_K, prdc_points
from genbench.metrics.core.randcnn import PROTOCOL, RandCNNExtractor

RELIABLE_N = 10_000  # per side, as Naeem et al. (2020) evaluate
NAMES = ("precision", "recall", "density", "coverage")


def _scores(real, fake, info: dict, ctx: EvalContext, named, extra: dict) -> list[Score]:
    """The four scores, each recorded under ``named(name)`` (e.g. ``precision_rand``, ``precision_unverified``)."""
    points = prdc_points(real, fake, k=NEAREST_K)  # the four scores point by point: their means, and intervals
    values = {"precision": points["precision"].double().mean().item(),
              "recall": points["recall"].double().mean().item(),
              "density": points["density"].double().mean().item() / NEAREST_K,
              "coverage": points["coverage"].double().mean().item()}
    intervals = bootstrap.prdc_intervals(values, points, NEAREST_K)
    n = min(info["n_real"], info["n_fake"])
    note = fewer_fakes_note(info, ctx) or (
        f"from {n} < {RELIABLE_N} samples per side (Naeem et al. use {RELIABLE_N})" if n < RELIABLE_N else "")
    return [Score(named(name), values[name], "warn" if note else "ok", note, higher_is_better=True,
                  extra={**info, **extra, "k": NEAREST_K, **bootstrap.extra(intervals[name])}) for name in NAMES]


class PRDC(Metric):
    description = "precision/recall/density/coverage on Inception pool3 features (Naeem et al. 2020, k=5)"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    columns = NAMES
    rank = 25
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        identity = inception.identity(ctx.settings.weights(INCEPTION))
        return {**feature_protocol(ctx, identity), "k": NEAREST_K, "radii": "k-th NN, Euclidean, strict <",
                "interval": bootstrap.describe("points (generated: precision, density; real: recall, coverage)")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        weights = ctx.settings.weights(INCEPTION)
        extractor = inception.extractor(weights, ctx.device)
        if extractor is None:
            return [Score(name, None, "unavailable", weights.reason, higher_is_better=True) for name in NAMES]
        real, fake, info = feature_sets(ctx, extractor)
        return _scores(real, fake, info, ctx, weights.score_name, {"weights_sha256": weights.sha256})


class PRDCRand(Metric):
    description = "precision/recall/density/coverage on frozen random-CNN features (k=5); not comparable"
    requires = frozenset({"generator"})
    columns = tuple(f"{name}_rand" for name in NAMES)
    rank = 55
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        return {**feature_protocol(ctx, RandCNNExtractor.identity_for()), "k": NEAREST_K,
                "radii": "k-th NN, Euclidean, strict <",
                "interval": bootstrap.describe("points (generated: precision, density; real: recall, coverage)")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        real, fake, info = feature_sets(ctx, RandCNNExtractor(ctx.device))
        return _scores(real, fake, info, ctx, lambda name: f"{name}_rand", {"network": PROTOCOL["network"]})

"""``prdc`` in every feature space: precision, recall, density and coverage (Naeem, Oh, Uh, Choi & Yoo,
"Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020; precision and recall as in
Kynkäänniemi et al., NeurIPS 2019), which separate fidelity (precision, density: are the samples on the
data manifold?) from diversity (recall, coverage: is all of the data covered?). Definitions, k = 5,
Euclidean k-NN radii and the strict "<" exactly as the ``prdc`` package (genbench.metrics.core.prdc;
tests/test_prdc.py checks all four numbers against it).

Columns by space (genbench.api.space_name): ``precision``, ``recall``, ``density``, ``coverage`` in Inception
(as published), ``precision_dinov2`` (dgm-eval reports them in DINOv2), ``precision_rand``, ... elsewhere.

Samples: the same n per side as ``fd`` in that space, from the same extracted features. Naeem et al. use
``RELIABLE_N`` = 10,000 per side; below that the values are marked † (status 'warn'). Expectations (Naeem et
al., section 3): for identical distributions precision and recall are high, density about 1 and coverage
about 1 - 2^-k = 0.97.

Intervals (genbench.metrics.core.bootstrap.prdc_intervals): each score is a mean over points (precision and
density over the generated samples, recall and coverage over the real ones), bootstrapped over those points
with the k-NN balls held as computed, B = 200, 95 % percentile intervals.
"""

from __future__ import annotations

from genbench.api import EvalContext, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.features import Extractor, feature_sets, fewer_fakes_note
from genbench.metrics.core.prdc import NEAREST_K, prdc_points
from genbench.metrics.core.spacemetric import SpaceMetric

RELIABLE_N = 10_000  # per side, as Naeem et al. (2020) evaluate
NAMES = ("precision", "recall", "density", "coverage")


def _scores(real, fake, info: dict, ctx: EvalContext, named) -> list[Score]:
    """The four scores, each recorded under ``named(name)`` (e.g. ``precision_rand``)."""
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
                  extra={**info, "k": NEAREST_K, **bootstrap.extra(intervals[name])}) for name in NAMES]


class PRDC(SpaceMetric):
    description = "precision/recall/density/coverage (Naeem et al. 2020, k=5) in a feature space"
    family = "prdc"
    stems = NAMES
    rank = 25
    higher_is_better = True
    constants = {"k": NEAREST_K, "radii": "k-th NN, Euclidean, strict <",
                 "interval": bootstrap.describe("points (generated: precision, density; real: recall, coverage)")}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        real, fake, info = feature_sets(ctx, extractor)
        return _scores(real, fake, info, ctx, dict(zip(NAMES, self.columns, strict=True)).__getitem__)

"""The base of the metric families computed in every feature space (FD, KID, precision/recall/density/coverage,
the copying test, CMMD, FD∞, AuthPct; ``Metric.family``): one class per statistic, made into one metric per
installed space by the registry (``Metric.in_space``). The base finds the space's resolved weights in the
context, builds (once per process and file) the space's extractor, and names what it computes: a file that is
not the published one makes every column ``*_unverified`` and 'warn' (never the metric it imitates); a space
whose weights are unavailable gives 'unavailable' with the sentence that says what to fetch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from genbench import registry
from genbench.api import EvalContext, FeatureSpace, Metric, Score, Status, Weights
from genbench.metrics.core.features import Extractor, feature_protocol, space_extractor


class SpaceMetric(Metric):
    requires = frozenset({"generator"})
    constants: ClassVar[dict[str, Any]] = {}  # the family's own protocol constants (k, subsets, interval, ...)

    def feature_space(self) -> FeatureSpace:
        return registry.get_space(self.space)()

    def weights(self, ctx: EvalContext) -> Weights:
        return ctx.settings.weights(self.space)

    def protocol(self, ctx: EvalContext) -> dict[str, Any]:
        identity = self.feature_space().identity(self.weights(ctx))
        return {**feature_protocol(ctx, identity), **self.constants}

    def compute(self, ctx: EvalContext) -> list[Score]:
        weights = self.weights(ctx)
        extractor = space_extractor(self.feature_space(), weights, ctx.device)
        if extractor is None:
            return [Score(c, None, Status.UNAVAILABLE, weights.reason, self.higher_is_better) for c in self.columns]
        return [self._labelled(s, weights) for s in self.scores(ctx, extractor)]

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        """The family's scores, named by ``self.columns``, from ``extractor``'s features."""
        raise NotImplementedError

    def _labelled(self, score: Score, weights: Weights) -> Score:
        extra = {**score.extra, "space": self.space, "weights_sha256": weights.sha256}
        if not weights.verified:
            return dataclasses.replace(
                score, name=weights.score_name(score.name), extra=extra,
                status=Status.WARN if score.status in (Status.OK, Status.WARN) else score.status,
                note=f"{self.space} weights failed verification ({weights.reason}); not {score.name}")
        if weights.reason:  # verified, with something to say (e.g. no published hash to check against)
            extra["weights_note"] = weights.reason
        return dataclasses.replace(score, extra=extra)

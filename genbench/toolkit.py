"""The toolkit for metric authors: what a third-party metric plugin may build on, beside ``genbench.api``.

A sample metric states its protocol and computes its value from arrays; the toolkit gives it the same pieces
the built-in metrics use, so its numbers are cached, paired and carry intervals exactly as theirs do:

- feature spaces: the random CNN (``RandCNNExtractor``, always available) and pytorch-fid's Inception
  (``inception_extractor(ctx.settings.weights(INCEPTION), device)``, None when the resolved weights are
  unavailable; ``inception_identity`` for its protocol), never looked up by a metric itself;
- feature sets: ``feature_sets(ctx, extractor)`` (real features cached per protocol, generated ones memoised
  per model), ``feature_protocol``, ``sample_count``, ``fewer_fakes_note``, ``small_sample_note``;
- distances: ``feature_stats``, ``frechet_distance``, ``kernel_distance``;
- intervals: ``mean_interval`` for a mean over per-unit numbers, ``bootstrap`` for any statistic of
  multiplicity matrices, ``frechet_interval`` / ``kernel_interval`` for the two feature distances,
  ``interval_describe`` for the protocol entry and ``interval_extra`` for the score's ``extra`` (a one-seed
  value without it cannot win a best mark);
- chance levels: ``chance_level`` (the score of the untrained twin, cached per configuration).

These names are kept stable; the modules behind them (``genbench.metrics.core``) are not public.
"""

from __future__ import annotations

from genbench.api import INCEPTION, Weights
from genbench.metrics.core.bootstrap import (
    FRECHET_INTERVAL,
    KERNEL_INTERVAL,
    Interval,
    bootstrap,
    frechet_interval,
    kernel_interval,
    mean_interval,
)
from genbench.metrics.core.bootstrap import describe as interval_describe
from genbench.metrics.core.bootstrap import extra as interval_extra
from genbench.metrics.core.chance import chance_level, untrained_twin
from genbench.metrics.core.features import (
    Extractor,
    feature_protocol,
    feature_sets,
    fewer_fakes_note,
    generated_features,
    reference_features,
    sample_count,
    small_sample_note,
)
from genbench.metrics.core.frechet import feature_stats, frechet_distance, kernel_distance
from genbench.metrics.core.inception import extractor as inception_extractor
from genbench.metrics.core.inception import identity as inception_identity
from genbench.metrics.core.randcnn import RandCNNExtractor

__all__ = [
    "FRECHET_INTERVAL", "INCEPTION", "KERNEL_INTERVAL", "Extractor", "Interval", "RandCNNExtractor", "Weights",
    "bootstrap", "chance_level", "feature_protocol", "feature_sets", "feature_stats", "fewer_fakes_note",
    "frechet_distance", "frechet_interval", "generated_features", "inception_extractor", "inception_identity",
    "interval_describe", "interval_extra", "kernel_distance", "kernel_interval", "mean_interval",
    "reference_features", "sample_count", "small_sample_note", "untrained_twin",
]

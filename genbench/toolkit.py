"""The toolkit for metric authors: what a third-party metric plugin may build on, beside ``genbench.api``.

A sample metric states its protocol and computes its value from arrays; the toolkit gives it the same pieces
the built-in metrics use, so its numbers are cached, paired and carry intervals exactly as theirs do:

- feature spaces: a family computed in every space subclasses ``SpaceMetric`` (set ``family``, implement
  ``scores(ctx, extractor)``; the registry makes one metric per installed space, named ``space_name``), or any
  metric builds one space's extractor with ``space_extractor(get_space(name)(), ctx.settings.weights(name),
  device)`` (None when the command's resolved weights are unavailable); also the random CNN
  (``RandCNNExtractor``) and pytorch-fid's Inception (``inception_extractor``, ``inception_identity``). Weights
  are never looked up by a metric itself;
- more statistics: ``cmmd``, ``fd_infinity``, ``authenticity`` (pure functions of feature arrays);
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

from genbench.api import INCEPTION, Weights, space_name
from genbench.metrics.core.authenticity import authenticity
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
from genbench.metrics.core.cmmd import cmmd
from genbench.metrics.core.fdinf import fd_infinity
from genbench.metrics.core.features import (
    Extractor,
    feature_protocol,
    feature_sets,
    fewer_fakes_note,
    generated_features,
    reference_features,
    sample_count,
    small_sample_note,
    space_extractor,
)
from genbench.metrics.core.frechet import feature_stats, frechet_distance, kernel_distance
from genbench.metrics.core.inception import extractor as inception_extractor
from genbench.metrics.core.inception import identity as inception_identity
from genbench.metrics.core.randcnn import RandCNNExtractor
from genbench.metrics.core.spacemetric import SpaceMetric
from genbench.registry import get_space

__all__ = [
    "FRECHET_INTERVAL", "INCEPTION", "KERNEL_INTERVAL", "Extractor", "Interval", "RandCNNExtractor", "SpaceMetric",
    "Weights", "authenticity", "bootstrap", "chance_level", "cmmd", "fd_infinity", "get_space", "space_extractor",
    "space_name", "feature_protocol", "feature_sets", "feature_stats", "fewer_fakes_note",
    "frechet_distance", "frechet_interval", "generated_features", "inception_extractor", "inception_identity",
    "interval_describe", "interval_extra", "kernel_distance", "kernel_interval", "mean_interval",
    "reference_features", "sample_count", "small_sample_note", "untrained_twin",
]

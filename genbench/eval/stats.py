"""``genbench stats`` as functions: the reference statistics of a dataset (the first n training images'
features, n as FID's protocol takes them) in pytorch-fid's ``.npz`` format (``mu``, ``sigma``), from the
results folder's feature cache when it holds them, so other tools compare against exactly genbench's reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genbench import registry
from genbench.api import EvalContext
from genbench.errors import GenbenchError
from genbench.eval.evaluation import load_data
from genbench.io import atomic_path
from genbench.metrics.core.features import reference_features, reference_protocol, sample_count, space_extractor
from genbench.metrics.core.frechet import feature_stats
from genbench.run.plan import RunOptions, RunPlan, make_plan


def reference_stats(plan: RunPlan, dataset: str, space: str, echo: Callable[..., None] = print
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(mu, sigma, protocol) of the first n training images' features in feature space ``space`` (n as FID's
    protocol), from the feature cache when it holds them."""
    data = load_data(plan, dataset, [], echo)
    ctx = EvalContext(None, data.dataset, data.train, data.heldout, plan.device, 0, plan.eval_settings())
    weights = ctx.settings.weights(space)
    extractor = space_extractor(registry.get_space(space)(), weights, plan.device)
    if extractor is None or not weights.verified:
        raise GenbenchError(f"{space} statistics need the space's verified weights: {weights.reason}.")
    n = sample_count(ctx)
    feats, _ = reference_features(extractor, data.train, n, ctx.cache_dir)
    mu, sigma = feature_stats(feats)
    return mu, sigma, reference_protocol(extractor, data.train, n)


def write_stats(path: Path, mu: np.ndarray, sigma: np.ndarray, protocol: dict[str, Any]) -> None:
    """pytorch-fid's statistics file: ``mu`` and ``sigma`` (float64), plus genbench's protocol as JSON."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, mu=mu, sigma=sigma, protocol=json.dumps(protocol, sort_keys=True, default=str))


def stats_plan(dataset: str, preset: str, results: Path, device: str, **weights: Any) -> RunPlan:
    """The plan of ``genbench stats``: nothing to train; ``weights`` are RunOptions' feature-space options."""
    return make_plan(RunOptions(None, dataset=dataset, preset=preset, results=results, device=device,
                                progress=False, **weights))

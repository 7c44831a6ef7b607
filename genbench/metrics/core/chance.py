"""Chance level of a metric: the same score for an *untrained* model of the same class and config.

An interpretability score means little until one knows what it reads on a generator that learned
nothing (``ncc`` reads about 0.2-0.3 on noise). The untrained twin is built under a fixed seed
(``TWIN_SEED``), so its score depends only on the model's class, config and data description and
the metric's protocol; it is cached under the evaluation cache (``<results>/.cache/chance/``) by the
hash of exactly those, so one configuration pays for it once. A cache file that does not hold a number
(it came with a results folder from elsewhere) is recomputed and replaced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genbench.api import EvalContext, GenerativeModel
from genbench.io import cache_path, json_hash, read_json, write_json
from genbench.metrics.core import shard

TWIN_SEED = 0


def untrained_twin(model: GenerativeModel, seed: int = TWIN_SEED) -> GenerativeModel:
    """A freshly initialised model of the same class and config, on the same device, in eval mode;
    the global RNG state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = type(model)(model.config, model.data)
    return twin.to(model.device).eval()


def _key(metric: str, protocol: dict[str, Any], model: GenerativeModel) -> str:
    return json_hash({"metric": metric, "protocol": protocol, "twin_seed": TWIN_SEED,
                      "class": f"{type(model).__module__}.{type(model).__qualname__}",
                      "config": model.config.to_dict(), "data": dataclasses.asdict(model.data)}, 16)


def _read_cached(path: Path) -> float | None:
    try:
        value = read_json(path).get("value")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def chance_level(ctx: EvalContext, metric: str, protocol: dict[str, Any],
                 score: Callable[[EvalContext], float]) -> float:
    """``score`` evaluated on the untrained twin of ``ctx.model`` (cached when ctx has a cache dir)."""
    path = cache_path(ctx.cache_dir, "chance", f"{metric}-{_key(metric, protocol, ctx.model)}.json")
    cached = _read_cached(path) if path is not None and path.exists() else None
    if cached is not None:
        return cached
    value = float(score(dataclasses.replace(ctx, model=untrained_twin(ctx.model))))
    if path is not None and shard.is_writer():
        write_json(path, {"metric": metric, "value": value, "protocol": protocol})
    return value

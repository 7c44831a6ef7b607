"""``copying``: does the model reproduce its training images? The data-copying test C_T of Meehan, Chaudhuri &
Dasgupta, "A Non-Parametric Test to Detect Data-Copying in Generative Models", AISTATS 2020 (arXiv:2004.05675),
computed by genbench.metrics.core.copying, whose docstring gives the statistic, its reference code and every
constant of the test with its source.

Why not nearest neighbours in pixels: a blurry sample lies close to many training images (closer than a sharp
held-out image does), so "its nearest training image is near" says "blur", not "copying". C_T asks instead
whether generated samples are closer to their nearest training image than *held-out* images (fresh data, never
trained on) are, cell by cell of a k-means partition of the training features, with a Mann-Whitney test per
cell: clearly below 0 = generated samples hug training images (copying), about 0 = as close as fresh data,
above 0 = farther (underfitting; averages of images from different modes land there).

Protocol (the constants of this plugin; the test's own are in the core module):
- Feature spaces: every installed one (a family, genbench.api.space_name): ``copying`` in genbench's frozen random
  CNN (the space of ``fd_rand``; always available, the name it had before genbench had spaces),
  ``copying_inception``, ``copying_effnet`` (a trained space that needs no download), ``copying_dinov2``, ...
- T = every training image (not only the ``n_fid`` that FD uses: a copy of an image outside a subset would look
  fresh), P_n = the whole held-out split, Q_m = the ``n_fid`` generated samples that ``fd_rand``/``fid`` embed
  (the same features, memoised: nothing is generated or embedded twice). Training and held-out features are
  cached per reference protocol like FD's.
- Cells: ``copying.default_cells(n, m)`` = min(n, m) // 40 in [1, 50] k-means cells of T, k-means seeded with
  the run's seed; a cell counts when it holds more than 20 generated samples (Meehan et al.'s tau = 20 / m).

Small held-out splits (``lfw`` keeps 10 images): the value is marked 'warn' (shown † in tables) whenever the
used cells hold fewer than 20 held-out images on average. Then the test is one global Mann-Whitney U of the
generated against the 10 held-out distances; even exact copies can only reach Z = -(nm/2 - 0.5) / sqrt(nm(n +
m + 1)/12), about -sqrt(3n) (-5.4 for n = 10; the record keeps this ``floor``): it can flag wholesale copying,
but not copying of a fraction of the samples, not copying confined to regions holding 20 or fewer samples, and
nothing per region. Values from different sample sizes are not comparable (C_T averages z-scores).

What it cannot tell at any size: samples concentrated on dense regions (low temperature, shrinkage towards a
mode: e.g. averages of training images of the *same* mode) are closer to training images than fresh data and
read as copying; averages across modes (blur between faces) read positive, not as copying. The report's strip
of each sample beside its three nearest training images, in the same feature space, is there to look.

No best is marked (``higher_is_better = None``): 0 is the healthy value and the two signs are different
failures, so neither "higher" nor "closer to 0" ranks models; the table shows the value to be read, with the
per-cell z-scores, counts and the floor in the record.
"""

from __future__ import annotations

import numpy as np

from genbench.api import EvalContext, Score
from genbench.metrics.core.copying import MIN_HELDOUT_PER_CELL, copying_statistic, default_cells
from genbench.metrics.core.features import Extractor, generated_features, reference_features, sample_count
from genbench.metrics.core.spacemetric import SpaceMetric


def floor(heldout_counts: np.ndarray, generated_counts: np.ndarray, weights: np.ndarray, used: np.ndarray) -> float:
    """The lowest C_T these cell counts allow: every generated sample at distance 0 (U = 0 in every used cell)."""
    n, m = heldout_counts[used].astype(float), generated_counts[used].astype(float)
    z = -(n * m / 2 - 0.5) / np.sqrt(n * m * (n + m + 1) / 12)
    w = weights[used]
    return float(w @ z / w.sum()) if used.any() else float("nan")


def few_samples_note(n_heldout: int, value_floor: float) -> str:
    return (f"C_T from {n_heldout} held-out images (< {MIN_HELDOUT_PER_CELL} per cell): only wholesale copying "
            f"reads clearly negative (exact copies reach {value_floor:.1f} at most); partial or regional copying "
            f"is out of reach")


def copying_score(name: str, ctx: EvalContext, extractor: Extractor) -> Score:
    """C_T of ``ctx.model`` in ``extractor``'s feature space."""
    train, _ = reference_features(extractor, ctx.train, len(ctx.train), ctx.cache_dir)
    heldout, _ = reference_features(extractor, ctx.heldout, len(ctx.heldout), ctx.cache_dir)
    generated = generated_features(extractor, ctx.model, sample_count(ctx), ctx.seed)
    r = copying_statistic(train, heldout, generated, seed=ctx.seed)
    low = floor(r.heldout_counts, r.generated_counts, r.weights, r.used)
    extra = {"n_train": r.n_train, "n_heldout": r.n_heldout,
             "n_generated": r.n_generated, "cells": r.cells, "cells_used": r.cells_used,
             "z": [None if not np.isfinite(z) else round(float(z), 4) for z in r.z],
             "heldout_per_cell": r.heldout_counts.tolist(), "generated_per_cell": r.generated_counts.tolist(),
             "floor": round(low, 4) if np.isfinite(low) else None, "few_samples": r.few_samples}
    if not np.isfinite(r.c_t):
        return Score(name, None, "n/a", "no k-means cell holds more than 20 generated samples", None, extra)
    if r.few_samples:
        return Score(name, r.c_t, "warn", few_samples_note(r.n_heldout, low), None, extra)
    return Score(name, r.c_t, "ok", "< 0 copying, ~0 fine, > 0 underfitting", None, extra)


class Copying(SpaceMetric):
    description = "data-copying test C_T (Meehan et al. 2020): < 0 copies training images, ~0 fine, > 0 underfits"
    family = "copying"
    rank = 95
    higher_is_better = None
    version = 2

    def unmet_need(self, ctx: EvalContext) -> str | None:
        if ctx.heldout is None or len(ctx.heldout) < 2:
            return "no held-out split (n_heldout = 0): C_T compares samples with images never trained on"
        return None

    def protocol(self, ctx: EvalContext) -> dict:
        n_heldout = len(ctx.heldout) if ctx.heldout is not None else 0
        return {"test": "C_T, Meehan et al. 2020", "features": self.feature_space().identity(self.weights(ctx)),
                "train": "every training image", "n_train": len(ctx.train), "n_heldout": n_heldout,
                "n_generated": sample_count(ctx), "cells": default_cells(n_heldout, sample_count(ctx)),
                "kmeans_seed": ctx.seed, "seed": ctx.seed, "dataset": ctx.train.name,
                "image_size": ctx.train.image_size}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        return [copying_score(self.name, ctx, extractor)]

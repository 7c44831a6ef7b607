"""``mse``: per-pixel reconstruction mean squared error (paper section 4, Table 3).

MSE = mean over images x channels x pixels of (x - reconstruct(x))^2 with pixels in [-1, 1]
(docs/method.md section 5: the paper's range is not stated; Table 3's ALI values only fit [-1, 1]).
The value in [0, 1] units (divide by 4) is kept in ``extra``. Reported on the first ``n_eval``
training images (``mse``, as in the paper's figures) and on the held-out split (``mse_heldout``).

Interval (version 2): bootstrap over the images' own squared errors (genbench.metrics.core.bootstrap: B = 200,
percentile 95 %, re-centred on the value); the same images for every model, so comparisons are paired.
"""

from __future__ import annotations

import torch

from genbench.api import EvalContext, ImageSet, Metric, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.reconstruction import reconstruction_batches


def reconstruction_mse(model, images: ImageSet, n: int, with_index: bool,
                       per_image: list[torch.Tensor] | None = None) -> float:
    """The MSE over the first n images; with ``per_image`` (a list), each image's own MSE is appended to it."""
    total, count = 0.0, 0
    for x, rec in reconstruction_batches(model, images, n, with_index):
        err = (rec - x).pow(2)
        total += err.sum().item()
        count += x.numel()
        if per_image is not None:
            per_image.append(err.flatten(1).double().mean(1).cpu())
    return total / max(count, 1)


def _scored(name: str, model, images: ImageSet, n: int, with_index: bool) -> Score:
    errors: list[torch.Tensor] = []
    v = reconstruction_mse(model, images, n, with_index, errors)
    interval = bootstrap.mean_interval(v, torch.cat(errors).numpy()) if errors else None
    return Score(name, v, extra={"mse_01": v / 4, "n": min(n, len(images)), **bootstrap.extra(interval)})


class MSE(Metric):
    description = "per-pixel reconstruction MSE in [-1,1] on training and held-out images (paper Table 3)"
    requires = frozenset({"generator", "inferrer"})
    columns = ("mse", "mse_heldout")
    rank = 60
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {"n_train": min(ctx.n_eval, len(ctx.train)), "n_heldout": len(ctx.heldout) if ctx.heldout else 0,
                "range": "[-1,1]", "split_seed": ctx.seed, "interval": bootstrap.describe("images")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        scores = [_scored("mse", ctx.model, ctx.train, ctx.n_eval, with_index=True)]
        if ctx.heldout is not None and len(ctx.heldout):
            scores.append(_scored("mse_heldout", ctx.model, ctx.heldout, len(ctx.heldout), with_index=False))
        return scores

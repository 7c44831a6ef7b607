"""``mse``: per-pixel reconstruction mean squared error (paper section 4, Table 3).

MSE = mean over images x channels x pixels of (x - reconstruct(x))^2 with pixels in [-1, 1]
(docs/method.md section 5: the paper's range is not stated; Table 3's ALI values only fit [-1, 1]).
The value in [0, 1] units (divide by 4) is kept in ``extra``. Reported on the first ``n_eval``
training images (``mse``, as in the paper's figures) and on the held-out split (``mse_heldout``).
"""

from __future__ import annotations

from genbench.api import EvalContext, ImageSet, Metric, Score
from genbench.metrics.core.reconstruction import reconstruction_batches


def reconstruction_mse(model, images: ImageSet, n: int, with_index: bool) -> float:
    total, count = 0.0, 0
    for x, rec in reconstruction_batches(model, images, n, with_index):
        total += (rec - x).pow(2).sum().item()
        count += x.numel()
    return total / max(count, 1)


class MSE(Metric):
    description = "per-pixel reconstruction MSE in [-1,1] on training and held-out images (paper Table 3)"
    requires = frozenset({"generator", "inferrer"})
    columns = ("mse", "mse_heldout")
    rank = 60

    def protocol(self, ctx: EvalContext) -> dict:
        return {"n_train": min(ctx.n_eval, len(ctx.train)), "n_heldout": len(ctx.heldout) if ctx.heldout else 0,
                "range": "[-1,1]", "split_seed": ctx.seed}

    def compute(self, ctx: EvalContext) -> list[Score]:
        scores = []
        v = reconstruction_mse(ctx.model, ctx.train, ctx.n_eval, with_index=True)
        scores.append(Score("mse", v, extra={"mse_01": v / 4, "n": min(ctx.n_eval, len(ctx.train))}))
        if ctx.heldout is not None and len(ctx.heldout):
            v = reconstruction_mse(ctx.model, ctx.heldout, len(ctx.heldout), with_index=False)
            scores.append(Score("mse_heldout", v, extra={"mse_01": v / 4, "n": len(ctx.heldout)}))
        return scores

"""``parts``: part recovery on datasets with ground-truth parts (new in genbench; the paper's Table 4
NCC, section 4.3, turned around): for each ground-truth part type, the best zero-mean RGB NCC
(Lewis 1995 / Yoo & Han 2009, as in ``ncc``) between its true render (``dataset.part_templates``)
and any of the model's layer-3 (``b8``) basis renders, maximised over positions and renders; the
score is the mean over part types. It asks whether the learned AND-OR nodes recover the true parts.

Renders: the same seeded prior samples and top-1 ``b8`` units as ``ncc``, full size, pre-tanh; the
part template slides over each render. Datasets without ``part_templates`` (all real data) read 'n/a'.
"""

from __future__ import annotations

import torch

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.ncc import LAYER, TOP, n_samples, render_chunks
from genbench.ncc import default_dtype, max_ncc


class Parts(Metric):
    description = "mean over true part types of the best NCC with a layer-3 basis render (shapes only)"
    requires = frozenset({"renderer"})
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        return {"layer": LAYER, "top": TOP, "n_samples": n_samples(ctx), "seed": ctx.seed,
                "dataset": ctx.train.name, "image_size": ctx.train.image_size,
                "ncc": "zero-mean RGB NCC of the part template over each full-size render, max over both"}

    def compute(self, ctx: EvalContext) -> list[Score]:
        get = getattr(ctx.dataset, "part_templates", None)
        if get is None:
            return [Score("parts", None, "n/a", f"dataset '{ctx.train.name}' has no ground-truth parts",
                          higher_is_better=True)]
        parts = get(ctx.train.image_size)
        names = sorted(parts)
        templates = [parts[k].double() for k in names]
        dtype = default_dtype(ctx.device)
        best = torch.full((len(names),), -1.0, dtype=torch.float64)
        for renders in render_chunks(ctx, n_samples(ctx)):
            if renders:
                scores = max_ncc(torch.stack(renders), templates, dtype, ctx.device).double().cpu()
                best = torch.maximum(best, scores.amax(1))
        per_part = {k: float(v) for k, v in zip(names, best, strict=True)}
        return [Score("parts", float(best.mean()), higher_is_better=True,
                      extra={"per_part": per_part, "n_renders_samples": n_samples(ctx)})]

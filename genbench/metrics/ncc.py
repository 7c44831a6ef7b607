"""``ncc``: the paper's interpretability score (Xing et al., CVPR 2020, section 4.3, Table 4; docs/method.md
section 5): how well the layer-3 basis functions match image content, by fast normalized
cross-correlation (Yoo & Han 2009, the paper's [37]; Lewis 1995; equal to skimage's match_template).

Protocol (docs/method.md section 5 choice): for ``n_samples`` = min(100, n_eval) prior samples z, render the
top-1 active unit of layer ``b8`` (8x8, layer 3) at each position, pre-tanh, cropped to its support
(|mean over channels| > 1e-4); for each template and each of ``n_images`` = min(500, n_eval, N) random
training images, take the maximum zero-mean RGB NCC over valid positions (genbench.metrics.core.ncc, batched in
torch); the score is the mean over templates x images (higher = more part-like basis functions).

Chance level: ``extra['chance']`` is the same score for the untrained generator of the same config
(``genbench.metrics.chance``); on ``shapes`` it is about 0.2-0.3, so only the distance above it means
anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from genbench.api import LAYER3, EvalContext, Metric, Score
from genbench.metrics.chance import chance_level
from genbench.metrics.core.ncc import crop_to_support, default_dtype, max_ncc

LAYER = LAYER3
TOP = 1
N_SAMPLES, N_IMAGES = 100, 500
SUPPORT_THRESHOLD = 1e-4
RENDER_BATCH = 10


def n_samples(ctx: EvalContext) -> int:
    return min(N_SAMPLES, ctx.n_eval)


def render_chunks(ctx: EvalContext, n: int, batch: int = RENDER_BATCH) -> Iterator[list[torch.Tensor]]:
    """Full-size pre-tanh renders (C, H, W) of the top-1 ``b8`` unit per position, for n seeded prior
    samples, ``batch`` samples at a time (so thousands of full-size renders never sit in memory at once)."""
    model = ctx.model
    gen = torch.Generator().manual_seed(ctx.seed + 7)
    z = model.prior(n, gen)
    was = model.training
    model.eval()
    try:
        for i in range(0, n, batch):
            with torch.no_grad():
                units = model.render_units(z[i:i + batch], LAYER, top=TOP)
            yield [u.image.detach().double().cpu() for u in units]
    finally:
        model.train(was)


def ncc_score(ctx: EvalContext) -> tuple[float, dict]:
    n_img = min(N_IMAGES, ctx.n_eval, len(ctx.train))
    idx = torch.randperm(len(ctx.train), generator=torch.Generator().manual_seed(ctx.seed))[:n_img]
    images = ctx.train.as_float(idx).double()
    dtype = default_dtype(ctx.device)
    per_template, sizes, empty = [], [], 0
    for renders in render_chunks(ctx, n_samples(ctx)):
        templates = []
        for r in renders:
            t = crop_to_support(r, SUPPORT_THRESHOLD)
            if t is None:
                empty += 1
            else:
                templates.append(t)
                sizes.append(t.shape[-1] * t.shape[-2])
        if templates:
            per_template.append(max_ncc(images, templates, dtype, ctx.device).double().mean(1).cpu())
    if not per_template:
        raise ValueError(f"no layer-{LAYER} unit had a non-empty support")
    per_template = torch.cat(per_template)
    extra = {"n_templates": len(per_template), "n_images": n_img, "empty_renders": empty,
             "std_over_templates": float(per_template.std()) if len(per_template) > 1 else 0.0,
             "mean_template_pixels": sum(sizes) / len(sizes), "dtype": str(dtype).replace("torch.", "")}
    return float(per_template.mean()), extra


class NCC(Metric):
    description = "mean max NCC of layer-3 basis renders vs training images (paper Table 4; fast NCC [37])"
    requires = frozenset({"renderer"})
    rank = 80
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        return {"layer": LAYER, "top": TOP, "n_samples": n_samples(ctx),
                "n_images": min(N_IMAGES, ctx.n_eval, len(ctx.train)), "support_threshold": SUPPORT_THRESHOLD,
                "ncc": "zero-mean RGB NCC, valid positions, max per image, mean over templates x images",
                "seed": ctx.seed, "dataset": ctx.train.name, "image_size": ctx.train.image_size}

    def compute(self, ctx: EvalContext) -> list[Score]:
        value, extra = ncc_score(ctx)
        extra["chance"] = chance_level(ctx, "ncc", self.protocol(ctx), lambda twin: ncc_score(twin)[0])
        return [Score("ncc", value, higher_is_better=True, extra=extra)]

"""``ncc``: the paper's interpretability score (Xing et al., CVPR 2020, section 4.3, Table 4; docs/method.md
section 5): how well the layer-3 basis functions match image content, by fast normalized
cross-correlation (Yoo & Han 2009, the paper's [37]; Lewis 1995; equal to skimage's match_template).

Protocol (docs/method.md section 5 choice): for ``n_samples`` = min(100, n_eval) prior samples z, render the
top-1 active unit of layer ``b8`` (8x8, layer 3) at each position, pre-tanh, cropped to its support
(|mean over channels| > 1e-4); for each template and each of ``n_images`` = min(500, n_eval, N) random
training images, take the maximum zero-mean RGB NCC over valid positions (genbench.metrics.core.ncc, batched in
torch); the score is the mean over templates x images (higher = more part-like basis functions).

Chance level: ``extra['chance']`` is the same score for the untrained generator of the same config
(``genbench.metrics.core.chance``); on ``shapes`` it is about 0.2-0.3, so only the distance above it means
anything.

Interval (version 2): bootstrap over the training images and over the prior samples, each sample with all its
templates (genbench.metrics.core.bootstrap: B = 200, percentile 95 %, re-centred on the value), from the
per-sample sums of the NCC matrix already computed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from genbench.api import LAYER3, EvalContext, Metric, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.chance import chance_level
from genbench.metrics.core.ncc import crop_to_support, default_dtype, max_ncc

LAYER = LAYER3
TOP = 1
N_SAMPLES, N_IMAGES = 100, 500
SUPPORT_THRESHOLD = 1e-4
RENDER_BATCH = 10


def n_samples(ctx: EvalContext) -> int:
    return min(N_SAMPLES, ctx.n_eval)


def render_chunks(ctx: EvalContext, n: int, batch: int = RENDER_BATCH,
                  samples: list[list[int]] | None = None) -> Iterator[list[torch.Tensor]]:
    """Full-size pre-tanh renders (C, H, W) of the top-1 ``b8`` unit per position, for n seeded prior
    samples, ``batch`` samples at a time (so thousands of full-size renders never sit in memory at once).
    With ``samples`` (a list), each chunk's list of the prior sample (0..n-1) of every render is appended."""
    model = ctx.model
    gen = torch.Generator().manual_seed(ctx.seed + 7)
    z = model.prior(n, gen)
    was = model.training
    model.eval()
    try:
        for i in range(0, n, batch):
            with torch.no_grad():
                units = model.render_units(z[i:i + batch], LAYER, top=TOP)
            if samples is not None:
                samples.append([i + int(u.sample) for u in units])
            yield [u.image.detach().double().cpu() for u in units]
    finally:
        model.train(was)


def ncc_score(ctx: EvalContext, interval: bool = False) -> tuple[float, dict]:
    """The score and its extra; with ``interval``, the bootstrap interval's entries too."""
    n_img = min(N_IMAGES, ctx.n_eval, len(ctx.train))
    idx = torch.randperm(len(ctx.train), generator=torch.Generator().manual_seed(ctx.seed))[:n_img]
    images = ctx.train.as_float(idx).double()
    dtype = default_dtype(ctx.device)
    n = n_samples(ctx)
    per_sample = torch.zeros(n, n_img, dtype=torch.float64)  # per prior sample: NCC summed over its templates
    templates_of = torch.zeros(n, dtype=torch.float64)
    per_template, sizes, empty, owners = [], [], 0, []
    for renders in render_chunks(ctx, n, samples=owners):
        templates, kept = [], []
        for r, s in zip(renders, owners[-1], strict=True):
            t = crop_to_support(r, SUPPORT_THRESHOLD)
            if t is None:
                empty += 1
            else:
                templates.append(t)
                kept.append(s)
                sizes.append(t.shape[-1] * t.shape[-2])
        if templates:
            scores = max_ncc(images, templates, dtype, ctx.device).double().cpu()
            per_template.append(scores.mean(1))
            if interval:
                owner = torch.tensor(kept).clamp(0, n - 1)
                per_sample.index_add_(0, owner, scores)
                templates_of.index_add_(0, owner, torch.ones(len(kept), dtype=torch.float64))
    if not per_template:
        raise ValueError(f"no layer-{LAYER} unit had a non-empty support")
    per_template = torch.cat(per_template)
    value = float(per_template.mean())
    extra = {"n_templates": len(per_template), "n_images": n_img, "empty_renders": empty,
             "std_over_templates": float(per_template.std()) if len(per_template) > 1 else 0.0,
             "mean_template_pixels": sum(sizes) / len(sizes), "dtype": str(dtype).replace("torch.", "")}
    if interval:
        extra.update(bootstrap.extra(ncc_interval(value, per_sample.numpy(), templates_of.numpy())))
    return value, extra


def ncc_interval(value: float, per_sample: np.ndarray, templates_of: np.ndarray) -> bootstrap.Interval | None:
    """Images (the real side, drawn first) and prior samples resampled: a replicate is the mean NCC over the
    drawn samples' templates x the drawn images, from per-sample sums (n_samples x n_images)."""
    def stat(w_img: np.ndarray, w_smp: np.ndarray) -> np.ndarray:
        return ((w_smp @ per_sample) * w_img).sum(1) / ((w_smp @ templates_of) * w_img.sum(1))

    return bootstrap.bootstrap(value, stat, {"images": per_sample.shape[1], "samples": per_sample.shape[0]})


class NCC(Metric):
    description = "mean max NCC of layer-3 basis renders vs training images (paper Table 4; fast NCC [37])"
    requires = frozenset({"renderer"})
    rank = 80
    higher_is_better = True
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {"layer": LAYER, "top": TOP, "n_samples": n_samples(ctx),
                "n_images": min(N_IMAGES, ctx.n_eval, len(ctx.train)), "support_threshold": SUPPORT_THRESHOLD,
                "ncc": "zero-mean RGB NCC, valid positions, max per image, mean over templates x images",
                "seed": ctx.seed, "dataset": ctx.train.name, "image_size": ctx.train.image_size,
                "interval": bootstrap.describe("training images and prior samples (with their templates)")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        value, extra = ncc_score(ctx, interval=True)
        scored = {k: v for k, v in self.protocol(ctx).items() if k != "interval"}  # the chance level's cache key
        extra["chance"] = chance_level(ctx, "ncc", scored, lambda twin: ncc_score(twin)[0])
        return [Score("ncc", value, higher_is_better=True, extra=extra)]

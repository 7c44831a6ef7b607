"""``dissect``: do the generator's layer-3 units detect the data's parts? Network dissection (Bau et al.,
CVPR 2017) of a generator (GAN Dissection, Bau et al., ICLR 2019) on data whose parts are known.

Protocol (constants below; sources and pitfalls: docs/method.md section 5, "Dissection"):
- Images: the first ``n`` = min(N_IMAGES, 2 n_eval, N) training images; even positions *fit*, odd ones
  *score*. Concepts: the dataset's ``part_masks`` (on ``shapes``, 12 = 4 slots x 3 part types).
- Activations: the ``LAYER`` ('b8', 8x8, the paper's layer 3) output of g(z*), z* = the model's
  ``infer`` (persistent chains for the ABP models), through ``trace_layer``; upsampled bilinearly.
- Per concept: the (unit, threshold) with the best dataset-level IoU on the fit images, thresholds at
  the upper quantiles 1 - f, f = logspace(-3, 0, 100) (GAN Dissection); its IoU on the score images
  is the concept's IoU (``genbench.metrics.core.dissection``). Mean over concepts: ``dissect_iou``.
- ``dissect_detectors``: concepts whose score IoU >= 0.05 (GAN Dissection's detector threshold).
- Reference points, through the same pipeline: the *ceiling* (the true masks pooled to the layer's
  grid as units: what a perfect layer-3 unit can reach at this resolution) and the *where-only control*
  (each concept's group mask, i.e. the slot whatever the part type, pooled likewise: a unit that knows
  where a part is but not which). ``dissect`` = (IoU - control) / (ceiling - control): 1 = perfect part
  detectors, 0 = no more than knowing where the parts sit, < 0 = not even that (an untrained
  generator, whose reconstructions are poor, reads about -0.9).
- Causal check (GAN Dissection's intervention, ``extra['causal_share']``): zero each concept's unit at
  every position and measure which share of the image change falls inside the concept's mask, beside
  the mask's share of all pixels (``extra['mask_share']``) that a unit unrelated to the part would give.
- Chance: ``extra['chance']``, the same score for the untrained model of the same config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genbench.api import LAYER3, EvalContext, Metric, PartMasks, Score
from genbench.metrics.chance import chance_level
from genbench.metrics.core.dissection import (
    IOU_DETECTOR,
    QUANTILE_FRACTIONS,
    causal_share,
    dissect_split,
    group_masks,
    pooled_masks,
)
from genbench.metrics.core.inference import inferred_batches

LAYER = LAYER3
N_IMAGES = 1000
BATCH = 100


@dataclass
class Dissection:
    iou: torch.Tensor  # (K,) score-half IoU of each concept's detector
    ceiling: torch.Tensor  # (K,)
    control: torch.Tensor  # (K,)
    units: torch.Tensor  # (K,) chosen unit per concept
    quantile_fraction: torch.Tensor  # (K,)
    concepts: list[str]

    @property
    def normalised(self) -> float:
        c, top = float(self.control.mean()), float(self.ceiling.mean())
        return (float(self.iou.mean()) - c) / (top - c)

    @property
    def detectors(self) -> int:
        return int((self.iou >= IOU_DETECTOR).sum())


def n_images(ctx: EvalContext) -> int:
    return min(N_IMAGES, 2 * ctx.n_eval, len(ctx.train))


def latents_and_activations(ctx: EvalContext, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """z* = infer(x) for the first n training images (shared with the reconstruction metrics), and the
    LAYER activations of g(z*) (on the CPU)."""
    model = ctx.model
    was = model.training
    model.eval()
    zs, acts = [], []
    try:
        for _, z in inferred_batches(model, ctx.train, n, with_index=True, batch_size=BATCH):
            with torch.no_grad():
                _, act = model.trace_layer(z, LAYER)
            zs.append(z)
            acts.append(act.float().cpu())
    finally:
        model.train(was)
    return torch.cat(zs), torch.cat(acts)


def reference_points(parts: PartMasks, grid: tuple[int, int], fit, score) -> tuple[torch.Tensor, torch.Tensor]:
    """(ceiling, control) IoU per concept: ideal units at the layer's grid, and slot-only units."""
    ceiling, _ = dissect_split(pooled_masks(parts.masks, grid), parts.masks, fit, score)
    control, _ = dissect_split(pooled_masks(group_masks(parts.masks, parts.groups), grid), parts.masks, fit, score)
    return ceiling, control


def dissect_activations(act: torch.Tensor, parts: PartMasks) -> Dissection:
    """The protocol on given activations (N, C, h, w) for images whose parts are ``parts``."""
    n = len(act)
    fit, score = torch.arange(0, n, 2), torch.arange(1, n, 2)
    iou, choice = dissect_split(act, parts.masks, fit, score)
    ceiling, control = reference_points(parts, tuple(act.shape[-2:]), fit, score)
    return Dissection(iou, ceiling, control, choice.unit, choice.quantile_fraction, parts.concepts)


def dissect_model(ctx: EvalContext, causal: bool = True) -> tuple[Dissection, dict]:
    n = n_images(ctx)
    idx = torch.arange(n)
    parts = ctx.dataset.part_masks(ctx.train, idx)
    z, act = latents_and_activations(ctx, n)
    result = dissect_activations(act, parts)
    extra = {"n_images": n, "layer": LAYER, "units": int(act.shape[1]),
             "ceiling": float(result.ceiling.mean()), "control": float(result.control.mean()),
             "per_concept": {c: {"iou": round(float(v), 4), "unit": int(u), "quantile": round(1 - float(f), 4)}
                             for c, v, u, f in zip(parts.concepts, result.iou, result.units,
                                                   result.quantile_fraction, strict=True)}}
    if causal:
        score = torch.arange(1, n, 2)
        share = causal_share(ctx.model.trace_layer, z[score], LAYER, result.units, parts.masks[score], BATCH)
        mask_share = parts.masks[score].float().mean((0, 2, 3))
        for c, s, m in zip(parts.concepts, share, mask_share, strict=True):
            extra["per_concept"][c].update(causal_share=round(float(s), 4), mask_share=round(float(m), 4))
        extra["causal_share"] = float(share.mean())
        extra["mask_share"] = float(mask_share.mean())
    return result, extra


class Dissect(Metric):
    description = "network dissection of layer-3 units vs ground-truth parts, 1 = part detectors, 0 = where-only"
    requires = frozenset({"inferrer", "tracer"})
    needs = frozenset({"part_masks"})
    columns = ("dissect", "dissect_iou", "dissect_detectors")
    rank = 90
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        return {"layer": LAYER, "n_images": n_images(ctx), "split": "first n training images, even fit / odd score",
                "thresholds": f"quantiles 1-f, f=logspace(-3,0,{len(QUANTILE_FRACTIONS)})",
                "iou": "dataset-level", "detector_iou": IOU_DETECTOR, "upsample": "bilinear",
                "dataset": ctx.train.name, "image_size": ctx.train.image_size}

    def compute(self, ctx: EvalContext) -> list[Score]:
        result, extra = dissect_model(ctx)
        chance = chance_level(ctx, "dissect", self.protocol(ctx),
                              lambda twin: dissect_model(twin, causal=False)[0].normalised)
        return [Score("dissect", result.normalised, higher_is_better=True, extra={**extra, "chance": chance}),
                Score("dissect_iou", float(result.iou.mean()), higher_is_better=True,
                      extra={"ceiling": extra["ceiling"], "control": extra["control"]}),
                Score("dissect_detectors", float(result.detectors), higher_is_better=True,
                      extra={"of": len(result.concepts), "iou_threshold": IOU_DETECTOR})]

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
- Interval (version 2): bootstrap over the score images (genbench.metrics.core.bootstrap: B = 200, percentile
  95 %, re-centred on the value): each replicate reweights the per-image intersection and union counts of the
  chosen detectors, the ceiling and the control (the same images for every model, so comparisons are paired);
  the choice of detectors on the fit images is held fixed, so its own variability is not in the interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from genbench.api import LAYER3, EvalContext, Metric, PartMasks, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.chance import chance_level
from genbench.metrics.core.dissection import (
    IOU_DETECTOR,
    QUANTILE_FRACTIONS,
    causal_share,
    choose_detectors,
    group_masks,
    overlap_counts,
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
    # (intersection, union) pixel counts (n_score, K) per score image: of the units, the ceiling, the control
    overlaps: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

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


def _split(act: torch.Tensor, masks: torch.Tensor, fit, score):
    """Detectors chosen on ``fit``; their IoU (K,) on ``score`` (as dissection.dissect_split), the choice, and
    the per-image (intersection, union) counts on ``score``."""
    choice = choose_detectors(act[fit], masks[fit])
    inter, union = overlap_counts(act[score], masks[score], choice)
    return inter.sum(0).double() / union.sum(0).double().clamp_min(1.0), choice, (inter, union)


def reference_points(parts: PartMasks, grid: tuple[int, int], fit, score):
    """(ceiling, control) IoU per concept: ideal units at the layer's grid, and slot-only units; and their
    per-image overlap counts on the score images."""
    ceiling, _, c_counts = _split(pooled_masks(parts.masks, grid), parts.masks, fit, score)
    control, _, k_counts = _split(pooled_masks(group_masks(parts.masks, parts.groups), grid), parts.masks, fit, score)
    return ceiling, control, c_counts, k_counts


def dissect_activations(act: torch.Tensor, parts: PartMasks) -> Dissection:
    """The protocol on given activations (N, C, h, w) for images whose parts are ``parts``."""
    n = len(act)
    fit, score = torch.arange(0, n, 2), torch.arange(1, n, 2)
    iou, choice, counts = _split(act, parts.masks, fit, score)
    ceiling, control, c_counts, k_counts = reference_points(parts, tuple(act.shape[-2:]), fit, score)
    return Dissection(iou, ceiling, control, choice.unit, choice.quantile_fraction, parts.concepts,
                      {"units": counts, "ceiling": c_counts, "control": k_counts})


def dissect_intervals(result: Dissection) -> dict[str, bootstrap.Interval | None]:
    """Intervals of dissect, dissect_iou and dissect_detectors from one bootstrap over the score images."""
    arrays = {k: tuple(t.double().numpy() for t in v) for k, v in result.overlaps.items()}

    def iou(w: np.ndarray, name: str) -> np.ndarray:  # (b, K)
        inter, union = arrays[name]
        return (w @ inter) / np.maximum(w @ union, 1.0)

    def all_three(w: np.ndarray) -> np.ndarray:  # (3, b)
        units, top, control = iou(w, "units").mean(1), iou(w, "ceiling").mean(1), iou(w, "control").mean(1)
        return np.stack([(units - control) / (top - control), units, (iou(w, "units") >= IOU_DETECTOR).sum(1)])

    n = len(arrays["units"][0])
    values = (result.normalised, float(result.iou.mean()), float(result.detectors))
    return {name: bootstrap.bootstrap(v, lambda w, i=i: all_three(w)[i], {"images": n})
            for i, (name, v) in enumerate(zip(("dissect", "dissect_iou", "dissect_detectors"), values, strict=True))}


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
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        return {**self._scored(ctx), "interval": bootstrap.describe("score images")}

    @staticmethod
    def _scored(ctx: EvalContext) -> dict:
        """What determines the numbers (the chance level's cache key: the interval does not change it)."""
        return {"layer": LAYER, "n_images": n_images(ctx), "split": "first n training images, even fit / odd score",
                "thresholds": f"quantiles 1-f, f=logspace(-3,0,{len(QUANTILE_FRACTIONS)})",
                "iou": "dataset-level", "detector_iou": IOU_DETECTOR, "upsample": "bilinear",
                "dataset": ctx.train.name, "image_size": ctx.train.image_size}

    def compute(self, ctx: EvalContext) -> list[Score]:
        result, extra = dissect_model(ctx)
        chance = chance_level(ctx, "dissect", self._scored(ctx),
                              lambda twin: dissect_model(twin, causal=False)[0].normalised)
        ci = {k: bootstrap.extra(v) for k, v in dissect_intervals(result).items()}
        return [Score("dissect", result.normalised, higher_is_better=True,
                      extra={**extra, "chance": chance, **ci["dissect"]}),
                Score("dissect_iou", float(result.iou.mean()), higher_is_better=True,
                      extra={"ceiling": extra["ceiling"], "control": extra["control"], **ci["dissect_iou"]}),
                Score("dissect_detectors", float(result.detectors), higher_is_better=True,
                      extra={"of": len(result.concepts), "iou_threshold": IOU_DETECTOR, **ci["dissect_detectors"]})]

"""Network-dissection maths (Bau et al., "Network Dissection", CVPR 2017; Bau et al., "GAN Dissection",
ICLR 2019): how well thresholded unit activations overlap ground-truth concept masks.

A *unit* is one channel of a layer. Its activation map (h x w) is upsampled bilinearly to the mask
resolution and thresholded, ``on = act > t``; its agreement with a concept is the dataset-level IoU

    IoU(u, t, c) = sum_i |on_i & mask_i| / sum_i |on_i | mask_i|          (sums over images i)

(NetDissect's IoU: not a mean of per-image IoUs). Thresholds are candidates at the upper quantiles
1 - f of the unit's activations, f in ``QUANTILE_FRACTIONS`` (GAN Dissection's logspace(-3, 0, 100)).
For each concept the best (unit, threshold) is chosen on one set of images (``fit``) and its IoU is
reported on another (``score``), so that choosing among C units x 100 thresholds does not inflate it.

Exactness without a loop over thresholds: each value falls in the bucket of how many candidate
thresholds lie strictly below it, so a histogram of the buckets (and one per concept, of the pixels
inside the concept's mask) gives, by a reverse cumulative sum, every threshold's ``on`` count and
intersection at once, ties included (``on`` counts only values strictly above the threshold).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# GAN Dissection (netdissect/dissection.py): candidate thresholds at the 1 - f quantiles, f = logspace(-3, 0, 100).
QUANTILE_FRACTIONS = torch.logspace(-3, 0, 100, dtype=torch.float64)
# GAN Dissection's detector threshold on IoU (Network Dissection used 0.04).
IOU_DETECTOR = 0.05
CHUNK_VALUES = 1 << 23  # bound on activation values sorted at once (units x images x pixels)


@dataclass
class Choice:
    """The detector chosen for each concept on the fit images: unit, threshold and its fit IoU."""

    unit: Tensor  # (K,) long
    threshold: Tensor  # (K,) float
    quantile_fraction: Tensor  # (K,) the f whose 1 - f quantile is the threshold
    fit_iou: Tensor  # (K,)


def upsample(act: Tensor, size: tuple[int, int]) -> Tensor:
    """(N, C, h, w) -> (N, C, H, W), bilinear (NetDissect: activation maps upsampled to the labels)."""
    if tuple(act.shape[-2:]) == tuple(size):
        return act.float()
    return F.interpolate(act.float(), size=size, mode="bilinear", align_corners=False)


def _unit_chunks(act: Tensor, size: tuple[int, int]) -> Iterator[tuple[int, Tensor]]:
    """(first unit, values (U, N*H*W)) for chunks of units, upsampled, images x pixels flattened."""
    n, c = act.shape[:2]
    per_unit = n * size[0] * size[1]
    step = max(1, CHUNK_VALUES // per_unit)
    for u0 in range(0, c, step):
        up = upsample(act[:, u0:u0 + step], size)  # (N, U, H, W)
        yield u0, up.transpose(0, 1).reshape(up.shape[1], -1)


def choose_detectors(act: Tensor, masks: Tensor) -> Choice:
    """For each concept, the (unit, threshold) with the best dataset-level IoU on these images.

    act (N, C, h, w) activations; masks (N, K, H, W) bool. Candidate thresholds per unit: the values at
    its upper quantiles 1 - f (f in QUANTILE_FRACTIONS)."""
    n, k = masks.shape[:2]
    size = tuple(masks.shape[-2:])
    m = masks.transpose(0, 1).reshape(k, -1)  # (K, N*H*W)
    area = m.sum(1).double()  # (K,)
    on_concept, on_pos = m.nonzero(as_tuple=True)  # the (concept, pixel) pairs inside some mask
    n_f = len(QUANTILE_FRACTIONS)
    best = Choice(torch.zeros(k, dtype=torch.long), torch.zeros(k), torch.ones(k, dtype=torch.float64),
                  torch.full((k,), -1.0, dtype=torch.float64))
    for u0, vals in _unit_chunks(act, size):
        units, total = vals.shape
        desc = vals.sort(dim=1, descending=True).values
        ranks = (QUANTILE_FRACTIONS * total).round().long().clamp(0, total - 1)  # the 1 - f quantile's index
        thresholds = desc[:, ranks]  # (U, F), non-increasing in f's order
        t_asc, perm = thresholds.sort(dim=1)
        # bucket b of a value = how many thresholds lie strictly below it: it is "on" for t_asc[j] iff j < b
        bucket = torch.searchsorted(t_asc.contiguous(), vals.contiguous(), right=False)  # (U, L) in [0, F]
        offset = torch.arange(units)[:, None] * (n_f + 1)
        hist = torch.bincount((bucket + offset).flatten(), minlength=units * (n_f + 1)).view(units, n_f + 1)
        sel = bucket[:, on_pos] + (offset * k + on_concept[None, :] * (n_f + 1))
        hist_c = torch.bincount(sel.flatten(), minlength=units * k * (n_f + 1)).view(units, k, n_f + 1)
        # values above t_asc[j]: those in buckets > j
        count = hist.flip(1).cumsum(1).flip(1)[:, 1:].double()  # (U, F)
        inter = hist_c.flip(2).cumsum(2).flip(2)[:, :, 1:].double()  # (U, K, F)
        iou = inter / (count[:, None, :] + area[None, :, None] - inter).clamp_min(1.0)
        val, flat = iou.permute(1, 0, 2).reshape(k, -1).max(1)  # (K,) best over units x thresholds
        better = val > best.fit_iou
        u, j = flat // n_f, flat % n_f
        best.unit = torch.where(better, u0 + u, best.unit)
        best.threshold = torch.where(better, t_asc[u, j], best.threshold)
        best.quantile_fraction = torch.where(better, QUANTILE_FRACTIONS[perm[u, j]], best.quantile_fraction)
        best.fit_iou = torch.where(better, val, best.fit_iou)
    return best


def overlap_counts(act: Tensor, masks: Tensor, choice: Choice) -> tuple[Tensor, Tensor]:
    """(N, K) intersection and union pixel counts of each concept's chosen (unit, threshold) with its mask,
    per image: the dataset-level IoU is their sums' ratio (and a bootstrap over images reweights them)."""
    k = masks.shape[1]
    size = tuple(masks.shape[-2:])
    up = upsample(act[:, choice.unit], size)  # (N, K, H, W): concept c's unit in channel c
    on = up > choice.threshold.view(1, k, 1, 1).to(up.dtype)
    return (on & masks).sum((2, 3)), (on | masks).sum((2, 3))


def score_detectors(act: Tensor, masks: Tensor, choice: Choice) -> Tensor:
    """(K,) dataset-level IoU of each concept's chosen (unit, threshold) on these images."""
    inter, union = overlap_counts(act, masks, choice)
    return inter.sum(0).double() / union.sum(0).double().clamp_min(1.0)


def pooled_masks(masks: Tensor, grid: tuple[int, int]) -> Tensor:
    """Masks pooled to a layer's grid (area average): the activations of ideal units at that
    resolution, which the same upsample-and-threshold pipeline then scores (the dissect ceiling)."""
    return F.adaptive_avg_pool2d(masks.float(), grid)


def group_masks(masks: Tensor, groups: list[str]) -> Tensor:
    """(N, G, H, W): per group (slot) the union of its concepts' masks, in order of first appearance."""
    names = list(dict.fromkeys(groups))
    return torch.stack([masks[:, [i for i, g in enumerate(groups) if g == name]].any(1) for name in names], 1)


def dissect_split(act: Tensor, masks: Tensor, fit: Tensor, score: Tensor) -> tuple[Tensor, Choice]:
    """Choose detectors on images ``fit``, report their IoU (K,) on images ``score``."""
    choice = choose_detectors(act[fit], masks[fit])
    return score_detectors(act[score], masks[score], choice), choice


def causal_share(trace, z: Tensor, layer: str, units: Tensor, masks: Tensor, batch: int = 100) -> Tensor:
    """GAN Dissection's intervention: for each concept c, zero its detector unit ``units[c]`` (all
    positions) at ``layer`` and measure where the image changes. Returns (K,) the share of the total
    absolute change (summed over channels, pixels and images) that falls inside concept c's mask.

    ``trace(z, layer, edit)`` is the model's ``trace_layer``; masks (N, K, H, W) bool for the images z
    stands for."""
    k = masks.shape[1]
    inside = torch.zeros(k, dtype=torch.float64)
    total = torch.zeros(k, dtype=torch.float64)
    for i in range(0, len(z), batch):
        zb, mb = z[i:i + batch], masks[i:i + batch].to(z.device)
        with torch.no_grad():
            base, _ = trace(zb, layer)
            for c in range(k):
                u = int(units[c])

                def zero_unit(out: Tensor, u: int = u) -> Tensor:
                    out = out.clone()
                    out[:, u] = 0
                    return out

                edited, _ = trace(zb, layer, zero_unit)
                change = (edited - base).abs().sum(1).double()  # (B, H, W)
                inside[c] += (change * mb[:, c]).sum().cpu()
                total[c] += change.sum().cpu()
    return inside / total.clamp_min(1e-12)

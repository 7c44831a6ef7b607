"""``swd``: sliced Wasserstein distance between Laplacian-pyramid patch descriptors
(Karras et al., "Progressive Growing of GANs", ICLR 2018, section 5), written from the paper.

Per pyramid level (full resolution down to 16 px): 128 random 7x7 neighbourhoods per image give
147-d descriptors; each set is normalised per colour channel (zero mean, unit std); the SWD is the
mean, over 4 x 128 random unit directions, of the 1-D Wasserstein-1 distance between the projected
sets (sorted projections, mean absolute difference). Reported x 1e3 and averaged over levels.
Both sets use the same random patch positions (version 2), so identical sets score exactly 0.
Needs no pretrained weights. Not comparable to FID.

Interval (version 3): bootstrap over images, real and generated, each image with all its patches, along all
512 directions (genbench.metrics.core.bootstrap.SlicedReplicates: B = 200, percentile 95 %, re-centred on the
value; W1 of each replicate from the images' CDFs at 128 quantile points per direction).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core import bootstrap

PATCH = 7
PATCHES_PER_IMAGE = 128
DIR_REPEATS, DIRS_PER_REPEAT = 4, 128
MIN_LEVEL_RES = 16

_K1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
GAUSS5 = (_K1[:, None] * _K1[None, :])


def _blur(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    c = x.shape[1]
    k = (GAUSS5 * scale).to(x).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=c)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    up = torch.zeros(b, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    up[:, :, ::2, ::2] = x
    return _blur(up, 4.0)


def laplacian_pyramid(x: torch.Tensor, min_res: int = MIN_LEVEL_RES) -> list[torch.Tensor]:
    """Band-pass levels from full resolution down to ``min_res``; the last level is the low-pass."""
    levels = []
    while x.shape[-1] > min_res:
        small = pyr_down(x)
        levels.append(x - pyr_up(small))
        x = small
    levels.append(x)
    return levels


def patch_descriptors(level: torch.Tensor, per_image: int, gen: torch.Generator) -> torch.Tensor:
    """(N * per_image, C * 7 * 7) random 7x7 neighbourhoods, normalised per channel."""
    n, c, h, w = level.shape
    ys = torch.randint(0, h - PATCH + 1, (n, per_image), generator=gen)
    xs = torch.randint(0, w - PATCH + 1, (n, per_image), generator=gen)
    off = torch.arange(PATCH)
    rows = (ys[..., None] + off)[..., :, None].expand(n, per_image, PATCH, PATCH)
    cols = (xs[..., None] + off)[..., None, :].expand(n, per_image, PATCH, PATCH)
    img = torch.arange(n)[:, None, None, None].expand_as(rows)
    desc = level.permute(0, 2, 3, 1)[img, rows, cols]  # (n, per_image, 7, 7, C)
    desc = desc.reshape(-1, PATCH * PATCH, c)
    desc = (desc - desc.mean(dim=(0, 1))) / desc.std(dim=(0, 1)).clamp_min(1e-8)
    return desc.reshape(desc.shape[0], -1)


def sort_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` sorted along its last dimension (values only). On the CPU numpy's vectorised sort, 4x faster than
    torch.sort on a 2-core AVX2 machine (benchmarks/RESULTS.md); the sorted values are the same either way."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=-1))
    return torch.sort(x, dim=-1).values


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator,
                       repeats: int = DIR_REPEATS, dirs: int = DIRS_PER_REPEAT,
                       boot: bootstrap.SlicedReplicates | None = None) -> float:
    """Mean over random unit directions of W1 between the 1-D projections of two equal-size sets; ``boot``
    takes each batch of projections, one direction per row, with their sorted copies, for the bootstrap."""
    assert a.shape == b.shape, "SWD compares descriptor sets of equal size"
    vals = []
    for _ in range(repeats):
        d = torch.randn(a.shape[1], dirs, generator=gen, dtype=a.dtype)
        d = d / d.norm(dim=0, keepdim=True)
        pa, pb = d.T @ a.T, d.T @ b.T  # (dirs, M)
        sa, sb = sort_rows(pa), sort_rows(pb)
        vals.append((sa - sb).abs().mean())
        if boot is not None:
            boot.add(pa, sa, pb, sb)
    return torch.stack(vals).mean().item()


def swd(real: torch.Tensor, fake: torch.Tensor, seed: int = 0,
        boot: bootstrap.SlicedReplicates | None = None) -> tuple[float, list[float]]:
    """SWD x 1e3 averaged over pyramid levels, and the per-level values. Images in [-1, 1]. ``boot``
    accumulates the bootstrap replicates along the way."""
    gen = torch.Generator().manual_seed(seed)
    per_level = []
    for level, (lr, lf) in enumerate(zip(laplacian_pyramid(real.double()), laplacian_pyramid(fake.double()),
                                         strict=True)):
        # the same random patch positions for both sets (common random numbers): positions are independent
        # of content, so nothing is biased, and identical sets give exactly 0 instead of a sampling floor
        da = patch_descriptors(lr, PATCHES_PER_IMAGE, torch.Generator().manual_seed(seed * 1000 + level))
        db = patch_descriptors(lf, PATCHES_PER_IMAGE, torch.Generator().manual_seed(seed * 1000 + level))
        per_level.append(sliced_wasserstein(da, db, gen, boot=boot) * 1e3)
    return sum(per_level) / len(per_level), per_level


class SWD(Metric):
    description = "sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018); no weights"
    requires = frozenset({"generator"})
    rank = 30
    version = 3

    def protocol(self, ctx: EvalContext) -> dict:
        return {"n": min(ctx.n_eval, len(ctx.train)), "seed": ctx.seed, "patch": PATCH, "positions": "shared",
                "patches_per_image": PATCHES_PER_IMAGE, "dirs": [DIR_REPEATS, DIRS_PER_REPEAT],
                "min_level_res": MIN_LEVEL_RES, "image_size": ctx.train.image_size,
                "interval": bootstrap.describe("images, real and generated, with their patches",
                                               statistic=f"W1 from the images' CDFs at {bootstrap.SWD_GRID} "
                                                         f"quantile points per direction")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        n = min(ctx.n_eval, len(ctx.train))
        real_idx = torch.randperm(len(ctx.train), generator=torch.Generator().manual_seed(ctx.seed))[:n]
        real = ctx.train.as_float(real_idx)
        fake = ctx.model.sample(n, seed=ctx.seed + 1)
        note = f"from {len(fake)} generated images, fewer than the protocol's {n}" if len(fake) < n else ""
        boot = bootstrap.SlicedReplicates(len(fake), PATCHES_PER_IMAGE)
        value, levels = swd(real[:len(fake)], fake, seed=ctx.seed, boot=boot)
        interval = boot.interval(value)
        return [Score("swd", value, "warn" if note else "ok", note,
                      extra={"per_level": levels, "n": len(fake), **bootstrap.extra(interval)})]

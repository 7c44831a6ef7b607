"""Embedding throughput per feature space on this machine, and what each space adds to a `small` evaluation.

For every installed space: images per second through the space's network and preprocessing (32-px inputs, as
`small` makes them; a few batches after one warm-up batch, in this one process), and the seconds a `small`
evaluation of one model on `shapes` spends in that space: embedding every image the space-taking metrics
read (10,000 training images and 250 held-out ones, cached after the first model of a results folder; 2,048
generated samples for every model) plus the seven families' maths on features of that dimension (FD, KID,
P/R/D/C, CMMD, FD∞, C_T, AuthPct, with their intervals, on random features of the right sizes).

Speed does not depend on the weights' values, so a space whose weights are not on this machine (DINOv2, CLIP
offline) is timed with its architecture randomly initialised, and said so.

    python benchmarks/space_speed.py [--batches 3] [--spaces rand,effnet,dinov2_s]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genbench import registry
from genbench.metrics.core import bootstrap
from genbench.metrics.core.authenticity import authenticity
from genbench.metrics.core.cmmd import cmmd
from genbench.metrics.core.copying import copying_statistic
from genbench.metrics.core.fdinf import fd_infinity
from genbench.metrics.core.features import embed
from genbench.metrics.core.frechet import feature_stats, frechet_distance, kernel_distance
from genbench.metrics.core.prdc import prdc_points
from genbench.metrics.core.weights import WeightsPolicy, resolve

N_TRAIN, N_HELDOUT, N_FID = 10_000, 250, 2048  # the small preset's sizes on shapes


def network(space):
    """The space's network from its resolved weights, else its architecture with random weights."""
    weights = resolve(space, WeightsPolicy(offline=True), echo=lambda *a: None)
    if weights.available:
        return space.build(weights.path), "real weights"
    if space.name.startswith("dinov2"):
        import timm

        from genbench.spaces.dinov2 import SIZE, DinoFeatures

        return DinoFeatures(timm.create_model(space.arch, pretrained=False, img_size=SIZE)), "random init"
    if space.name == "clip":
        import open_clip

        from genbench.spaces.clip import ClipFeatures

        return ClipFeatures(open_clip.create_model("ViT-L-14-336", pretrained=None)), "random init"
    return None, weights.reason


def throughput(net, batch: int, batches: int) -> float:
    x = torch.rand(batch, 3, 32, 32) * 2 - 1
    embed(net, x, torch.device("cpu"), batch, 1)  # warm-up
    t = time.perf_counter()
    for _ in range(batches):
        embed(net, x, torch.device("cpu"), batch, 1)
    return batch * batches / (time.perf_counter() - t)


def maths_seconds(dims: int, seed: int = 0) -> float:
    """The seven families' maths (and intervals) on random features of a small evaluation's sizes."""
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((N_TRAIN, dims)).astype(np.float32).astype(np.float64)
    real, heldout = train[:N_FID], rng.standard_normal((N_HELDOUT, dims))
    fake = rng.standard_normal((N_FID, dims)) * 1.1
    t = time.perf_counter()
    value = frechet_distance(*feature_stats(real), *feature_stats(fake))
    bootstrap.frechet_interval(value, real, fake)
    kid, _ = kernel_distance(real, fake)
    bootstrap.kernel_interval(kid, real, fake)
    bootstrap.prdc_intervals({k: 0.5 for k in ("precision", "recall", "density", "coverage")},
                             prdc_points(real, fake), 5)
    cmmd(real, fake)
    fd_infinity(real, fake)
    copying_statistic(train, heldout, fake)
    authenticity(train, fake)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--spaces", help="comma-separated (default: every installed space)")
    args = ap.parse_args()
    names = args.spaces.split(",") if args.spaces else registry.names("spaces")
    rows = []
    for name in names:
        space = registry.get_space(name)()
        net, how = network(space)
        if net is None:
            print(f"{name}: skipped ({how})")
            continue
        ips = throughput(net, space.batch_size, args.batches)
        embed_s = (N_TRAIN + N_HELDOUT) / ips, N_FID / ips
        rows.append((name, space.dims, how, ips, *embed_s, maths_seconds(space.dims)))
        print(f"{name}: {ips:.1f} images/s", flush=True)
    base = next((r[3] for r in rows if r[0] == "rand"), rows[0][3])
    print(f"\n| space | dims | weights | images/s | vs rand | first model: embed train+heldout s | every model: "
          f"embed {N_FID} generated s | metrics' maths s | first-model total s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, dims, how, ips, once, each, maths in rows:
        print(f"| {name} | {dims} | {how} | {ips:.1f} | {ips / base:.3f}x | {once:.0f} | {each:.0f} | {maths:.0f} | "
              f"{once + each + maths:.0f} |")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()

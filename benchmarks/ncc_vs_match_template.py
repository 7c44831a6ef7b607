"""Compare genbench's batched torch NCC (genbench.metrics.core.ncc.max_ncc) with a skimage match_template loop.

    .venv/bin/python benchmarks/ncc_vs_match_template.py [--templates 64] [--images 50] [--size 32]

Templates are cut-outs of random sizes from shapes images (like support-cropped basis renders, some
exact copies and some perturbed), matched against other shapes images; each side computes, per
template and image, the maximum zero-mean RGB NCC over valid positions (paper Table 4's inner step).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from skimage.feature import match_template

from genbench.datasets.shapes import Shapes
from genbench.metrics.core.ncc import max_ncc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", type=int, default=64)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    imgs = Shapes().load("train", args.size, n=args.images).as_float().double()
    src = Shapes().load("heldout", args.size, n=args.templates).as_float().double()
    templates = []
    for i in range(args.templates):
        h, w = rng.integers(args.size // 4, args.size // 2 + 1, 2)
        y, x = rng.integers(0, args.size - h + 1), rng.integers(0, args.size - w + 1)
        t = src[i, :, y:y + h, x:x + w].clone()
        templates.append(t + 0.05 * torch.from_numpy(rng.standard_normal(t.shape)) if i % 2 else t)

    t0 = time.perf_counter()
    ref = np.array([[match_template(im.permute(1, 2, 0).numpy(), t.permute(1, 2, 0).numpy(),
                                    pad_input=False).max() for im in imgs] for t in templates])
    t_sk = time.perf_counter() - t0
    rows = []
    for dtype in (torch.float64, torch.float32):
        max_ncc(imgs[:2], templates[:2], dtype)  # warm-up
        t0 = time.perf_counter()
        out = max_ncc(imgs, templates, dtype).double().numpy()
        dt = time.perf_counter() - t0
        rows.append((str(dtype).replace("torch.", ""), dt, np.abs(out - ref).max(), out.mean()))
    n = args.templates * args.images
    print(f"{args.templates} templates ({len({tuple(t.shape) for t in templates})} distinct sizes) x {args.images} "
          f"images at {args.size}px = {n} matches; CPU, {torch.get_num_threads()} torch threads")
    print(f"{'variant':28s} {'time (s)':>9s} {'ms/match':>9s} {'speed-up':>9s} {'max |diff|':>11s} {'mean NCC':>9s}")
    print(f"{'skimage match_template loop':28s} {t_sk:9.3f} {1e3 * t_sk / n:9.4f} {1.0:9.2f} {0.0:11.2e} "
          f"{ref.mean():9.5f}")
    for name, dt, err, mean in rows:
        print(f"{'genbench max_ncc ' + name:28s} {dt:9.3f} {1e3 * dt / n:9.4f} {t_sk / dt:9.2f} {err:11.2e} "
              f"{mean:9.5f}")


if __name__ == "__main__":
    main()

"""How much does the Fréchet distance's interval move with the split seed alone (issue 28 item 3 against issue 29
item 10: fewer splits are cheaper and noisier)? One draw of Gaussian features (``interval_coverage.features``) at
equality and at the "small" distance, the interval computed with 20 split seeds on the same data: the mean width and
its relative sd over the seeds, for ``frechet_interval`` at B splits (a half of them quartered) and for the plug-in
split-half interval it replaced (value ± 1.96 sd, the whole distance's extrapolated split variance) at B = 50.

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/split_noise.py --n 2048 --d 64
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from interval_coverage import features

from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.frechet import feature_stats, frechet_distance


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--splits", type=int, nargs="+", default=[50, 35, 25])
    p.add_argument("--seeds", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    n, d = args.n, args.d
    print(f"n = {n}, d = {d}: mean interval width (relative sd over {args.seeds} split seeds)\n")
    print("| distance | " + " | ".join(f"new, B = {b}" for b in args.splits) + " | plug-in, B = 50 |")
    print("|---|" + "---|" * (len(args.splits) + 1))
    for name, factor in (("0", 0.0), ("small", 2.0)):
        x, y = features(np.random.default_rng(3), n, d, factor * np.sqrt(d / n))
        value = frechet_distance(*feature_stats(x), *feature_stats(y))
        cells = []
        for b in args.splits:
            w = [(lambda iv: iv.hi - iv.lo)(bs.frechet_interval(value, x, y, b=b, quarters=b // 2, seed=s))
                 for s in range(args.seeds)]
            cells.append(f"{np.mean(w):.4g} ({100 * np.std(w) / np.mean(w):.1f} %)")
        sizes = {"real": n, "generated": n}
        w = [2 * bs.Z * np.sqrt(bs.split_variance(bs.frechet_subsets(x, y)(*bs.split_masks(sizes, 50, s, 25)), 50, n))
             for s in range(args.seeds)]
        cells.append(f"{np.mean(w):.4g} ({100 * np.std(w) / np.mean(w):.1f} %)")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

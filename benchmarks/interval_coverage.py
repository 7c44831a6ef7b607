"""Do the 95 % intervals of the feature-space distances hold their level (issue 29, item 10)? On Gaussian
features with a known answer, the value and its interval are computed on many independent draws of a real and a
generated set; per metric, feature dimension, sample size n (per side) and distance from equality:

- **true sd**: the standard deviation of the value over the draws (the spread an interval should show);
- **width / true**: the mean interval width over (2 x 1.96 x true sd): 1 is right, > 1 too wide (ties called
  that are not), < 1 too narrow;
- **coverage**: the share of intervals that hold the mean of the value over the draws (KID is unbiased, so that
  is its true value; the intervals of a Fréchet distance show its sampling spread, not a correction of its
  small-sample bias, so what they should hold is E[FD at n]).

Methods side by side: ``old`` = the bootstrap with replacement (genbench.metrics.core.bootstrap.bootstrap over
``kernel_replicates`` / ``frechet_replicates``, percentile, re-centred; the method before issue 29) and ``new``
= the split halves the metrics now use (``kernel_interval`` / ``frechet_interval``). ``mean`` is a mean over
units (the first feature of the generated set; ``mean_interval``, one method for both columns), for scale.

Features: real ~ N(0, diag(s²)), generated ~ N(delta s / sqrt(d), diag(s²)) with s_j² proportional to 1/j (a
decaying spectrum like a network's features), mean s² = 1: ``delta`` is the distance of the means in units of
the average feature sd. Distances: 0 (equal distributions), ``small`` and ``clear`` (--small, --clear).
Dimensions 64 and 512 stand in for "every feature space" (Inception's is 2048; the random CNN's 480).
The value of KID here is the unbiased MMD² of the whole sets (the metric averages 100 subsets of 1000, the
same for n <= 1000).

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --dims 64 --sizes 90 250 500 --draws 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.frechet import feature_stats, frechet_distance

Z = 1.959963984540054  # the 97.5 % normal quantile


def features(rng: np.random.Generator, n: int, d: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
    s = 1 / np.sqrt(np.arange(1, d + 1))
    s *= np.sqrt(d / np.square(s).sum())
    real = rng.standard_normal((n, d)) * s
    fake = rng.standard_normal((n, d)) * s + delta * s / np.sqrt(d)
    return real, fake


def one_draw(real: np.ndarray, fake: np.ndarray, metrics: list[str]) -> dict[str, tuple]:
    """{metric: (value, old interval, new interval)}."""
    sizes = {"real": len(real), "generated": len(fake)}
    out = {}
    if "kid" in metrics:
        stat = bs.kernel_replicates(real, fake)
        value = float(stat(np.ones((1, len(real))), np.ones((1, len(fake))))[0])
        out["kid"] = (value, bs.bootstrap(value, stat, sizes), bs.kernel_interval(value, real, fake))
    if "fd" in metrics:
        value = frechet_distance(*feature_stats(real), *feature_stats(fake))
        old = bs.bootstrap(value, bs.frechet_replicates(real, fake), sizes, bs.B_FRECHET)
        out["fd"] = (value, old, bs.frechet_interval(value, real, fake))
    if "mean" in metrics:
        iv = bs.mean_interval(float(fake[:, 0].mean()), fake[:, 0])
        out["mean"] = (iv.value, iv, iv)
    return out


def summarise(rows: list[tuple]) -> tuple[float, float, float, float, float]:
    """(true sd, old width ratio, old coverage, new width ratio, new coverage) of one cell's draws."""
    values = np.array([r[0] for r in rows])
    truth, sd = values.mean(), values.std(ddof=1)
    res = [sd]
    for k in (1, 2):
        lo, hi = np.array([r[k].lo for r in rows]), np.array([r[k].hi for r in rows])
        res += [float(np.mean(hi - lo)) / (2 * Z * sd), float(np.mean((lo <= truth) & (truth <= hi)))]
    return tuple(res)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dims", type=int, nargs="+", default=[64, 512])
    p.add_argument("--sizes", type=int, nargs="+", default=[90, 250, 500, 2048])
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--small", type=float, default=1.0, help="delta of the 'small' distance")
    p.add_argument("--clear", type=float, default=4.0, help="delta of the 'clear' distance")
    p.add_argument("--metrics", nargs="+", default=["kid", "fd", "mean"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"{args.draws} draws per cell; B = {bs.B} (KID, mean), {bs.B_FRECHET} (FD); delta small {args.small}, "
          f"clear {args.clear}; coverage of E[value]\n")
    print("| metric | d | n | distance | true sd | old width/true | old coverage | new width/true | new coverage |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in args.dims:
        for n in args.sizes:
            for name, delta in (("0", 0.0), ("small", args.small), ("clear", args.clear)):
                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, d, n, int(delta * 1000)])
                cells: dict[str, list] = {}
                for _ in range(args.draws):
                    for metric, row in one_draw(*features(rng, n, d, delta), args.metrics).items():
                        cells.setdefault(metric, []).append(row)
                for metric, rows in cells.items():
                    sd, ow, oc, nw, nc = summarise(rows)
                    print(f"| {metric} | {d} | {n} | {name} ({delta:g}) | {sd:.3g} | {ow:.2f} | {100 * oc:.1f} % | "
                          f"{nw:.2f} | {100 * nc:.1f} % |", flush=True)
                print(f"<!-- d {d} n {n} {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()

"""Do the 95 % intervals of the feature-space distances hold their level (issue 29, item 10)? On Gaussian
features with a known answer, the value and its interval are computed on many independent draws of a real and a
generated set; per metric, feature dimension d, sample size n (per side) and distance from equality:

- **true sd**: the standard deviation of the value over the draws (the spread an interval should show);
- **width / true**: the mean interval width over (2 x 1.96 x true sd): 1 is right, > 1 too wide (ties called
  that are not), < 1 too narrow;
- **coverage**: the share of intervals that hold the mean of the value over the draws (KID is unbiased, so that
  is its true value; the intervals of a Fréchet distance and of CMMD show their sampling spread, not a correction
  of their small-sample bias, so what they should hold is E[value at n]); its Monte Carlo standard error is
  sqrt(0.95 x 0.05 / draws) (1.3 % at 300 draws, 2.2 % at 100, 3.4 % at 40);
- **low / high**: the share of new intervals that lie wholly below / above that mean (2.5 % each at the level).

Methods side by side, on the same draws: ``old`` = what the metrics had before. For KID and CMMD split halves
with the variance at n extrapolated from halves and quarters by a/m + b/(m(m-1)) and the interval the 2.5 and
97.5 percentiles of value + c (d_b - mean d) (``legacy_split_interval`` below; B = 200 splits, a quarter of them
quartered); for FD the plug-in split-half interval it had until 2026-12-07, value ± 1.96 sd with that
extrapolated variance of the whole distance from its 50 splits, 25 of them quartered. ``new`` = what the metrics
use now (genbench.metrics.core.bootstrap): for KID and CMMD ``kernel_interval`` (a score interval: the variance
at equality from swapped halves, the first-order part growing with the distance; the same 200 splits as old),
for FD ``frechet_interval`` (the mean term's variance law, 2 tr(Ω²) + 4 q θ, on its variance-stabilised scale;
the covariance term's variance from the same splits as old).

Features: real ~ N(0, diag(s²)), generated ~ N(delta s / sqrt(d), diag(s²)) with s_j² proportional to 1/j (a
decaying spectrum like a network's features), mean s² = 1 (``--shift aligned``; ``top``, ``tail`` and ``scale``
move the generated set along the widest feature, over the narrower half of them, or scale its spread: see
``features``; FD's excess over equality is delta² in each); CMMD takes them L2-normalised, as it takes any
embedding, with its kernel (RBF, sigma 10, x 1000). Distances are given in units of sqrt(d / n), delta =
factor x sqrt(d / n): for the mean-difference (linear) part of these statistics the first-order variance is then
about factor² times the degenerate one, so ``--small`` 2 (default) sits between equality and a clear difference
at every n and d (it is delta = 1 at d = 64, n = 250, the old table's "small") and ``--clear`` 8 is dominated by
the first-order term. Dimensions 64 and 512 stand in for "every feature space" (the trained spaces are wider:
effnet 1280, Inception 2048, DINOv2 ViT-L 1024, CLIP 768; the random CNN 480). The value of KID here is the
unbiased MMD² of the whole sets (the metric averages 100 subsets of 1000, the same for n <= 1000).

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/interval_coverage.py --dims 64 --sizes 250 --draws 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genbench.metrics.cmmd import scaled_rbf
from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.cmmd import cmmd, l2_normalize
from genbench.metrics.core.frechet import feature_stats, frechet_distance

Z = bs.Z


SHIFTS = ("aligned", "top", "tail", "scale")


def features(rng: np.random.Generator, n: int, d: int, delta: float,
             shift: str = "aligned") -> tuple[np.ndarray, np.ndarray]:
    """Real and generated Gaussian features, the generated set ``delta`` away (FD's excess over equality is
    delta² in every ``shift``): ``aligned`` its mean moved by delta s / sqrt(d) (along the features' own spread),
    ``top`` by delta along the first (widest) feature only, ``tail`` by delta spread evenly over the narrower
    half of the features, ``scale`` its spread multiplied by 1 + delta / sqrt(d) (a covariance difference; the
    means equal)."""
    s = 1 / np.sqrt(np.arange(1, d + 1))
    s *= np.sqrt(d / np.square(s).sum())
    real = rng.standard_normal((n, d)) * s
    fake = rng.standard_normal((n, d)) * s
    if shift == "aligned":
        return real, fake + delta * s / np.sqrt(d)
    if shift == "scale":
        return real, fake * (1 + delta / np.sqrt(d))
    u = np.zeros(d)
    if shift == "top":
        u[0] = 1.0
    else:
        u[d // 2:] = 1 / np.sqrt(d - d // 2)
    return real, fake + delta * u


def legacy_split_interval(value: float, t: np.ndarray, b: int, n: int) -> tuple[float, float]:
    """The split-half interval the metrics had before (commit 8f9857c): replicates value + c (d_b - mean d),
    c² = (variance at n extrapolated from halves and quarters) / E[d²], and their 2.5 and 97.5 percentiles; ``t``
    the statistic on ``bs.split_masks``' rows (halves, then quarters)."""
    half = t[:b] - t[b:2 * b]
    v_half = float(np.mean(half ** 2)) / 2
    v_quarter = float(np.var(t[2 * b:].reshape(4, -1), axis=0, ddof=1).mean())
    c = np.sqrt(bs.extrapolated_variance(v_half, v_quarter, n) / (2 * v_half))
    lo, hi = np.percentile(value + c * (half - half.mean()), [2.5, 97.5])
    return float(lo), float(hi)


def one_draw(real: np.ndarray, fake: np.ndarray, metrics: list[str]) -> dict[str, tuple]:
    """{metric: (value, (old lo, old hi), (new lo, new hi))}."""
    n, sizes = len(real), {"real": len(real), "generated": len(fake)}
    out = {}
    for name in [m for m in metrics if m in ("kid", "cmmd")]:
        if name == "kid":
            x, y, kernel = real, fake, bs.cubic_kernel
            value = float(bs.kernel_replicates(x, y)(np.ones((1, n)), np.ones((1, n)))[0])
        else:
            x, y, kernel = l2_normalize(real), l2_normalize(fake), scaled_rbf
            value = cmmd(real, fake)
        t = bs.kernel_replicates(x, y, kernel=kernel)(*bs.split_masks(sizes))
        new = bs.kernel_interval(value, x, y, kernel=kernel)
        out[name] = (value, legacy_split_interval(value, t, bs.B, n), (new.lo, new.hi))
    if "fd" in metrics:
        value = frechet_distance(*feature_stats(real), *feature_stats(fake))
        t = bs.frechet_subsets(real, fake)(*bs.split_masks(sizes, bs.B_FRECHET, quarters=bs.FRECHET_QUARTERS))
        sd = np.sqrt(bs.split_variance(t, bs.B_FRECHET, n))
        new = bs.frechet_interval(value, real, fake)
        out["fd"] = (value, (value - Z * sd, value + Z * sd), (new.lo, new.hi))
    return out


def summarise(rows: list[tuple]) -> tuple[float, ...]:
    """(true sd, old width ratio, old coverage, new width ratio, new coverage, new low, new high) of one cell."""
    values = np.array([r[0] for r in rows])
    truth, sd = values.mean(), values.std(ddof=1)
    res = [sd]
    for k in (1, 2):
        lo, hi = np.array([r[k][0] for r in rows]), np.array([r[k][1] for r in rows])
        res += [float(np.mean(hi - lo)) / (2 * Z * sd), float(np.mean((lo <= truth) & (truth <= hi)))]
    return (*res, float(np.mean(hi < truth)), float(np.mean(lo > truth)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dims", type=int, nargs="+", default=[64, 512])
    p.add_argument("--sizes", type=int, nargs="+", default=[90, 250, 500, 2048])
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--small", type=float, default=2.0, help="the 'small' distance in units of sqrt(d / n)")
    p.add_argument("--clear", type=float, default=8.0, help="the 'clear' distance in units of sqrt(d / n)")
    p.add_argument("--distances", nargs="+", default=["0", "small", "clear"])
    p.add_argument("--metrics", nargs="+", default=["kid", "cmmd", "fd"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shift", choices=SHIFTS, default="aligned", help="how the generated set differs (features())")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"{args.draws} draws per cell (coverage SE {100 * np.sqrt(0.95 * 0.05 / args.draws):.1f} %); B = {bs.B} "
          f"splits (KID, CMMD), FD {bs.B_FRECHET} ({bs.FRECHET_QUARTERS} quartered); distances in sqrt(d/n): small "
          f"{args.small:g}, clear "
          f"{args.clear:g}; generated set differing by {args.shift!r}; coverage of E[value]\n")
    print("| metric | d | n | distance (delta) | true sd | old width/true | old coverage | new width/true | "
          "new coverage | new low / high |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    factors = {"0": 0.0, "small": args.small, "clear": args.clear}
    for d in args.dims:
        for n in args.sizes:
            for name in args.distances:
                delta = factors[name] * np.sqrt(d / n)
                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, d, n, int(factors[name] * 1000)])
                cells: dict[str, list] = {}
                for _ in range(args.draws):
                    for metric, row in one_draw(*features(rng, n, d, delta, args.shift), args.metrics).items():
                        cells.setdefault(metric, []).append(row)
                for metric, rows in cells.items():
                    sd, ow, oc, nw, nc, low, high = summarise(rows)
                    print(f"| {metric} | {d} | {n} | {name} ({delta:.2f}) | {sd:.3g} | {ow:.2f} | {100 * oc:.1f} % | "
                          f"{nw:.2f} | {100 * nc:.1f} % | {100 * low:.1f} / {100 * high:.1f} % |", flush=True)
                print(f"<!-- d {d} n {n} {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()

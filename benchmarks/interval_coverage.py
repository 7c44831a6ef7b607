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
use now (genbench.metrics.core.bootstrap): for KID and CMMD ``kernel_interval`` (the variance at equality from
swapped halves, the first-order part growing with the distance, the interval on the variance-stabilised scale
with the slope of ``interval_slope``, which errs high; a score interval of the same law, then the Rayleigh slope,
in the tables of earlier dates; the same 200 splits as old),
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

**In a feature space** (``--space rand``, ``effnet``, any installed space): the features are a network's, of images
rendered fresh for every draw from the embedded ``shapes`` generator (``genbench.datasets.shapes.render_images``;
unlimited, so every draw is an independent sample of the dataset's distribution, with no finite pool to correct
for). Real: n images. Generated: n images of which each is, with probability p, one of a variant (``--variant``:
``blur``, the default, a Gaussian blur of 1 px sd, as a VAE's samples are blurred; ``omit``, a part left unpainted,
``--omit-slot``) and otherwise another dataset image: a mixture, so the population KID and
CMMD grow exactly as p² (MMD²(P, (1 - p) P + p Q) = p² MMD²(P, Q)) and FD about so. p is set per n from the
equality cell (run first): p² MMD²(P, Q) = ``--small`` (default 2) or ``--clear`` (8) times KID's sd at equality,
MMD²(P, Q) estimated on 2,000 + 2,000 images beforehand, so "small" is between equality and a clear difference at
every n as in the Gaussian cells; each cell prints p and every metric's excess over equality in its own sds at
equality. The network's features are non-Gaussian, wide (rand 480-d with dead units and exactly dependent ones,
effnet 1280-d) and what the metrics read in use:

    nice -n 10 .venv/bin/python benchmarks/interval_coverage.py --space rand --sizes 90 250 500 --draws 200

``--pool N`` embeds N dataset images and N / 4 of the variant once and draws every set from them without replacement
(``PooledSpace``): the trained space's cells at n = 500 in minutes instead of hours, at the price of a finite
population (a draw of 2n from N has its spread shrunk by 1 - 2n / N in variance).
"""

from __future__ import annotations

import argparse
import itertools
import time
from functools import partial

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


def shuffled(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """``rows`` in a random order. A mixture's variant images must not sit at fixed places: the split halves are
    the same for every draw (``bs.SEED``, as every model of a real evaluation shares them), so with the variant
    images always last, how evenly the fixed halves cut the last k places was the same in every draw, and the
    split variances of every cell came out too low or too high by a fixed amount (at n = 500 the 50 halves cut
    the last 37 places with a variance of 6.2 against the 8.6 of random halves: FD's interval 0.82-0.86x wide).
    A generator's samples are exchangeable; in order they are not (benchmarks/RESULTS.md, 2026-12-07, seventh
    session)."""
    return rows[rng.permutation(len(rows))]


class RenderedSpace:
    """Features, in an installed feature space, of ``shapes`` images rendered fresh for every call: independent
    draws from the dataset's distribution and from a variant of it: blurred (a Gaussian of 1 px sd, as a VAE's
    samples are) or with one part left unpainted."""

    CHUNK = 500  # images rendered and embedded at once

    def __init__(self, name: str, variant: str, omit_slot: int = 3, image_size: int = 32, seed: int = 0):
        from genbench import registry
        from genbench.metrics.core.features import space_extractor
        from genbench.metrics.core.weights import WeightsPolicy, resolve

        space = registry.get_space(name)()
        weights = resolve(space, WeightsPolicy(offline=True), echo=lambda *a: None)
        self.extractor = space_extractor(space, weights, "cpu")
        if self.extractor is None:
            raise SystemExit(f"the {name} space is not available here: {weights.reason}")
        self.name, self.dims, self.variant, self.omit, self.size = name, space.dims, variant, omit_slot, image_size
        self.seed, self.seeds = seed, itertools.count(seed * 1_000_000)  # every render its own stream

    def features(self, n: int, other: bool = False) -> np.ndarray:
        """n images' features: the dataset's, or (``other``) the variant's."""
        from torchvision.transforms.functional import gaussian_blur

        from genbench.datasets.shapes import render_images

        out = []
        for i in range(0, n, self.CHUNK):
            omit = self.omit if other and self.variant == "omit" else None
            images, _ = render_images(min(self.CHUNK, n - i), self.size, next(self.seeds), omit_slot=omit)
            x = torch.from_numpy(images).float() / 127.5 - 1
            out.append(self.extractor(gaussian_blur(x, [5, 5], [1.0, 1.0]) if other and omit is None else x))
        return np.concatenate(out) if out else np.empty((0, self.dims))

    def mixture(self, rng: np.random.Generator, n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
        """(n real, n generated): each generated image from the variant with probability p, at a random place
        (``shuffled``)."""
        k = int((rng.random(n) < p).sum())
        return self.features(n), shuffled(rng, np.concatenate([self.features(n - k), self.features(k, other=True)]))


class PooledSpace:
    """``RenderedSpace``'s features embedded once and drawn from: a pool of ``size`` dataset images and
    ``size // 4`` of the variant (cached in ``cache``, an .npz named by space, variant, sizes and seed), each draw
    taking its images without replacement. The population is then the pool (the truth an interval should hold is
    the mean over draws, as with fresh renders); a draw of 2n dataset images from a pool of N has its spread
    shrunk by the finite-population factor 1 - 2n / N in variance (0.95 at n = 500 of 20,000), which a reader
    should set against the widths printed. What makes the trained space's cells at n = 500 affordable on a CPU
    (rendering and embedding 1,000 fresh images a draw is about 30 s)."""

    def __init__(self, rendered: RenderedSpace, size: int, cache: str):
        from pathlib import Path

        name = f"pool-{rendered.name}-{rendered.variant}-{size}-{rendered.size}px-seed{rendered.seed}.npz"
        path = Path(cache) / name
        if path.exists():
            with np.load(path) as z:
                self.real, self.other = z["real"], z["other"]
        else:
            self.real, self.other = rendered.features(size), rendered.features(size // 4, other=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, real=self.real, other=self.other)
            tmp.replace(path)
        self.name, self.dims, self.size = rendered.name, rendered.dims, rendered.size
        self.rng = np.random.default_rng([size, 3])

    def features(self, n: int, other: bool = False) -> np.ndarray:
        """n features from the dataset's pool or (``other``) the variant's, without replacement."""
        pool = self.other if other else self.real
        return pool[self.rng.permutation(len(pool))[:n]]

    def mixture(self, rng: np.random.Generator, n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
        """(n real, n generated) as ``RenderedSpace.mixture``, the images drawn from the pools."""
        k = int((rng.random(n) < p).sum())
        pick = rng.permutation(len(self.real))[:2 * n - k]
        other = self.other[rng.permutation(len(self.other))[:k]]
        return self.real[pick[:n]], shuffled(rng, np.concatenate([self.real[pick[n:]], other]))


def kid_value(real: np.ndarray, fake: np.ndarray) -> float:
    """The unbiased MMD² (KID's cubic kernel) of the whole sets."""
    return float(bs.kernel_replicates(real, fake)(np.ones((1, len(real))), np.ones((1, len(fake))))[0])


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
            value = kid_value(x, y)
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


def summary_cells(rows: list[tuple]) -> str:
    """``summarise`` as the table's last six cells."""
    sd, ow, oc, nw, nc, low, high = summarise(rows)
    return (f"{sd:.3g} | {ow:.2f} | {100 * oc:.1f} % | {nw:.2f} | {100 * nc:.1f} % | {100 * low:.1f} / "
            f"{100 * high:.1f} % |")


SUMMARY_COLUMNS = ["true sd", "old width/true", "old coverage", "new width/true", "new coverage", "new low / high"]


def print_head(draws: int, setting: str, columns: list[str]) -> None:
    """The preamble (draws, coverage SE, ``setting``) and the table header: ``columns``, then ``summary_cells``'."""
    print(f"{draws} draws per cell (coverage SE {100 * np.sqrt(0.95 * 0.05 / draws):.1f} %); {setting}; coverage of "
          f"E[value]\n")
    cols = columns + SUMMARY_COLUMNS
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))


def cell_rows(draw, draws: int, metrics: list[str]) -> dict[str, list]:
    """{metric: one_draw's row per draw}, ``draw()`` giving each draw's (real, generated) features."""
    cells: dict[str, list] = {}
    for _ in range(draws):
        for metric, row in one_draw(*draw(), metrics).items():
            cells.setdefault(metric, []).append(row)
    return cells


def space_cells(args) -> None:
    """The coverage table in a feature space: mixtures of rendered ``shapes`` images (module notes)."""
    space = RenderedSpace(args.space, args.variant, args.omit_slot, seed=args.seed)
    if args.pool:
        space = PooledSpace(space, args.pool, args.pool_cache)
    rng = np.random.default_rng([args.seed, 7])
    reference = kid_value(space.features(2000), space.features(min(2000, args.pool // 4) if args.pool else 2000,
                                                                 other=True))
    variant = f"leaves slot {args.omit_slot} out" if args.variant == "omit" else "is blurred (1 px)"
    print_head(args.draws, f"space {space.name} ({space.dims}-d), shapes at {space.size} px, the variant {variant} "
               f"(KID between the two: {reference:.4g}); p set so that p² x that is {args.small:g} (small) or "
               f"{args.clear:g} (clear) KID sds at equality",
               ["metric", "n", "distance (p)", "excess / sd at equality"])
    factors = {"0": 0.0, "small": args.small, "clear": args.clear}
    for n in args.sizes:
        at_zero: dict[str, tuple[float, float]] = {}
        for name in ["0"] + [x for x in args.distances if x != "0"]:
            t0 = time.perf_counter()
            p = 0.0 if name == "0" else min(1.0, float(np.sqrt(factors[name] * at_zero["kid"][1] / reference)))
            metrics = sorted(set(args.metrics) | {"kid"})
            cells = cell_rows(partial(space.mixture, rng, n, p), args.draws, metrics)
            for metric, rows in cells.items():
                values = np.array([r[0] for r in rows])
                if name == "0":
                    at_zero[metric] = (float(values.mean()), float(values.std(ddof=1)))
                if metric not in args.metrics or name not in args.distances:
                    continue
                excess = (values.mean() - at_zero[metric][0]) / at_zero[metric][1]
                print(f"| {metric} | {n} | {name} ({p:.3f}) | {excess:.1f} | {summary_cells(rows)}", flush=True)
            print(f"<!-- {space.name} n {n} {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)


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
    p.add_argument("--space", help="a feature space's features of rendered shapes images instead of Gaussian ones")
    p.add_argument("--variant", choices=("blur", "omit"), default="blur", help="how the mixture's other images "
                   "differ (--space): blurred, or with a part left unpainted")
    p.add_argument("--omit-slot", type=int, default=3, help="the part --variant omit leaves unpainted")
    p.add_argument("--pool", type=int, help="with --space: embed this many images once and draw from them "
                   "(PooledSpace) instead of rendering fresh ones for every draw")
    p.add_argument("--pool-cache", default=".cache", help="where --pool keeps the embedded pool")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.space:
        with torch.no_grad():
            space_cells(args)
        return
    print_head(args.draws, f"B = {bs.B} splits (KID, CMMD), FD {bs.B_FRECHET} ({bs.FRECHET_QUARTERS} quartered); "
               f"distances in sqrt(d/n): small {args.small:g}, clear {args.clear:g}; generated set differing by "
               f"{args.shift!r}", ["metric", "d", "n", "distance (delta)"])
    factors = {"0": 0.0, "small": args.small, "clear": args.clear}
    for d in args.dims:
        for n in args.sizes:
            for name in args.distances:
                delta = factors[name] * np.sqrt(d / n)
                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, d, n, int(factors[name] * 1000)])
                cells = cell_rows(partial(features, rng, n, d, delta, args.shift), args.draws,
                                  args.metrics)
                for metric, rows in cells.items():
                    print(f"| {metric} | {d} | {n} | {name} ({delta:.2f}) | {summary_cells(rows)}", flush=True)
                print(f"<!-- d {d} n {n} {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()

"""Which split-half interval for KID, CMMD and FD (issue 29, item 10)? The variants tried when the plug-in split-half
interval fell short between equality and a clear difference, on the same draws and splits (Gaussian features
of benchmarks/interval_coverage.py, delta in units of the average feature sd as there before the sqrt(d/n)
scale). Per draw: T the value, d_b = T(half 1) - T(half 2) over B splits (Var(T at n/2) = mean d² / 2 = 2A + 4V,
A the first-order and V the degenerate part of Var(T at n)), the quarters of a quarter of the splits, and the
swapped halves (real half 1 + generated half 2 against real half 2 + generated half 1: a null at n, whose
variance is V and, for FD, whose mean is the value at equality, beta).

- ``plug-in``: value ± z sd, sd² extrapolated from halves and quarters by a/m + b/(m(m-1)) (the interval before,
  with normal quantiles instead of the replicates' percentiles);
- ``plug-in, log`` (FD): the same sd on the log scale, value x exp(± z sd / value) (FD >= 0 and right-skewed: a
  delta-method interval of log T, wider above than below);
- ``swap Wald``: value ± z sqrt(Â + V̂), V̂ from the swaps, Â = max(mean d²/4 - 2V̂, 0);
- ``score, ratio``: every θ with (T - θ)² <= z² (V̂ + kappa (θ - beta)+), kappa = Â / max(T - beta, z sqrt(Â + V̂));
- ``score, Rayleigh``: the same with kappa = (mean d² / 4) / P, P the plug-in squared distance with the noise in it
  (KID: the biased MMD²; FD: the value): what ``kernel_interval`` uses;
- ``stabilised, Rayleigh``: the same variance law, V̂ + kappa θ, but the interval on the scale sqrt(u + V̂/kappa),
  where that variance does not grow with θ (``bs.stabilised_bounds``, what ``frechet_interval`` uses for FD's mean
  term);
- ``stabilised, ratio``: the same scale with the ratio's kappa, Â / max(T - beta, z sqrt(Â + V̂)): the first-order
  variance with the degenerate part taken out over the unbiased distance (the Rayleigh quotient's numerator and
  denominator both hold the noise's share, which pulls kappa toward the noise's own quotient);
- ``stabilised, larger``: the same scale with the larger of the two kappas;
- ``stabilised, inflated``: the Rayleigh numerator (noise's share kept) over the ratio's denominator (the unbiased
  distance, floored): a slope that errs high, most where the value came out low;
- ``stabilised, midway``: half way between the ratio's numerator and the inflated one's (Var(T at n/2) / 2 - V̂ =
  Â + V̂, half the noise's share kept) over the same floored denominator;
- ``stabilised, oracle`` (KID, CMMD; cells after a delta = 0 cell): the same law with its two numbers known, V0 the
  values' variance over the equality cell's draws and kappa = (this cell's variance - V0) / (its mean): the ceiling
  of the law itself, what a perfect estimate of V0 and kappa would reach;
- ``ncx2, inflated`` and ``ncx2, oracle`` (KID, CMMD): the same two numbers, but the value's distribution taken as
  a shifted, scaled noncentral chi-square instead of a normal on the square-root scale (``ncx2_bounds``): exact
  where one direction carries the whole difference, the normal's limit where many do. Its lower end is never
  below 0 (θ = MMD² >= 0), so at equality it cannot hold a truth that is the draws' mean when that mean came out
  below 0;
- ``plug-in, eighths`` (FD): value ± z sd, sd² fitted to the variances at n/2, n/4 and n/8 (the quartered splits
  also cut in eighths) by weighted non-negative least squares (``fitted_variance``).
- ``frechet_interval (now)`` (FD): what the metric computes (``bs.frechet_interval``: the mean term's variance law
  on the stabilised scale, the covariance term's spread from its own halves and quarters), beside the variants
  that take the whole distance's law with its value at equality from the swapped halves (``stabilised, *``).

Coverage of E[value] over the draws, width over 2 x 1.96 x the true sd, the share of intervals wholly below /
above, and the correlation of the width with the value over the draws (a plug-in width that shrinks with the
value misses from below). ``--metric`` takes several, each on the same draws:

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/interval_variants.py --metric kid --n 250 --d 64

``--space rand`` (any installed space) draws a network's features of rendered ``shapes`` images instead, the
generated set a mixture with a share ``--delta`` of blurred images (interval_coverage.py's ``--space`` cells).
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from extrapolation_bias import law, linear_weights
from interval_coverage import SHIFTS, PooledSpace, RenderedSpace, features

from genbench.metrics.cmmd import scaled_rbf
from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.cmmd import l2_normalize
from genbench.metrics.core.frechet import feature_stats, frechet_distance

Z = bs.Z


def one_draw(x: np.ndarray, y: np.ndarray, metric: str, b: int) -> dict:
    n = len(x)
    sizes = {"real": n, "generated": n}
    quarters = min(b, bs.FRECHET_QUARTERS) if metric == "fd" else bs.quarter_splits(b)  # as the metrics do
    masks = bs.split_masks(sizes, b, quarters=quarters)
    hr, hg = masks[0][:2 * b], masks[1][:2 * b]
    swap_r, swap_g = np.concatenate([hr[:b], hg[b:]], 1), np.concatenate([hr[b:], hg[:b]], 1)
    if metric in ("kid", "cmmd"):
        kernel = bs.cubic_kernel if metric == "kid" else scaled_rbf
        if metric == "cmmd":
            x, y = l2_normalize(x), l2_normalize(y)
        stat = bs.kernel_replicates(x, y, kernel=kernel)
        ks = bs.kernel_splits(x, y, [hr, hg], kernel=kernel)
        t, swaps, value, plug, beta = stat(*masks), ks.swap, ks.whole_u, ks.whole_v, 0.0
    else:
        stat = bs.frechet_replicates(x, y)
        pooled = np.vstack([x, y])
        swaps = bs.frechet_replicates(pooled, pooled)(swap_r, swap_g)
        t, value = stat(*masks), frechet_distance(*feature_stats(x), *feature_stats(y))
        plug, beta = value, float(swaps.mean())
    half = t[:b] - t[b:2 * b]
    v_half = float(np.mean(half ** 2)) / 2
    v_quarter = float(np.var(t[2 * b:].reshape(4, -1), axis=0, ddof=1).mean())
    out = {"metric": metric, "T": value, "v_half": v_half, "v_quarter": v_quarter, "null": float(np.var(swaps, ddof=1)),
           "beta": beta, "plug": plug, "n": n, "splits": b, "quarters": quarters}
    if metric == "fd":  # what the metric computes; and the quartered splits' permutations also cut in eighths
        iv = bs.frechet_interval(value, x, y)  # (7 df each), for the 3-size fit
        out["now"] = (iv.lo, iv.hi)
        out["v_eighth"] = float(np.var(stat(*eighth_masks(sizes, b, quarters)).reshape(8, -1), axis=0, ddof=1).mean())
    return out


def eighth_masks(sizes: dict[str, int], b: int, quarters: int) -> list[np.ndarray]:
    """The first ``quarters`` of ``split_masks``' permutations (``bs.split_permutations``) cut into eight blocks of
    n // 8: 0/1 rows [eighth 1 (quarters); ...; eighth 8]."""
    out = []
    for n, perm in zip(sizes.values(), bs.split_permutations(sizes, b), strict=True):
        few, e = perm[:quarters], n // 8
        out.append(np.concatenate([bs.counts(few[:, k * e:(k + 1) * e], n) for k in range(8)]))
    return out


def fitted_variance(r: dict) -> float:
    """Var at n from the variances at n/2, n/4 and n/8 by a/m + b/(m(m-1)) with a, b >= 0: least squares weighted
    by each estimate's degrees of freedom over its squared size (a variance estimate's variance is 2 v² / df)."""
    from scipy.optimize import nnls

    n = int(r["n"])
    rows, vals = [], []
    for k, v, df in ((n // 2, r["v_half"], r["splits"]), (n // 4, r["v_quarter"], 3 * r["quarters"]),
                     (n // 8, r["v_eighth"], 7 * r["quarters"])):
        w = np.sqrt(df) / max(v, 1e-300)
        rows.append([w / k, w / (k * (k - 1))])
        vals.append(w * v)
    (a, b2), _ = nnls(np.array(rows), np.array(vals))
    return a / n + b2 / (n * (n - 1))


def satterthwaite_quantile(v_half: float, v_quarter: float, n: int, splits: int, quarters: int) -> float:
    """Student's t quantile for value ± t sd, sd² = c1 v_half + c2 v_quarter (extrapolated_variance's weights),
    with Satterthwaite's degrees of freedom: v_half has one per split, v_quarter three per quartered split."""
    from scipy import stats

    (x2, y2), (x4, y4) = law(n // 2), law(n // 4)
    det = x2 * y4 - x4 * y2
    a, b = (v_half * y4 - v_quarter * y2) / det, (x2 * v_quarter - x4 * v_half) / det
    if a < 0 or b < 0:
        df = splits
    else:
        c1, c2 = linear_weights(n)
        df = (c1 * v_half + c2 * v_quarter) ** 2 / ((c1 * v_half) ** 2 / splits
                                                   + (c2 * v_quarter) ** 2 / (3 * quarters))
    return float(stats.t.ppf(0.975, df))


def intervals(r: dict) -> dict[str, tuple[float, float]]:
    t, u, null, beta = r["T"], r["T"] - r["beta"], r["null"], r["beta"]
    a = max(r["v_half"] / 2 - 2 * null, 0.0)
    sd = np.sqrt(bs.extrapolated_variance(r["v_half"], r["v_quarter"], int(r["n"])))
    ratio = a / max(u, Z * np.sqrt(a + null))
    rayleigh = r["v_half"] / 2 / r["plug"] if r["plug"] > 0 else 0.0
    inflated = r["v_half"] / 2 / max(u, Z * np.sqrt(a + null))
    midway = (r["v_half"] / 2 - null) / max(u, Z * np.sqrt(a + null))
    log_half = Z * sd / t if t > 0 else 0.0
    tq = satterthwaite_quantile(r["v_half"], r["v_quarter"], int(r["n"]), r["splits"], r["quarters"])
    return {"plug-in": (t - Z * sd, t + Z * sd),
            # FD only: an MMD² estimate can be negative, where a log scale has no meaning
            **({"plug-in, log": (t * np.exp(-log_half), t * np.exp(log_half))} if r["metric"] == "fd" else {}),
            "plug-in, t": (t - tq * sd, t + tq * sd),
            "swap Wald": (t - Z * np.sqrt(a + null), t + Z * np.sqrt(a + null)),
            "score, ratio": tuple(beta + e for e in bs.score_bounds(u, null, ratio)),
            "score, Rayleigh": tuple(beta + e for e in bs.score_bounds(u, null, rayleigh)),
            "stabilised, Rayleigh": tuple(beta + e for e in bs.stabilised_bounds(u, null, rayleigh)),
            "stabilised, ratio": tuple(beta + e for e in bs.stabilised_bounds(u, null, ratio)),
            "stabilised, larger": tuple(beta + e for e in bs.stabilised_bounds(u, null, max(ratio, rayleigh))),
            "stabilised, inflated": tuple(beta + e for e in bs.stabilised_bounds(u, null, inflated)),
            **({"ncx2, inflated": tuple(beta + e for e in ncx2_bounds(u, null, inflated))}
               if r["metric"] != "fd" else {}),  # KID, CMMD: FD's mean term has its own law
            "stabilised, midway": tuple(beta + e for e in bs.stabilised_bounds(u, null, midway)),
            **({"plug-in, eighths": (t - Z * sd8, t + Z * sd8)} if (sd8 := eighths_sd(r)) is not None else {}),
            **({"frechet_interval (now)": r["now"]} if "now" in r else {})}


def ncx2_bounds(u: float, null_var: float, slope: float) -> tuple[float, float]:
    """The interval of θ = E[u] >= 0 when u + c is lam times a noncentral chi-square with nu degrees of freedom and
    noncentrality θ / lam, its three numbers matched to the variance law Var(u) = null_var + slope θ and E[u] = θ:
    lam = slope / 4 (Var = lam² (2 nu + 4 θ / lam)), nu = 8 null_var / slope², c = lam nu = 2 null_var / slope.
    A quadratic form of Gaussian vectors is exactly such a sum; with one direction carrying the difference nu
    is small and the normal on the square-root scale (``bs.stabilised_bounds``, offset null_var / slope) is not
    its shape. Bounds by inverting the noncentral chi-square's distribution function in θ."""
    from scipy import optimize, stats

    if slope <= 0 or null_var <= 0:
        return u - Z * float(np.sqrt(null_var)), u + Z * float(np.sqrt(null_var))
    lam, nu = slope / 4, 8 * null_var / slope ** 2
    x = (u + 2 * null_var / slope) / lam
    if x <= 0:
        return 0.0, 0.0

    def excess(ncp: float, q: float) -> float:  # decreasing in ncp
        return float(stats.ncx2.cdf(x, nu, ncp) if ncp > 0 else stats.chi2.cdf(x, nu)) - q

    ends = []
    for q in (0.975, 0.025):  # the lower end, then the upper
        if excess(0.0, q) <= 0:
            ends.append(0.0)
            continue
        top = max(x, 1.0)
        while excess(top, q) > 0:
            top *= 2
        ends.append(lam * optimize.brentq(excess, 0.0, top, args=(q,), xtol=1e-10 * top))
    return ends[0], ends[1]


def eighths_sd(r: dict) -> float | None:
    """The plug-in sd from the three-size fit, where the draw has eighths (FD)."""
    return float(np.sqrt(fitted_variance(r))) if "v_eighth" in r else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--metric", choices=["kid", "cmmd", "fd"], nargs="+", default=["kid"],
                   help="one or more, each on the same draws")
    p.add_argument("--n", type=int, default=250)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--delta", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0])
    p.add_argument("--shift", choices=SHIFTS, default="aligned", help="how the Gaussian generated set differs "
                   "(interval_coverage.features)")
    p.add_argument("--draws", type=int, default=400)
    p.add_argument("--splits", type=int, default=100)
    p.add_argument("--space", help="a feature space's features of rendered shapes images (interval_coverage.py "
                   "--space); --delta is then the share p of the blurred variant among the generated images")
    p.add_argument("--pool", type=int, help="with --space: embed this many images once and draw from them "
                   "(interval_coverage.PooledSpace) instead of rendering fresh ones for every draw")
    p.add_argument("--pool-cache", default=".cache", help="where --pool keeps the embedded pool")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    space = RenderedSpace(args.space, "blur") if args.space else None
    if space and args.pool:
        space = PooledSpace(space, args.pool, args.pool_cache)
    where = f"space {args.space} ({space.dims}-d), delta = p" if space else f"d = {args.d}, shift {args.shift}"
    if args.pool:
        where += f", drawn from a pool of {args.pool:,} images"
    print(f"{', '.join(args.metric)}, n = {args.n}, {where}, {args.draws} draws, {args.splits} splits (coverage SE "
          f"{100 * np.sqrt(0.95 * 0.05 / args.draws):.1f} %)\n")
    print("| metric | delta | true sd | variant | width/true | coverage | below / above | corr(value, width) |\n"
          "|---|---|---|---|---|---|---|---|")
    null_var: dict[str, float] = {}  # per metric, the values' variance over the draws at delta = 0
    for delta in args.delta:
        rng = np.random.default_rng([11, args.n, args.d, int(delta * 100)])
        draw = (partial(space.mixture, rng, args.n, delta) if space
                else partial(features, rng, args.n, args.d, delta, args.shift))
        rows: dict[str, list] = {m: [] for m in args.metric}
        for _ in range(args.draws):
            x, y = draw()
            for metric in args.metric:
                rows[metric].append(one_draw(x, y, metric, args.splits))
        for metric, got in rows.items():
            values = np.array([r["T"] for r in got])
            truth, sd = values.mean(), values.std(ddof=1)
            per = [intervals(r) for r in got]
            if delta == 0:
                null_var[metric] = sd ** 2
            if metric in null_var and metric != "fd" and delta > 0:  # the law with its true V0 and kappa
                kappa = max(sd ** 2 - null_var[metric], 0.0) / truth
                for r, q in zip(got, per, strict=True):
                    q["stabilised, oracle"] = bs.stabilised_bounds(r["T"], null_var[metric], kappa)
                    q["ncx2, oracle"] = ncx2_bounds(r["T"], null_var[metric], kappa)
            for name in per[0]:
                lo, hi = np.array([q[name][0] for q in per]), np.array([q[name][1] for q in per])
                print(f"| {metric} | {delta:g} | {sd:.3g} | {name} | {np.mean(hi - lo) / (2 * Z * sd):.2f} | "
                      f"{100 * np.mean((lo <= truth) & (truth <= hi)):.1f} % | {100 * np.mean(hi < truth):.1f} / "
                      f"{100 * np.mean(lo > truth):.1f} % | {np.corrcoef(values, hi - lo)[0, 1]:.2f} |", flush=True)

if __name__ == "__main__":
    main()

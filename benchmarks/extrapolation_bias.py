"""How biased is the split-half variance extrapolation (``bootstrap.extrapolated_variance``) that the Fréchet
distance's covariance term still uses (issue 29, item 10)? The variances at n/2 and n/4 are estimated from 50 halves'
differences (1 df each) and 25 quartered splits (3 df each), so they are scaled chi-square draws around their true
values; a/m + b/(m(m-1)) is fitted to them with a, b >= 0, and the clamp is what biases the result: upwards where
the truth is all degenerate (b, at equality), downwards where it is all first-order (a, clearly apart). Printed per
share of the degenerate part in the true variance at n: the mean of the extrapolated variance over the truth, its
relative sd, and the mean of its square root (what the interval's width follows); beside it the unclamped linear
extrapolation (c1 v_half + c2 v_quarter, unbiased, but negative in some draws).

    .venv/bin/python benchmarks/extrapolation_bias.py --n 2048
"""

from __future__ import annotations

import argparse

import numpy as np

from genbench.metrics.core import bootstrap as bs


def law(k: int) -> tuple[float, float]:
    """The two rates of a degree-2 U-statistic's variance at k units (``bs.extrapolated_variance``'s law)."""
    return 1 / k, 1 / (k * (k - 1))


def linear_weights(n: int) -> tuple[float, float]:
    """(c1, c2): the unclamped law carries the variances at n // 2 and n // 4 to n as c1 v_half + c2 v_quarter."""
    (x2, y2), (x4, y4), (xn, yn) = law(n // 2), law(n // 4), law(n)
    det = x2 * y4 - x4 * y2
    return (y4 * xn - x4 * yn) / det, (x2 * yn - y2 * xn) / det


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--draws", type=int, default=20000)
    args = p.parse_args()
    n = args.n
    df_half, df_quarter = bs.B_FRECHET, 3 * bs.FRECHET_QUARTERS
    (x2, y2), (x4, y4) = law(n // 2), law(n // 4)
    c1, c2 = linear_weights(n)
    rng = np.random.default_rng(0)
    print(f"n = {n}, {df_half} df at n/2, {df_quarter} at n/4, {args.draws} draws; true variance at n = 1\n")
    print("| degenerate share | Var(n/4) / Var(n/2) | clamped fit: mean | sd | mean sqrt | linear: mean | sd | "
          "negative |\n|---|---|---|---|---|---|---|---|")
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        a, b = (1 - share) * n, share * n * (n - 1)
        v_half = (a * x2 + b * y2) * rng.chisquare(df_half, args.draws) / df_half
        v_quarter = (a * x4 + b * y4) * rng.chisquare(df_quarter, args.draws) / df_quarter
        fit = np.array([bs.extrapolated_variance(u, v, n) for u, v in zip(v_half, v_quarter, strict=True)])
        lin = c1 * v_half + c2 * v_quarter
        print(f"| {share:.2f} | {(a * x4 + b * y4) / (a * x2 + b * y2):.2f} | {fit.mean():.3f} | {fit.std():.2f} | "
              f"{np.sqrt(fit).mean():.3f} | {lin.mean():.3f} | {lin.std():.2f} | {100 * np.mean(lin < 0):.1f} % |")


if __name__ == "__main__":
    main()

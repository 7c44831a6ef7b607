"""Where does KID's interval fall short between equality and a clear difference (issue 29, item 10)? Its law,
Var(T) = V0 + kappa θ, needs two numbers; ``kernel_interval`` estimates V0 from the swapped halves and kappa as the
Rayleigh quotient (Var(T at n/2) / 2) / V (V the biased MMD²). Here, on Gaussian features with a known answer
(interval_coverage.py's ``features``), both estimates are set against the truth from the draws themselves (V0 =
the values' variance at equality, kappa = (the cell's variance - V0) / its mean), and the interval is taken four
ways on the same draws: both estimated (what the metric does), both true, one of each. Prints the estimates'
means against the truth, their correlation with the value, and each way's coverage of E[T] with its misses
below / above and its width over the true spread:

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_law.py --n 2048 --d 64 --draws 300
"""

from __future__ import annotations

import argparse

import numpy as np
from interval_coverage import features

from genbench.metrics.core import bootstrap as bs


def estimates(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float, float]:
    """(T, V0 estimate, kappa estimate) as ``bs.kernel_interval`` takes them."""
    masks = [m[:2 * bs.B] for m in bs.split_masks({"real": len(x), "generated": len(y)}, bs.B, seed)]
    ks = bs.kernel_splits(x, y, masks)
    return ks.whole_u, *bs.kernel_law(ks)


def coverage(u: np.ndarray, v0, kappa, theta: float, sd: float) -> str:
    lo, hi = np.array([bs.stabilised_bounds(a, b, c) for a, b, c in
                       zip(u, np.broadcast_to(v0, u.shape), np.broadcast_to(kappa, u.shape), strict=True)]).T
    return (f"{100 * np.mean((lo <= theta) & (theta <= hi)):.1f} % | {100 * np.mean(hi < theta):.1f} / "
            f"{100 * np.mean(lo > theta):.1f} % | {np.mean(hi - lo) / (2 * bs.Z * sd):.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--small", type=float, default=2.0, help="the distance in units of sqrt(d / n), as there")
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng([a.seed, a.n, a.d])
    cells = {}
    for delta in (0.0, a.small * np.sqrt(a.d / a.n)):
        cells[delta] = np.array([estimates(*features(rng, a.n, a.d, delta), int(rng.integers(1 << 31)))
                                 for _ in range(a.draws)])
    v0 = cells[0.0][:, 0].var(ddof=1)
    print(f"KID, n = {a.n}, d = {a.d}, {a.draws} draws a cell; true V0 {v0:.3g}\n")
    print("| delta | E[T] | true sd | V0 est. (mean) | kappa est. (mean) | true kappa | corr(kappa est., T) | "
          "way | coverage | below / above | width/true |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for delta, r in cells.items():
        u, null, kappa = r.T
        theta, sd = u.mean(), u.std(ddof=1)
        true_kappa = max(sd ** 2 - v0, 0.0) / theta if delta > 0 else float("nan")
        ways = {"both estimated": (null, kappa)}
        if delta > 0:
            ways |= {"both true": (v0, true_kappa), "true V0": (v0, kappa), "true kappa": (null, true_kappa)}
        for way, (w0, wk) in ways.items():
            print(f"| {delta:.3g} | {theta:.3g} | {sd:.3g} | {null.mean():.3g} | {kappa.mean():.3g} | "
                  f"{true_kappa:.3g} | {np.corrcoef(kappa, u)[0, 1]:.2f} | {way} | {coverage(u, w0, wk, theta, sd)} |",
                  flush=True)


if __name__ == "__main__":
    main()

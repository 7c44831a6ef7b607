"""FD's mean-term slope, debiased? ``frechet_interval`` takes the slope of the mean term's variance law as 4 q, q =
Δ̂ᵀΩΔ̂ / Δ̂ᵀΔ̂ the Rayleigh quotient along the observed difference, whose numerator and denominator both hold the
noise's share (E Δ̂ᵀΩΔ̂ = ΔᵀΩΔ + tr Ω², E Δ̂ᵀΔ̂ = ||Δ||² + tr Ω), so q leans toward the noise's own quotient. The
variant takes both shares out, q = max(Δ̂ᵀΩΔ̂ - tr Ω², 0) / max(M - tr Ω, z sd), the floor as interval_variants.py's
ratio; ``inflated`` keeps the numerator's share and takes the denominator's out (a slope that errs high). All on
the same draws and splits (interval_coverage.py's Gaussian features, ``--shift`` as there):
coverage of E[FD], misses below / above, width over the true spread:

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fd_slope.py --shift top --n 2048 --draws 200
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from interval_coverage import SHIFTS, features

from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.frechet import feature_stats, frechet_distance

RAYLEIGH = bs.mean_term


def debiased(real, fake, device="cpu") -> bs.MeanTerm:
    """``bs.mean_term`` with the slope's noise shares taken out."""
    mt = RAYLEIGH(real, fake, device)
    along, tr_omega2 = mt.slope * mt.m / 4, mt.null_var / 2
    first = max(along - tr_omega2, 0.0)
    q = first / max(mt.excess, bs.Z * float(np.sqrt(mt.null_var + 4 * first)))
    return dataclasses.replace(mt, slope=4 * q)


def inflated(real, fake, device="cpu") -> bs.MeanTerm:
    """``bs.mean_term`` with the noise's share kept in the numerator and taken out of the denominator, q =
    Δ̂ᵀΩΔ̂ / max(M - tr Ω, z sd): a slope that errs high (E Δ̂ᵀΩΔ̂ / ||Δ||² >= the true q), most where the value came
    out low (KID's ``stabilised, inflated`` in interval_variants.py)."""
    mt = RAYLEIGH(real, fake, device)
    along = mt.slope * mt.m / 4
    q = along / max(mt.excess, bs.Z * float(np.sqrt(mt.null_var + 4 * max(along - mt.null_var / 2, 0.0))))
    return dataclasses.replace(mt, slope=4 * q)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shift", choices=SHIFTS, default="top")
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--factors", type=float, nargs="+", default=[0, 2, 8], help="distances in units of sqrt(d/n)")
    p.add_argument("--draws", type=int, default=200)
    a = p.parse_args()
    print(f"FD, shift {a.shift}, n = {a.n}, d = {a.d}, {a.draws} draws a cell\n")
    print("| distance (delta) | true sd | slope | width/true | coverage | below / above |\n|---|---|---|---|---|---|")
    for f in a.factors:
        delta = f * np.sqrt(a.d / a.n)
        rng = np.random.default_rng([5, a.n, a.d, int(f * 100)])
        values, bounds = [], {"Rayleigh (now)": [], "debiased": [], "inflated": []}
        for i in range(a.draws):
            x, y = features(rng, a.n, a.d, delta, a.shift)
            values.append(frechet_distance(*feature_stats(x), *feature_stats(y)))
            for name, law in zip(bounds, (RAYLEIGH, debiased, inflated), strict=True):
                bs.mean_term = law
                r = bs.frechet_interval(values[-1], x, y, seed=i)
                bounds[name].append((r.lo, r.hi))
        bs.mean_term = RAYLEIGH
        truth, sd = np.mean(values), np.std(values, ddof=1)
        for name, b in bounds.items():
            lo, hi = np.array(b).T
            print(f"| {f:g} ({delta:.3f}) | {sd:.3g} | {name} | {np.mean(hi - lo) / (2 * bs.Z * sd):.2f} | "
                  f"{100 * np.mean((lo <= truth) & (truth <= hi)):.1f} % | {100 * np.mean(hi < truth):.1f} / "
                  f"{100 * np.mean(lo > truth):.1f} % |", flush=True)


if __name__ == "__main__":
    main()

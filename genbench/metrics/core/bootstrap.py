"""Bootstrap confidence intervals for the sample-based metrics: how much a value would move if the samples it
was computed from had been drawn again (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13:
percentile intervals; Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021, for
reporting intervals rather than bare means).

Two methods: the bootstrap for the statistics that are means or smooth functions of means over units, and
split halves for the feature-space distances (KID, FD, CMMD), whose bootstrap is too wide near equality.

- **What is resampled**: the units a value is an average or a functional of, each side of its own: generated
  samples and real images for the distribution distances (``swd``, ``fd_rand``/``fid``, ``kid_rand``/``kid``),
  images for the reconstruction errors (``mse``, ``lpips``), generated samples and training images for
  ``ncc``, the scored images for ``dissect``. Features and per-unit numbers already computed for the value are
  reused; nothing is extracted again.
- **Split halves** (``frechet_interval``, ``kernel_interval``; ``fd`` and ``kid`` in every space, ``cmmd``). Why
  not the bootstrap: near equality (where a verdict matters) KID is a degenerate U-statistic, and the Fréchet
  distance a quadratic functional of the same kind; a bootstrap world (the empirical distributions, with
  duplicates in every resample) is not at equality, so its replicates add a spread of the same order as the
  value's own (Arcones & Giné, "On the bootstrap of U and V statistics", Ann. Statist. 1992): measured
  (benchmarks/interval_coverage.py, benchmarks/RESULTS.md) the old intervals were 1.3-1.7x (KID) and 1.6-2.0x
  (FD) wider than the value's real spread at equality, covering 99-100 %. Each side is cut B times, by a random
  permutation, into two disjoint halves of n // 2 (subsampling without replacement, Politis & Romano, "Large
  sample confidence regions based on subsamples under minimal assumptions", Ann. Statist. 1994). Two disjoint
  halves are two *independent* samples of n/2 with no duplicates, so d = T(half 1) − T(half 2) has mean 0
  whatever T's bias at n/2 (the Fréchet distance's bias depends on the sample size only, and cancels) and
  E[d²] = 2 Var(T at n/2) exactly. Var(T_m) = A_m + V_m, a first-order part A ∝ 1/m that grows with the
  distance and a degenerate part V ∝ 1/m², all there is at equality (Hoeffding 1948), so Var(T at n/2) = 2A +
  4V at n; carried to n:

  - *Fréchet distances* (``frechet_interval``): FD = M + C, M = ||Δ̂||² the mean term, C the covariance term.
    C's variance at n: the four quarters of B // 4 of the splits give Var(C at n/4) (their sample variance, 3 df
    each) and a, b >= 0 in a/m + b/(m(m−1)) are fitted to the two sizes (``extrapolated_variance``; the rate
    estimated rather than assumed, as Bertail, Politis & Romano, JASA 1999, do from subsample spreads at several
    m; for the Fréchet distance that law is the delta method's, an approximation: d/m not small). M's variance
    is known in closed form (``MeanTerm``): Δ̂ ~ N(Δ, Ω), Ω = S_r/n_r + S_g/n_g, so Var(M) = 2 tr(Ω²) + 4 Δᵀ Ω Δ,
    taken as 2 tr(Ω²) + 4 q θ, θ = ||Δ||², q the Rayleigh quotient of Ω along the observed Δ̂. The variance of T
    then grows linearly with the unknown θ, and the interval comes from the scale sqrt(u + k) on which it does
    not (``stabilised_bounds``). The plug-in value ± 1.96 sd it replaced (sd² the whole distance's extrapolated
    split variance) took the first-order part at Δ̂, small exactly when the value came out low: 87.5-90.7 %
    coverage at n = 2,048 between equality and a clear difference, nearly every miss from below
    (benchmarks/RESULTS.md, where the variants tried on the way are too).
  - *MMD² (KID, CMMD)* (``kernel_interval``): V from the *swapped* halves, (real half 1 + generated half 2)
    against (real half 2 + generated half 1): two sets of n with the same composition, equally distributed
    whatever the models, so their MMD² is a draw of the null at n itself (a stratified permutation; no rate
    assumed), and free: every swapped pair's quadratic forms come from the products the halves need
    (``kernel_splits``). A plug-in interval value ± 1.96 sqrt(Var at the value) is too narrow between equality
    and a clear difference (it covered 83-89 % there): the first-order part is estimated at the observed
    distance, so it is small exactly when the value came out low, and the interval then misses the truth from
    below (the plug-in variance correlated 0.86 with the value; its noise is the data's, not the splits': with
    2000 splits it was as noisy as with 200). So the interval comes from a variance law, V + kappa θ at θ, and,
    as for the Fréchet distance's mean term, from the scale sqrt(u + k), k = V / kappa, on which that variance
    does not grow with θ (``stabilised_bounds``; longer above than below). The slope is (Var(T at n/2) / 2) /
    max(T, z sqrt(Â + V)) (``interval_slope``): the first-order variance with the degenerate part's share kept,
    over the unbiased distance, so that it errs high (by about 2V / θ). The Rayleigh quotient (Var(T at n/2) /
    2) / (biased MMD²) at the empirical witness, which the interval took until 2026-12-07 and the replicates
    still take, was 31-39 % low against the truth (its numerator and denominator both hold the noise's share)
    and fell with the value (correlation 0.76-0.81), so between equality and a clear difference the interval
    covered 87-93 %, missing below; with the slope that errs high, 93.5-99.5 % in every Gaussian cell at
    0.96-1.25x the real spread, 92.5-99 % in the trained space's features and 90-100 % in the random CNN's (200
    draws a cell; on 800-1,000 draws the short cells read 93.2-93.7 %, the law with true numbers 94.0-94.4 %,
    so the rest of their shortfall is the law's own at 90 per side); short where one direction
    carries the whole difference (89.6-90.1 %, the law with true numbers 92.8-93.4 %); it errs most where the
    value's spread does not grow with the distance at all (a difference along the narrowest features: 1.7x wide)
    (benchmarks/kernel_law.py, interval_variants.py, RESULTS.md).
    Until 2026-12-07 it was the score interval of the same law (Wilson's construction, ``score_bounds``: every
    θ the value does not reject at θ's own variance): right on Gaussian features (1.1-1.3x the real spread at
    equality), but in a network's own features 2.0x (KID) and 2.1x (CMMD) too wide at equality and 1.35-1.65x
    between equality and a clear difference (the random CNN's features of rendered `shapes` images, n = 90 and
    250; benchmarks/interval_coverage.py --space, RESULTS.md): there the slope estimated at equality, the
    noise's Rayleigh quotient, is large (non-negative ReLU features have a dominant direction), and the score
    interval's upper end grows as z² kappa, the stabilised one's as z² kappa / 4. Tried and not taken (same
    draws): a slope Â / T̂ (Â = Var(T at n/2) / 2 − 2V) gave 90 % between, the plug-in variance 87-91 %; for the
    Fréchet distance the Rayleigh slope of the whole distance was worse than the plug-in (its bias, mostly
    covariance noise, carries little first-order variance): there the quotient is taken of the mean term alone,
    in closed form.

  Replicate b is value + sd (d_b − mean d) / rms(d − mean d): sd the spread at the value (FD: sqrt(null + 4 q
  max(θ̂, 0)); MMD²: sqrt(V + kappa max(T, 0))), so two models' replicates difference as their values would
  under one variance each, paired by split.
- **Bootstrap** (``bootstrap``; every other metric): resampling with replacement, ``scipy.stats.bootstrap``.
- **B** = ``B`` (200) replicates; ``B_FRECHET`` (50) splits for the Fréchet distances, ``FRECHET_QUARTERS``
  (25) of them also cut in quarters, because their statistic needs two covariances and an eigendecomposition:
  at the `small` preset's 2048 per side the 100 splits (25 quartered) they had were 73 of the 83 interval
  seconds of a cached generator-only evaluation, 30 % of it (benchmarks/bootstrap_cost.py, RESULTS.md). 50
  splits raise the Monte Carlo spread of the width (its sd over 20 split seeds, same data) from 8-15 % to 13-18 %
  (measured at n = 500, d = 64 and 480); a paired verdict from 50 replicates can reach p = 1/50 at least. A
  MMD² split costs two statistics and a swapped pair from the same kernel products; a Fréchet split two
  statistics, and a quartered one four more. Efron & Tibshirani
  (1993, section 19.3) advise about 1000 replicates for percentile intervals (25-200 for a standard error): at
  200 the ends are the ~5th and ~195th replicate and carry Monte Carlo error of a few percent of the width,
  the price of storing the replicates with every record and of a cost within the evaluation's budget.
- **Interval** (the bootstrap's): the 95 % percentile interval (``scipy.stats.bootstrap``,
  ``method='percentile'``) of the replicates *re-centred on the value* (each replicate shifted by value − mean
  of the replicates). The shift
  removes the resampling bias of the replicates, which for biased estimators (a Fréchet distance from 90
  images) would otherwise put the whole interval above the value; the interval is the sampling spread of the
  value, not a correction of the estimator's own bias (a † value stays biased).
- **Pairing**: the resampling indices come from one fixed seed (``SEED``) and the real side is drawn first,
  so replicate b resamples the same real images for every model scored under the same protocol: the
  difference of two models' replicates is a paired bootstrap of their difference (the real side's share of
  the noise cancels). The generated side's indices are the same positions for every model too; models
  sampled from the same latents are then paired by latent, and for independent samples resampling pairs of
  positions is as valid as resampling each alone. Split halves pair the same way: replicate b of every model
  splits the same real images into the same halves, so d_b(A) − d_b(B) is the difference of A − B on two
  independent halves, whose square has mean 2 Var(A − B at n/2). The stored replicates are c_A d_b(A) and
  c_B d_b(B), so their difference spreads as A − B at n when c_A ≈ c_B (both models equally far from the real
  data: the close calls) and between the two models' own rates otherwise; tests/test_bootstrap.py checks the
  width of the paired difference's interval against the real spread of a difference (ratio 0.96 there for
  KID, 0.85 with the split-half replicates before the score interval).
- **Stored** in the score's ``extra``: ``ci`` [lo, hi], ``ci_level`` 0.95, ``boot`` the re-centred replicates
  to 6 significant digits (what ``genbench compare`` and the tables' best/tie rule difference), ``ci_n`` the
  resampled units and their counts, ``ci_seconds`` what the bootstrap cost. For split halves ``ci`` is the
  method's interval and ``boot`` the replicates scaled to the spread at the value: for MMD² the interval is
  longer above, the replicates are not.

Replicate statistics, each written for multiplicity matrices (row b: how often each unit was drawn), so B
replicates cost matrix products rather than B recomputations:
- means over units (``mean_replicates``): exact.
- Fréchet distance (``frechet_replicates``): exact, for a subset too; the covariance of a resample is the
  weighted covariance of the distinct points; Tr((S1 S2)^1/2) as the nuclear norm of A Bᵀ (A, B the weighted
  centred points) when there are fewer points than dimensions, else from a Cholesky factor of S1 (eigenvalues
  of Lᵀ S2 L), with the symmetric eigendecomposition of ``frechet`` as fallback. The split halves'
  (``frechet_subsets``) take a QR factor of A instead, which a singular S1 does not stop.
- KID (``kernel_replicates``; any kernel callable(x, y) -> matrix, the cubic one by default): the unbiased
  MMD² of each row's units over pairs of *distinct* original points (for 0/1 rows, a half or quarter, exactly
  the U-statistic of that subset), from the kernel matrices computed once in blocks; on the whole sets, not
  KID's 100 subsets (which for n <= 1000 are the whole sets). The split halves' statistics of KID and CMMD
  (``kernel_splits``): the halves, the swapped pairs and the whole sets from one pass over the kernel matrices.
- precision, recall, density, coverage (``prdc_intervals``, for the plugins of Naeem et al.'s metrics): means
  over points with the k-NN balls held fixed (precision and density over generated samples, recall and
  coverage over real points).
- sliced Wasserstein (``SlicedReplicates``): images are resampled with all their patches, along every one of
  the metric's 512 directions, from the projections the metric has just sorted: a resampled set's CDF is the
  multiplicity-weighted mean of its images' CDFs, evaluated at ``SWD_GRID`` (128) quantile points per
  direction, so all replicates of a batch of directions come from one matrix product; W1 is the integral of
  |F_real* - F_fake*| as a left Riemann sum over those points (exact when the grid holds every value; the
  tests check that). The per-channel normalisation of the descriptors is that of the full sets. Against the
  exact W1 of each resample (benchmarks/bootstrap_cost.py: 500 images of a `small` run, 128 directions per
  level, all patches) the replicates' spread came out 0.3 % wide with 128 points (3 % with 64, 96 % with 16)
  and no centred replicate moved more than 0.13 of their std; a first version that used 32 directions and 16
  patches per image instead was 9-68 % too wide, depending on the model.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

B = 200  # replicates (the ends of a 95 % interval are about the 5th and 195th of them; see the module notes)
B_FRECHET = 50  # fewer for the Fréchet distances: a replicate costs two covariances and an eigendecomposition
FRECHET_QUARTERS = 25  # of them also cut in quarters (75 df for the variance at n/4, the noisier of the two)
LEVEL = 0.95
Z = statistics.NormalDist().inv_cdf((1 + LEVEL) / 2)  # 1.96
SEED = 19  # one fixed stream for every model: replicate b of the real side is the same for all of them
INTERVAL = "percentile, re-centred on the value"
FLOOR_RULE = "the interval stretched to hold the value and θ = 0 (θ >= 0) where the law's inversion did not"
FRECHET_METHOD = ("FD = M + C: M the mean term, Var(M) = 2 tr(Ω²) + 4 q θ (Ω = S_r/n_r + S_g/n_g, θ = ||Δ||², q the "
                  "Rayleigh quotient of Ω along the observed Δ); C's variance at n extrapolated by a/m + b/(m(m-1)) "
                  "from disjoint random halves and quarters of each side, plus 2 Cov(M, C) from the halves; "
                  "interval for θ from M - tr Ω on the scale sqrt(u + k), k = null / (4 q), the variance-stabilised "
                  "scale, shifted by value - (M - tr Ω); replicates value + sd (d_b - mean d) / rms, "
                  f"d_b = T(half 1) - T(half 2), sd the spread at the value; {FLOOR_RULE}")
KERNEL_METHOD = ("Var(T) = V0 + kappa θ at θ = E[T], T the whole sets' unbiased MMD², V0 the variance of the swapped "
                 "halves' MMD² (the null at n); interval for θ on the scale sqrt(T + k), k = V0 / kappa, the "
                 "variance-stabilised scale, shifted by value - T, kappa = (Var(T at n/2) / 2) / max(T, z sqrt(Â + "
                 "V0)), Â = Var(T at n/2) / 2 - 2 V0; replicates value + the halves' differences scaled to sqrt(V0 + "
                 f"kappa' max(T, 0)), kappa' = (Var(T at n/2) / 2) / biased MMD²; {FLOOR_RULE}")
SIGNIFICANT = 6  # digits kept of each stored replicate
SWD_GRID = 128  # points per direction at which the SWD replicates evaluate each image's CDF
SWD_CHUNK = 1 << 22  # images x grid points x directions per block of the SWD replicates (16 MiB in float32)
KERNEL_BLOCK = 2048  # rows of kernel matrix computed at once


def describe(resampled: str, b: int = B, interval: str = INTERVAL, **more: Any) -> dict[str, Any]:
    """The interval's part of a metric's protocol (hashed into its protocol id)."""
    return {"B": b, "level": LEVEL, "interval": interval, "seed": SEED, "resampled": resampled, **more}


# The interval parts of the feature-space distances' protocols (fid, fd_rand and kid, kid_rand, in every space):
# split halves, not the bootstrap (see the module notes, "Split halves")
FRECHET_INTERVAL = describe("feature vectors, real and generated, split in disjoint halves and quarters",
                            b=B_FRECHET, interval=FRECHET_METHOD, quartered=FRECHET_QUARTERS)
KERNEL_INTERVAL = describe("feature vectors, real and generated, split in disjoint halves, then swapped across sides",
                           interval=KERNEL_METHOD, statistic="unbiased MMD² of each half and swapped pair")


@dataclass(frozen=True)
class Interval:
    """A value's bootstrap interval: [lo, hi] at ``LEVEL``, the re-centred replicates, and what was resampled."""

    value: float
    lo: float
    hi: float
    replicates: np.ndarray
    resampled: dict[str, int]
    seconds: float

    def extra(self) -> dict[str, Any]:
        return {"ci": [_round(self.lo), _round(self.hi)], "ci_level": LEVEL,
                "boot": [_round(x) for x in self.replicates], "ci_n": dict(self.resampled),
                "ci_seconds": round(self.seconds, 3)}


def _round(x: float) -> float:
    return float(f"{float(x):.{SIGNIFICANT}g}")


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(b, n) multiplicities from (b, n) resampling indices: how often each unit was drawn."""
    idx = np.atleast_2d(np.asarray(idx))
    b = idx.shape[0]
    offset = (np.arange(b) * n)[:, None]
    return np.bincount((idx + offset).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap(value: float, statistic: Callable[..., np.ndarray], sizes: dict[str, int], b: int = B,
              seed: int = SEED) -> Interval | None:
    """The interval of ``value`` from ``b`` replicates of ``statistic``.

    ``sizes`` names the resampled sides in the order they are drawn (real side first: that keeps its draws
    the same for every model) with their unit counts; ``statistic(*multiplicities)`` gets one (b, n_side)
    matrix per side and returns the b replicates. Resampling and percentiles are ``scipy.stats.bootstrap``'s
    (the statistic is vectorised over the index arrays it draws). None when a side has fewer than 2 units or
    the value is not finite."""
    if not np.isfinite(value) or any(n < 2 for n in sizes.values()):
        return None
    t0 = time.perf_counter()
    names = list(sizes)

    def stat(*idx, axis=-1):
        return np.asarray(statistic(*(counts(i, sizes[k]) for i, k in zip(idx, names, strict=True))), np.float64)

    from scipy import stats  # here, not at the top: scipy.stats costs every command a second to import

    res = stats.bootstrap(tuple(np.arange(sizes[k]) for k in names), stat, n_resamples=b, vectorized=True,
                          method="percentile", confidence_level=LEVEL, random_state=np.random.default_rng(seed))
    reps = np.asarray(res.bootstrap_distribution, np.float64).reshape(-1)
    if not np.isfinite(reps).all():  # a degenerate resample (e.g. only units without data): no interval
        return None
    shift = value - reps.mean()
    lo, hi = float(res.confidence_interval.low) + shift, float(res.confidence_interval.high) + shift
    return Interval(float(value), lo, hi, reps + shift, dict(sizes), time.perf_counter() - t0)


def draws(sizes: dict[str, int], b: int = B, seed: int = SEED) -> list[np.ndarray]:
    """The (b, n_side) multiplicities ``bootstrap`` will draw for these sides, drawn ahead: the same generator
    and order as scipy.stats.bootstrap's (one stream, one (b, n) block of indices per side in order), for a
    statistic accumulated while the metric runs (``from_replicates`` checks that scipy drew the same)."""
    rng = np.random.default_rng(seed)
    return [counts(rng.integers(0, n, (b, n)), n) for n in sizes.values()]


def from_replicates(value: float, replicates: np.ndarray, sizes: dict[str, int], drawn: list[np.ndarray],
                    seconds: float = 0.0) -> Interval | None:
    """The interval from replicates computed ahead for the multiplicities ``drawn`` (``draws``): scipy.stats.bootstrap
    draws again and must draw the same (else RuntimeError), then takes the percentiles."""
    def stat(*w):
        if not all(np.array_equal(x, y) for x, y in zip(w, drawn, strict=True)):
            raise RuntimeError("scipy.stats.bootstrap drew other indices than bootstrap.draws; the precomputed "
                               "replicates do not belong to its resamples")
        return replicates

    interval = bootstrap(value, stat, sizes, len(replicates))
    return None if interval is None else dataclasses.replace(interval, seconds=interval.seconds + seconds)


def extra(interval: Interval | None) -> dict[str, Any]:
    """``interval.extra()``, or nothing when there is no interval."""
    return interval.extra() if interval is not None else {}


# -- split halves: the feature-space distances --------------------------------------------------------
SPLIT_MIN = 8  # units per side at least: four quarters of 2


def quarter_splits(b: int) -> int:
    """How many of the b splits are also cut in quarters: a quarter of them, for 3 df each (four quarters)."""
    return max(2, b // 4)


def split_permutations(sizes: dict[str, int], b: int = B, seed: int = SEED) -> list[np.ndarray]:
    """Per side (in order, one stream: the real side first), b random permutations of its units, (b, n) each:
    what ``split_masks`` cuts into halves and quarters."""
    rng = np.random.default_rng(seed)
    return [rng.permuted(np.tile(np.arange(n), (b, 1)), axis=1) for n in sizes.values()]


def split_masks(sizes: dict[str, int], b: int = B, seed: int = SEED, quarters: int | None = None) -> list[np.ndarray]:
    """Per side (in order, one stream: the real side first, so the same for every model), b random permutations
    of its units cut into two disjoint halves of n // 2, and the first ``quarters`` (``quarter_splits(b)`` unless
    given) of them also into four quarters of n // 4 (two in each half): 0/1 rows [half 1 (b); half 2 (b);
    quarter 1..4 (``quarters`` each)]."""
    out = []
    for n, perm in zip(sizes.values(), split_permutations(sizes, b, seed), strict=True):
        h, q, few = n // 2, n // 4, perm[:quarter_splits(b) if quarters is None else quarters]
        blocks = [perm[:, :h], perm[:, h:2 * h]] + [few[:, k * q:(k + 1) * q] for k in range(4)]
        out.append(np.concatenate([counts(x, n) for x in blocks]))
    return out


def extrapolated_variance(v_half: float, v_quarter: float, m: int) -> float:
    """The variance at m units from the variances at m // 2 and m // 4, by the law of a U-statistic of degree 2
    (Hoeffding 1948): Var = a/m + b/(m(m-1)), a from the non-degenerate (linear) part, b from the degenerate one,
    both >= 0 (a fit that makes one negative keeps only the other, fitted to the halves)."""
    def law(k: int) -> tuple[float, float]:
        return 1 / k, 1 / (k * (k - 1))

    (x2, y2), (x4, y4), (xn, yn) = law(m // 2), law(m // 4), law(m)
    det = x2 * y4 - x4 * y2
    a, b = (v_half * y4 - v_quarter * y2) / det, (x2 * v_quarter - x4 * v_half) / det
    if a < 0:
        a, b = 0.0, v_half / y2
    elif b < 0:
        a, b = v_half / x2, 0.0
    return a * xn + b * yn


def _scaled(value: float, d: np.ndarray, sd: float) -> np.ndarray:
    """Replicates value + sd x the split differences ``d`` standardised (centred, root mean square 1): the same
    splits for every model, so replicate b of two models scored against the same real images pairs them."""
    u = d - d.mean()
    rms = float(np.sqrt(np.mean(u ** 2)))
    return value + (sd / rms) * u if rms > 0 else np.full(len(d), float(value))


def split_variance(t: np.ndarray, b: int, m: int) -> float:
    """Var(T at m) from a statistic ``t`` on ``split_masks``' rows (b halves' pairs, then the quarters): the halves'
    differences give Var(T at m/2) (E[d²] = 2 Var, 1 df per split), the quarters Var(T at m/4) (their sample
    variance, 3 df per quartered split), ``extrapolated_variance`` carries both to m."""
    half = t[:b] - t[b:2 * b]
    v_half = float(np.mean(half ** 2)) / 2
    v_quarter = float(np.var(t[2 * b:].reshape(4, -1), axis=0, ddof=1).mean())
    return extrapolated_variance(v_half, v_quarter, m) if v_half > 0 else 0.0


def score_bounds(t: float, null_var: float, kappa: float) -> tuple[float, float]:
    """Every θ with (t - θ)² <= z² (null_var + kappa max(θ, 0)): the interval of a statistic that is θ + noise,
    the noise's variance null_var at θ = 0 and growing by kappa per unit of θ (Wilson's score interval, for a
    variance that depends on the unknown). Above 0: θ = t + c ± sqrt((t + c)² - t² + z² null_var), c = z² kappa / 2;
    below (where θ = 0 is not excluded): t - z sqrt(null_var). Continuous where the two meet (t = z sqrt(null_var)).
    KID's and CMMD's construction until 2026-12-07 (now ``stabilised_bounds``); kept for the comparisons of
    benchmarks/interval_variants.py and interval_coverage.py."""
    c = Z * Z * kappa / 2
    root = float(np.sqrt(max((t + c) ** 2 - t * t + Z * Z * null_var, 0.0)))
    hi = t + c + root
    lo = t + c - root if t > Z * np.sqrt(null_var) else t - Z * float(np.sqrt(null_var))
    return lo, hi


# -- replicate statistics ------------------------------------------------------------------------------
def mean_replicates(values: np.ndarray | torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """The mean of per-unit ``values`` over resampled units."""
    v = np.asarray(values, np.float64).reshape(-1)
    return lambda w: w @ v / w.sum(1)


def mean_interval(value: float, values, units: str = "images", b: int = B) -> Interval | None:
    """The interval of a mean over per-unit ``values`` (e.g. per-image reconstruction errors)."""
    v = np.asarray(values, np.float64).reshape(-1)
    return bootstrap(value, mean_replicates(v), {units: len(v)}, b)


def _weighted(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean, rows sqrt(w)(x - mean) / sqrt(n - 1) of the drawn points, trace of the covariance) of the resample
    with multiplicities ``w`` (the unbiased covariance of the multiset is A^T A)."""
    n = w.sum()
    keep = w > 0
    xs, ws = x[keep], w[keep]
    mu = ws @ xs / n
    a = (xs - mu) * (ws / (n - 1)).sqrt()[:, None]
    return mu, a, a.square().sum()


def _eigvalsh(m: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a symmetric matrix, float64; a float32 matrix whose eigensolver does not converge (LAPACK
    gives up on some ill-conditioned ones) is solved again in float64."""
    try:
        return torch.linalg.eigvalsh(m).double()
    except torch.linalg.LinAlgError:
        if m.dtype == torch.float64:
            raise
        return torch.linalg.eigvalsh(m.double())


def _root_sum(m: torch.Tensor) -> torch.Tensor:
    """The sum of the square roots of a symmetric PSD matrix's eigenvalues (negative round-off clamped), float64."""
    return _eigvalsh(m).clamp_min(0).sqrt().sum()


def _trace_sqrt(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Tr((S1 S2)^1/2) for S1 = AᵀA, S2 = BᵀB: the nuclear norm of A Bᵀ when the points are fewer than the
    dimensions; else from L (S1 = L Lᵀ): Tr((Lᵀ S2 L)^1/2); a singular S1 falls back to eigh. The two Gram
    products, most of the cost, are taken in float32 from float64-centred rows (a replicate moves by ~1e-6 of
    the replicates' spread); the rest is float64."""
    d = a.shape[1]
    a32, b32 = a.float(), b.float()
    if max(len(a), len(b)) < d:  # the nuclear norm of C = A Bᵀ: sqrt of the eigenvalues of C Cᵀ (1.9x svdvals)
        c = (a32 @ b32.T).double()
        return _root_sum(c @ c.T)
    s1, s2 = (a32.T @ a32).double(), (b32.T @ b32).double()
    chol, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        return _root_sum(chol.T @ s2 @ chol)
    lam, u = torch.linalg.eigh(s1)
    root = (u * lam.clamp_min(0).sqrt()) @ u.T
    return _root_sum(root @ s2 @ root)


def _trace_sqrt_qr(a32: torch.Tensor, b32: torch.Tensor) -> torch.Tensor:
    """Tr((S1 S2)^1/2) for S1 = AᵀA, S2 = BᵀB from A = QR: S1 = RᵀR, and RᵀR S2 has the eigenvalues of the
    symmetric R S2 Rᵀ, so the root is theirs. QR and S2 in float32 (most of the cost), R S2 Rᵀ and its
    eigenvalues in float64: unlike a Cholesky factor, R exists when S1 is singular, and the many near-zero
    eigenvalues of a singular product are what float32 gets wrong and the root inflates (on a random CNN's
    features of 2 x 2,048 `shapes` images a half's distance within 1e-4 of the halves' differences of an exact
    float64 root; float32 throughout moved the interval's ends by 2e-3 of its width)."""
    r = torch.linalg.qr(a32, mode="r")[1].double()
    return _root_sum(r @ (b32.T @ b32).double() @ r.T)


def frechet_replicates(real, fake, device: torch.device | str = "cpu") -> Callable[..., np.ndarray]:
    """Fréchet distances between the resampled real and generated feature sets (float64, on ``device``)."""
    x = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)

    def stat(wr: np.ndarray, wf: np.ndarray) -> np.ndarray:
        out = np.empty(len(wr))
        for i, (u, v) in enumerate(zip(torch.as_tensor(wr, device=device), torch.as_tensor(wf, device=device),
                                       strict=True)):
            mu1, a, tr1 = _weighted(x, u.double())
            mu2, b, tr2 = _weighted(y, v.double())
            out[i] = float((mu1 - mu2).square().sum() + tr1 + tr2 - 2 * _trace_sqrt(a, b))
        return out

    return stat


def frechet_subsets(real, fake, device: torch.device | str = "cpu") -> Callable[..., np.ndarray]:
    """Fréchet distances between subsets (rows of 0/1 masks, as ``split_masks`` draws) of the real and generated
    feature sets, for the split halves: ``frechet_subset_terms``' two terms summed."""
    terms = frechet_subset_terms(real, fake, device)
    return lambda wr, wf: np.add(*terms(wr, wf))


def frechet_subset_terms(real, fake, device: torch.device | str = "cpu") -> Callable[..., tuple[np.ndarray, ...]]:
    """The two terms of the Fréchet distances between subsets (rows of 0/1 masks) of the real and generated
    feature sets: (the mean term ||mean_r - mean_g||², the covariance term tr S_r + tr S_g - 2 tr((S_r S_g)^1/2)),
    one array each. Each subset's rows are centred in float64 and multiplied in float32 (a half's distance moves
    by ~1e-6 of itself, far below the halves' differences). Where a subset has at least
    as many points as dimensions the root is ``_trace_sqrt_qr``; where it has fewer, its A Bᵀ is not multiplied
    out but cut from the whole sets' cross Gram matrix X Yᵀ (made once, in float32, from rows centred on the real
    mean) and double-centred: the centred rows' products are the subset's products minus their row and column
    means plus their grand mean. Its least eigenvalue is 0 (centred rows sum to 0) and is left out: in float32
    it is round-off, inflated by the root."""
    x = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    shift = x.mean(0)  # the distance does not change when both sets move together
    x, y = x - shift, y - shift
    gram: list[torch.Tensor] = []
    # a feature constant over a whole set (a random CNN's dead ReLU unit) is constant in each of its subsets: its
    # row and column of that set's covariance are 0, and Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2) does not
    # see the other set's entries there (nor, by symmetry, S1's where S2 is 0), so leaving it out of the root
    # changes nothing (the means and traces keep it) and makes the products smaller
    live = (x.var(0) > 0) & (y.var(0) > 0)
    xl, yl = (x, y) if bool(live.all()) else (x[:, live], y[:, live])

    def root(a32: torch.Tensor, b32: torch.Tensor) -> torch.Tensor:  # S1 = L Lᵀ: Tr((Lᵀ S2 L)^1/2), else by QR
        chol, info = torch.linalg.cholesky_ex(a32.T @ a32)
        if int(info) == 0:
            return _root_sum(chol.T @ (b32.T @ b32) @ chol)
        return _trace_sqrt_qr(a32, b32)

    def trace_sqrt(ir: torch.Tensor, ig: torch.Tensor) -> torch.Tensor:
        if max(len(ir), len(ig)) >= x.shape[1]:
            return root(_centred(xl[ir]).float(), _centred(yl[ig]).float())
        if not gram:
            gram.append(x.float() @ y.float().T)
        c = gram[0][ir][:, ig]
        c = c - c.mean(1, keepdim=True) - c.mean(0, keepdim=True) + c.mean()
        c = c / float(np.sqrt((len(ir) - 1) * (len(ig) - 1)))
        ev = _eigvalsh(c @ c.T if len(ir) <= len(ig) else c.T @ c)
        return ev[1:].clamp_min(0).sqrt().sum()  # centred rows: the least is 0 but for round-off, which sqrt inflates

    def terms(wr: np.ndarray, wf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (mr, tr), (mg, tg) = _subset_moments(x, wr), _subset_moments(y, wf)
        rows = [[torch.as_tensor(m, device=device).nonzero().squeeze(1) for m in side] for side in (wr, wf)]
        roots = [trace_sqrt(ir, ig) for ir, ig in zip(*rows, strict=True)]
        return (mr - mg).square().sum(1).cpu().numpy(), (tr + tg - 2 * torch.stack(roots)).cpu().numpy()

    return terms


def _subset_moments(z: torch.Tensor, masks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The means (rows) and covariance traces of the subsets of ``z`` that the rows of 0/1 ``masks`` select,
    float64, from two products: trace = (sum of the rows' squared norms - m ||mean||²) / (m - 1), the rows
    centred on the whole set's mean first, so that nothing cancels badly."""
    w = torch.as_tensor(masks, dtype=torch.float64, device=z.device)
    m, centre = w.sum(1), z.mean(0)
    z = z - centre
    mean = w @ z / m[:, None]
    return mean + centre, (w @ z.square().sum(1) - m * mean.square().sum(1)) / (m - 1)


def _centred(rows: torch.Tensor) -> torch.Tensor:
    """Rows minus their mean over sqrt(n - 1): A with AᵀA the unbiased covariance."""
    return (rows - rows.mean(0)) / float(np.sqrt(len(rows) - 1))


def stabilised_bounds(u: float, null_var: float, slope: float) -> tuple[float, float]:
    """The interval of θ = E[u] for an estimate u whose variance grows with what it estimates, Var(u) = null_var +
    slope θ (a noncentral chi-square's law): on the scale g(u) = sqrt(u + k), k = null_var / slope, the variance
    is slope / 4 whatever θ (Anscombe's variance-stabilising transform; the delta method: g'(θ)² Var(u) =
    (null_var + slope θ) / (4 (θ + k))), so the interval is g(u) ± z sqrt(slope) / 2 carried back,
    (sqrt(u + k) ± z sqrt(slope) / 2)² - k, the lower root at 0 where it would cross it. The width comes from the
    law at each θ, not from the variance at u, so a low u does not come with a short interval; on that scale a
    squared distance is also nearly symmetric. Wald's u ± z sqrt(null_var) without a slope.

    ``FLOOR_RULE``: a value below the law's floor (u + k < 0, as equality gives now and then, and often with a
    handful of images) has no place on that scale, and the inversion there, [-k, h² - k], held neither u nor, when
    h² < k, any θ >= 0 (a calibration row of 10 held-out faces read kid_rand -0.0025 [-0.0011, -0.0002]); θ is
    a squared distance, never below 0. So the interval always holds u and reaches 0: coverage can only rise, and
    only an interval that missed u or every θ >= 0 changes."""
    if slope <= 0:
        lo, hi = u - Z * float(np.sqrt(null_var)), u + Z * float(np.sqrt(null_var))
    else:
        k = null_var / slope
        root, h = float(np.sqrt(max(u + k, 0.0))), Z * float(np.sqrt(slope)) / 2
        lo, hi = max(root - h, 0.0) ** 2 - k, (root + h) ** 2 - k
    return min(lo, u), max(hi, 0.0)  # FLOOR_RULE


@dataclass(frozen=True)
class MeanTerm:
    """The mean term of a Fréchet distance, M = ||mu_r - mu_g||² (Heusel et al. 2017, Eq. 6, first term), and its
    variance law. The difference of the sample means is Δ̂ ~ N(Δ, Ω), Ω = S_r / n_r + S_g / n_g (central limit
    theorem), so E[M] = ||Δ||² + tr Ω and Var(M) = 2 tr(Ω²) + 4 Δᵀ Ω Δ (the moments of a quadratic form of a
    Gaussian vector): a degenerate part that is all there is at equality, and a first-order part that grows with
    the distance. ``slope`` = 4 q, q = Δ̂ᵀ Ω Δ̂ / Δ̂ᵀ Δ̂ the Rayleigh quotient of Ω along the observed difference
    (first-order variance per unit of squared distance along the direction the data show; near equality the
    noise's own quotient, tr(Ω²) / tr Ω)."""

    m: float  # ||Δ̂||²
    noise: float  # tr Ω, the mean term's bias
    null_var: float  # 2 tr(Ω²), from unbiased estimates of ||Σ_r||², ||Σ_g||² and tr(Σ_r Σ_g)
    slope: float  # 4 q

    @property
    def excess(self) -> float:
        """M - tr Ω: an unbiased estimate of ||Δ||²."""
        return self.m - self.noise


def _frobenius(g: torch.Tensor, trace: float, nu: int) -> float:
    """An unbiased estimate of ||Σ||²_F from ||S||²_F = ||g||²_F / nu² (g the Gram matrix of nu + 1 centred rows,
    either way round) and tr S = trace, for Gaussian rows: E||S||² = (1 + 1/nu) ||Σ||² + (tr Σ)² / nu and E(tr S)²
    = (tr Σ)² + 2 ||Σ||² / nu (Wishart moments), so nu² / ((nu - 1)(nu + 2)) (||S||² - (tr S)² / nu)."""
    sq = float(g.double().square().sum()) / nu ** 2
    return max(nu * nu / ((nu - 1) * (nu + 2)) * (sq - trace ** 2 / nu), 0.0)


def mean_term(real, fake, device: torch.device | str = "cpu") -> MeanTerm:
    """``MeanTerm`` of two feature sets: products in float32 from float64-centred rows, the Gram matrices the
    cheaper way round (d x d or n x n)."""
    x = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    (nr, d), ng = x.shape, len(y)
    mx, my = x.mean(0), y.mean(0)
    delta, xc, yc = mx - my, x - mx, y - my
    tr_r, tr_g = float(xc.square().sum()) / (nr - 1), float(yc.square().sum()) / (ng - 1)
    a, c = xc.float(), yc.float()
    if d <= min(nr, ng):
        sr, sg = a.T @ a, c.T @ c
        cross = float((sr.double() * sg.double()).sum())  # <X_cᵀX_c, Y_cᵀY_c> = ||X_c Y_cᵀ||²
    else:
        sr, sg = a @ a.T, c @ c.T
        cross = float((a @ c.T).double().square().sum())
    tr_omega2 = (_frobenius(sr, tr_r, nr - 1) / nr ** 2 + _frobenius(sg, tr_g, ng - 1) / ng ** 2
                 + 2 * cross / ((nr - 1) * (ng - 1) * nr * ng))
    noise = tr_r / nr + tr_g / ng
    m = float(delta.square().sum())
    along = float((xc @ delta).square().sum()) / ((nr - 1) * nr) + float((yc @ delta).square().sum()) / ((ng - 1) * ng)
    q = along / m if m > 0 else (tr_omega2 / noise if noise > 0 else 0.0)
    return MeanTerm(m, noise, 2 * tr_omega2, 4 * q)


def frechet_interval(value: float, real, fake, device: torch.device | str = "cpu", b: int = B_FRECHET,
                     quarters: int = FRECHET_QUARTERS, seed: int = SEED) -> Interval | None:
    """The interval of a Fréchet distance T = M + C (M the mean term, C the covariance term) for E[T]: the mean
    term by its variance law (``MeanTerm``), the covariance term from ``b`` split halves, ``quarters`` of them
    also cut in quarters (``split_masks``).

    - C: its variance at n from the halves' and quarters' C = T - M (``split_variance``; the Fréchet distance's
      bias depends on the sample size only and cancels in the difference of two equal halves), plus 2 Cov(M, C)
      (zero for Gaussian features, whose sample means and covariances are independent), at n/2 the mean product of
      the halves' differences of M and C over 2, halved to n as a first-order term is.
    - M: Var(M) = 2 tr(Ω²) + 4 q θ, θ = ||Δ||²: with C's share added to the part at equality, the variance of
      T grows linearly with θ, and the interval is ``stabilised_bounds`` of θ from M - tr Ω, shifted by value -
      (M - tr Ω). The plug-in interval before (value ± 1.96 sd, sd² the whole distance's split variance) took
      the first-order part at Δ̂, small exactly when the value came out low, and missed from below between
      equality and a clear difference (87.5-90.7 % coverage at n = 2,048; benchmarks/RESULTS.md).

    The replicates (what a paired difference of two models reads) are the halves' differences of T scaled to the
    spread at the value, sqrt(null + slope max(θ̂, 0)). None when a side has fewer than ``SPLIT_MIN`` units or a
    value is not finite."""
    sizes = {"real": len(real), "generated": len(fake)}
    if not np.isfinite(value) or any(n < SPLIT_MIN for n in sizes.values()):
        return None
    t0 = time.perf_counter()
    masks = split_masks(sizes, b, seed, quarters=min(b, quarters))
    m, c = frechet_subset_terms(real, fake, device)(*masks)
    t = m + c
    if not np.isfinite(t).all():
        return None
    mean = mean_term(real, fake, device)
    d_m, d_c = m[:b] - m[b:2 * b], c[:b] - c[b:2 * b]
    null = max(split_variance(c, b, min(sizes.values())) + float(np.mean(d_m * d_c)) / 2, 0.0) + mean.null_var
    lo, hi = stabilised_bounds(mean.excess, null, mean.slope)
    shift = value - mean.excess
    reps = _scaled(value, t[:b] - t[b:2 * b], float(np.sqrt(null + mean.slope * max(mean.excess, 0.0))))
    return Interval(float(value), lo + shift, hi + shift, reps, sizes, time.perf_counter() - t0)


Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cubic_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """KID's kernel, (x·y/d + 1)^3 (genbench.metrics.core.frechet.polynomial_kernel)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _quadratic(w: torch.Tensor, x: torch.Tensor, v: torch.Tensor, y: torch.Tensor,
               kernel: Kernel) -> tuple[torch.Tensor, torch.Tensor]:
    """(b,) w_b K(x, y) v_b for every replicate, the kernel matrix made in row blocks, and (b,) sum_i w_bi v_bi
    k(x_i, y_i) (the diagonal's share: within one set, the pairs of a point with its own copies)."""
    out = torch.zeros(len(w), dtype=torch.float64, device=x.device)
    diag = torch.zeros_like(out)
    for s in range(0, len(x), KERNEL_BLOCK):
        block = kernel(x[s:s + KERNEL_BLOCK], y).double()
        out += ((w[:, s:s + KERNEL_BLOCK] @ block) * v).sum(1)
        if x is y:
            diag += (w[:, s:s + KERNEL_BLOCK] * v[:, s:s + KERNEL_BLOCK]) @ block[:, s:s + KERNEL_BLOCK].diagonal()
    return out, diag


def kernel_replicates(real, fake, device: torch.device | str = "cpu",
                      kernel: Kernel = cubic_kernel) -> Callable[..., np.ndarray]:
    """Unbiased MMD² (``kernel``: the cubic one of KID unless given, e.g. a Gaussian RBF for CMMD) of each
    resample or subset (rows of multiplicities), over pairs of distinct original points."""
    x = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)

    def within(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        n = w.sum(1)
        full, diag = _quadratic(w, z, w, z, kernel)
        return (full - diag) / (n * n - w.square().sum(1))

    def stat(wr: np.ndarray, wf: np.ndarray) -> np.ndarray:
        u, v = torch.as_tensor(wr, device=device), torch.as_tensor(wf, device=device)
        cross = _quadratic(u, x, v, y, kernel)[0] / (u.sum(1) * v.sum(1))
        return (within(u, x) + within(v, y) - 2 * cross).cpu().numpy()

    return stat


@dataclass(frozen=True)
class KernelSplits:
    """MMD² statistics of one pass over the kernel matrices (``kernel_splits``): the whole sets' unbiased (U) and
    biased (V) MMD², and per split b the unbiased MMD² of (real half 1, generated half 1), of (real half 2,
    generated half 2) and of the swapped pair (real half 1 + generated half 2, real half 2 + generated half 1)."""

    whole_u: float
    whole_v: float
    half1: np.ndarray
    half2: np.ndarray
    swap: np.ndarray

    @property
    def half_var(self) -> float:
        """Var(T at n/2) = E[d²] / 2 from the halves' differences d (two independent samples of n/2)."""
        return float(np.mean((self.half1 - self.half2) ** 2)) / 2


def kernel_splits(real, fake, halves: list[np.ndarray], device: torch.device | str = "cpu",
                  kernel: Kernel = cubic_kernel) -> KernelSplits:
    """``KernelSplits`` for the 0/1 half masks ``halves`` (per side, rows [half 1 (b); half 2 (b)], as
    ``split_masks`` draws them). The kernel matrices K_rr, K_gg, K_rg are made once, in row blocks, and multiplied
    by the masks (three products of 2b + 1 rows); every quadratic form of a half, a swapped pair and the whole
    sets is a row sum of those products times a mask, and the diagonal is left out of the within-set sums."""
    x = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    hr, hg = (torch.as_tensor(h, dtype=torch.float64, device=device) for h in halves)
    b = len(hr) // 2
    lr = torch.cat([hr, torch.ones(1, len(x), dtype=torch.float64, device=device)])
    lg = torch.cat([hg, torch.ones(1, len(y), dtype=torch.float64, device=device)])
    m_rr, m_rg = torch.zeros_like(lr), torch.zeros(len(lr), len(y), dtype=torch.float64, device=device)
    m_gg = torch.zeros_like(lg)
    d_r, d_g = torch.empty(len(x), dtype=torch.float64, device=device), torch.empty_like(m_gg[0])
    for s in range(0, len(x), KERNEL_BLOCK):
        k_rr = kernel(x[s:s + KERNEL_BLOCK], x).double()
        m_rr += lr[:, s:s + KERNEL_BLOCK] @ k_rr
        m_rg += lr[:, s:s + KERNEL_BLOCK] @ kernel(x[s:s + KERNEL_BLOCK], y).double()
        d_r[s:s + KERNEL_BLOCK] = k_rr[:, s:s + KERNEL_BLOCK].diagonal()
    for s in range(0, len(y), KERNEL_BLOCK):
        k_gg = kernel(y[s:s + KERNEL_BLOCK], y).double()
        m_gg += lg[:, s:s + KERNEL_BLOCK] @ k_gg
        d_g[s:s + KERNEL_BLOCK] = k_gg[:, s:s + KERNEL_BLOCK].diagonal()

    def form(m: torch.Tensor, i: int, j: int, w: torch.Tensor) -> torch.Tensor:  # mask block i K mask block j
        return (m[i * b:(i + 1) * b] * w[j * b:(j + 1) * b]).sum(1)

    rr = [[form(m_rr, i, j, hr) for j in (0, 1)] for i in (0, 1)]
    gg = [[form(m_gg, i, j, hg) for j in (0, 1)] for i in (0, 1)]
    rg = [[form(m_rg, i, j, hg) for j in (0, 1)] for i in (0, 1)]  # real half i, generated half j
    dr, dg = hr @ d_r, hg @ d_g  # (2b,) the diagonal's share of each half
    nr, ng = int(hr[0].sum()), int(hg[0].sum())

    def u(within_r, diag_r, within_g, diag_g, cross, a, c):  # unbiased MMD² of a real and c generated units each
        return (within_r - diag_r) / (a * (a - 1)) + (within_g - diag_g) / (c * (c - 1)) - 2 * cross / (a * c)

    half1 = u(rr[0][0], dr[:b], gg[0][0], dg[:b], rg[0][0], nr, ng)
    half2 = u(rr[1][1], dr[b:], gg[1][1], dg[b:], rg[1][1], nr, ng)
    m = nr + ng  # swapped sets: A = real half 1 + generated half 2, B = real half 2 + generated half 1
    aa = rr[0][0] + 2 * rg[0][1] + gg[1][1] - dr[:b] - dg[b:]
    bb = rr[1][1] + 2 * rg[1][0] + gg[0][0] - dr[b:] - dg[:b]
    ab = rr[0][1] + rg[0][0] + rg[1][1] + gg[1][0]
    swap = (aa + bb) / (m * (m - 1)) - 2 * ab / (m * m)
    all_rr, all_gg, all_rg = float(m_rr[-1].sum()), float(m_gg[-1].sum()), float(m_rg[-1].sum())
    n_x, n_y = len(x), len(y)
    whole_u = u(all_rr, float(d_r.sum()), all_gg, float(d_g.sum()), all_rg, n_x, n_y)
    whole_v = all_rr / n_x ** 2 + all_gg / n_y ** 2 - 2 * all_rg / (n_x * n_y)
    return KernelSplits(float(whole_u), float(whole_v), *(t.cpu().numpy() for t in (half1, half2, swap)))


def kernel_law(ks: KernelSplits) -> tuple[float, float]:
    """(V0, kappa) of an MMD²'s variance law Var(T) = V0 + kappa θ (``kernel_interval``): V0 the swapped halves'
    variance, kappa = (Var(T at n/2) / 2) / V (``KernelSplits.half_var``): the Rayleigh quotient of the sampling
    covariance at the empirical witness, the spread at the observed value (what the replicates carry)."""
    return float(np.var(ks.swap, ddof=1)), ks.half_var / 2 / ks.whole_v if ks.whole_v > 0 else 0.0


def interval_slope(ks: KernelSplits, null_var: float) -> float:
    """The slope kappa the interval of θ takes (``kernel_interval``): (Var(T at n/2) / 2) / max(T, z sqrt(Â +
    V0)), Â = Var(T at n/2) / 2 - 2 V0 the first-order variance at n. Its numerator keeps the degenerate part's
    share (Var(T at n/2) / 2 = A + 2 V0), its denominator is the unbiased distance, floored where the value is
    within its own noise of 0: a slope that errs high, by about 2 V0 / θ, most where the value came out low.
    The Rayleigh quotient (``kernel_law``) was 31-39 % low against the truth taken from the draws and fell with
    the value (its numerator and denominator both hold the noise's share), so the interval missed from below
    between equality and a clear difference (87-93 %); with this slope the interval holds 93.5-99.5 % in every
    Gaussian cell measured and 90-100 % in the networks' features (benchmarks/RESULTS.md)."""
    first = max(ks.half_var / 2 - 2 * null_var, 0.0)
    floor = max(ks.whole_u, Z * float(np.sqrt(first + null_var)))
    return ks.half_var / 2 / floor if floor > 0 else 0.0


def kernel_interval(value: float, real, fake, device: torch.device | str = "cpu", b: int = B,
                    kernel: Kernel = cubic_kernel, seed: int = SEED) -> Interval | None:
    """The interval of an MMD² value (KID's, CMMD's; ``kernel``: the cubic one unless given) from ``b`` split
    halves and their swaps (``kernel_splits``): an interval for E[T], T the whole sets' unbiased MMD², shifted by
    value - T (the value may be an average over subsets, or the biased statistic).

    Var(T) = A + V0: V0 the degenerate part, all there is at equality, from the swapped halves (each swapped set
    holds n/2 real and n/2 generated units, so the two are equally distributed whatever the models: a null at n,
    with no plug-in distribution and no rate assumed); A the first-order part, which grows with the distance
    MMD² = θ, taken as kappa θ. The interval is that law's on the variance-stabilised scale
    (``stabilised_bounds``; asymmetric, longer above), with the slope of ``interval_slope``, which errs high: a
    plug-in variance at T (value ± z sd) drops with T and covered 83-89 % between equality and a clear
    difference; the score interval of the law was 2x too wide at equality in a network's features; the Rayleigh
    slope on the same scale (used before, until 2026-12-07) covered 87-93 % there, missing below
    (benchmarks/RESULTS.md). The replicates (what a paired difference of two models reads) are the halves'
    differences scaled to the spread at T, sqrt(V0 + kappa max(T, 0)) with the Rayleigh slope (``kernel_law``):
    the variance of a test of two values at the values. None when a side has fewer than ``SPLIT_MIN`` units or a
    value is not finite."""
    sizes = {"real": len(real), "generated": len(fake)}
    if not np.isfinite(value) or any(n < SPLIT_MIN for n in sizes.values()):
        return None
    t0 = time.perf_counter()
    masks = [m[:2 * b] for m in split_masks(sizes, b, seed)]  # the halves (the quarters are the Fréchet method's)
    ks = kernel_splits(real, fake, masks, device, kernel)
    d = ks.half1 - ks.half2
    if not (np.isfinite(d).all() and np.isfinite(ks.swap).all() and np.isfinite(ks.whole_u)):
        return None
    null_var, kappa = kernel_law(ks)
    lo, hi = stabilised_bounds(ks.whole_u, null_var, interval_slope(ks, null_var))
    shift = value - ks.whole_u
    reps = _scaled(value, d, float(np.sqrt(null_var + kappa * max(ks.whole_u, 0.0))))  # the spread at T
    return Interval(float(value), lo + shift, hi + shift, reps, sizes, time.perf_counter() - t0)


def prdc_intervals(values: dict[str, float], points: dict[str, torch.Tensor], k: int,
                   b: int = B) -> dict[str, Interval | None]:
    """Intervals of precision, recall, density and coverage (genbench.metrics.core.prdc.prdc_points gives the
    per-point numbers they average): precision and density over the generated samples, recall and coverage
    over the real points, each a mean over resampled points with every k-NN ball held as computed (a resample's
    duplicates would otherwise shrink the balls to 0), so the balls' own variability is not in the interval."""
    per_point = {"precision": (points["precision"], "generated"), "density": (points["density"] / k, "generated"),
                 "recall": (points["recall"], "real"), "coverage": (points["coverage"], "real")}
    return {name: mean_interval(values[name], v.double().cpu().numpy(), units=side, b=b)
            for name, (v, side) in per_point.items() if name in values}


class SlicedReplicates:
    """Replicates of a sliced W1 mean (``swd``), accumulated as the metric sorts its projections.

    The resampling multiplicities are drawn first (``draws``: the stream scipy.stats.bootstrap then draws again
    and checks); ``add`` takes each batch of directions the metric has just sorted. Along a direction, a
    resampled set's CDF is the multiplicity-weighted mean of its images' own CDFs (each image brings all its
    patches), so with each image's CDF evaluated at ``grid`` points (quantiles of both sets, their extremes
    included) one matrix product gives every replicate's F_real* - F_fake* there, and W1 = the integral of its
    absolute value, a left Riemann sum over the points. Every direction and every patch of the metric is used;
    the grid is the approximation (exact when it holds every value)."""

    def __init__(self, n_images: int, per_image: int, b: int = B, grid: int = SWD_GRID):
        self.n, self.per_image, self.grid = n_images, per_image, grid
        self.sizes = {"real": n_images, "generated": n_images}
        self.drawn = draws(self.sizes, b)
        self.w = [torch.from_numpy(x).float() for x in self.drawn]
        self.total = torch.zeros(b, dtype=torch.float64)
        self.directions = 0
        self.seconds = 0.0

    def _cdfs(self, values: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """(n, k * G): each image's share of its values <= each grid point, per direction (k of them)."""
        k, g, n = grid.shape[0], grid.shape[1], self.n
        bins = torch.searchsorted(grid, values, out_int32=True)  # (k, M): value <= grid[j] iff j >= bin
        image = torch.arange(values.shape[1], dtype=torch.int32).div_(self.per_image, rounding_mode="floor")
        key = (image + torch.arange(0, k * n, n, dtype=torch.int32)[:, None]).mul_(g + 1).add_(bins)
        counts = torch.bincount(key.reshape(-1), minlength=k * n * (g + 1)).view(k, n, g + 1)
        return counts.cumsum(2)[:, :, :g].permute(1, 0, 2).reshape(n, k * g).float().div_(self.per_image)

    def add(self, real: torch.Tensor, real_sorted: torch.Tensor, fake: torch.Tensor,
            fake_sorted: torch.Tensor) -> None:
        """Directions in rows: each set's projections (k, M) in image-major order (column r belongs to image
        r // per_image) and the same sorted along each row. The CDFs need only which image a value came from,
        not its rank (the counts per image are the same in any order); the sorted rows give the grid."""
        t0 = time.perf_counter()
        m, g = real.shape[1], self.grid
        ranks = torch.linspace(0, m - 1, max(2, g // 2)).round().long()
        step = max(1, SWD_CHUNK // (self.n * g))
        for c in range(0, real.shape[0], step):
            rows = slice(c, c + step)
            grid = torch.cat([real_sorted[rows, ranks], fake_sorted[rows, ranks]], dim=1).float()
            grid = grid.sort(dim=1).values  # (k, G)
            cdf_a = self._cdfs(real[rows].float(), grid)
            cdf_b = self._cdfs(fake[rows].float(), grid)
            diff = (self.w[0] @ cdf_a - self.w[1] @ cdf_b).div_(self.n).view(len(self.w[0]), -1, grid.shape[1])
            self.total += (diff[:, :, :-1].abs() * grid.diff(dim=1)).sum((1, 2)).double()
            self.directions += grid.shape[0]
        self.seconds += time.perf_counter() - t0

    def interval(self, value: float, scale: float = 1e3) -> Interval | None:
        """The interval of ``value`` = the mean over every added direction of W1, times ``scale``."""
        if not self.directions:
            return None
        return from_replicates(value, (self.total / self.directions * scale).numpy(), self.sizes, self.drawn,
                               seconds=self.seconds)

"""FD∞: the Fréchet distance extrapolated to infinitely many generated samples (Chong & Forsyth, "Effectively
Unbiased FID and Inception Score and where to find them", CVPR 2020, section 3, Eq. 5-7), on feature arrays.

FD_N, the Fréchet distance (``frechet.frechet_distance``, Heusel et al. 2017 Eq. 6) between the real statistics and
those of N generated samples, is biased upwards, and to first order the bias is linear in 1/N: E[FD_N] = FD∞ + k/N
+ O(1/N²) (their Eq. 5-6, a Taylor expansion in the sample covariance's error). FD∞ is the intercept of the
ordinary least-squares line of FD_N against 1/N over several N (their Eq. 7).

Reference followed: mchong6/FID_IS_infinity ``score_infinity.py`` ``calculate_FID_infinity`` (read at commit 32a8ff1):
- real statistics from the whole real set, fixed (``gt_path``'s precomputed mu, sigma); the generated side
  subsampled;
- ``NUM_POINTS`` = 15 sizes (``num_points=15``), spaced linearly in N (``np.linspace(5000, num_im, num_points)``,
  truncated to integers by ``astype('int32')``) from a smallest N to all the generated samples;
- each size a fresh random subset without replacement (``np.random.shuffle(activations)`` then the first N; the
  comment there says "with replacement" but the code takes distinct rows);
- ``sklearn.linear_model.LinearRegression`` of FD_N on 1/N, unweighted, and its prediction at 1/N = 0.
Here the shuffle is ``np.random.default_rng(seed).permutation(n)[:N]``, drawn afresh for each size in increasing N,
so the result is deterministic given ``seed``; the fit is the same OLS in closed form.

Smallest N (adapted). The reference's smallest N is num_im / 10 (5000 of 50000): ``MIN_FRACTION``. genbench scores
90 to 10000 samples, where a tenth is 9 to 1000. ``MIN_SIZE`` = 30 is a floor (mine): below ~30 rows a sample
covariance is a poor estimate in any feature space, the first-order 1/N expansion the fit relies on is far from
its regime, and OLS gives the smallest sizes (largest 1/N) the most leverage on the intercept, so a few tiny
subsets would decide it. With the floor, n = 90 fits N = 30..90 (1/N spans a factor 3; with 15 distinct sizes);
from n = 300 up the reference's factor 10 holds. Below ``MIN_GENERATED`` = 60 generated samples the sizes would
span less than a factor 2 in 1/N, so the line would be extrapolated over more than its own fitted range to reach
1/N = 0, and the result is None with that reason (also when fewer than ``MIN_POINTS`` = 10 distinct sizes remain,
or fewer than 2 real samples).

Uncertainty reported. ``residual_se`` is the OLS residual standard error sqrt(RSS / (k - 2)) over the k sizes, and
``intercept_se`` = residual_se * sqrt(1/k + mean(x)² / Sxx), x = 1/N, the textbook standard error of an OLS
intercept. They measure how well a line fits and the subsetting noise; they assume independent residuals, while
all subsets come from the same n generated samples (nested in expectation), so they understate the total
uncertainty: the sampling noise of the n generated and the real samples themselves is not in them (a bootstrap of
both sets is). Read a large ``residual_se`` relative to the FD spread as curvature: the 1/N model does not hold.

Where FD∞ is reliable and where not. It removes the generated side's 1/N bias only; the real statistics' own bias at
their sample size stays in the value (as in the reference, whose 50000-image real statistics make it small). The
linear model needs N well above the features' effective dimension: with N below the dimension d (``below_dim``:
the smallest N is <= d; e.g. any genbench run under 2048 samples in Inception space) the sample covariance is
singular and FD_N is not linear in 1/N (for Sigma = I and N << d the square-root term grows like sqrt(d N)),
so the intercept can be far off -- even negative, which is reported as is (FD∞ is an extrapolation, not a
distance). With N >> d it is close to the FD of the population statistics (tests: 32-d Gaussians, 2000 samples,
within 0.25 of the true 10 over seeds 0-7, where FD at N = 200 is biased by +1.6..3.0).
Cost: the real covariance's square root once, then per size one Gram matrix of min(N, d) and its eigenvalues
(``frechet.FrechetToFixed``, the same value as ``frechet_distance``): seconds at 2048 x 1280-d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genbench.metrics.core.frechet import FrechetToFixed, feature_stats

NUM_POINTS = 15  # score_infinity.py calculate_FID_infinity(num_points=15)
MIN_FRACTION = 0.1  # score_infinity.py: smallest N = 5000 of num_im = 50000
MIN_SIZE = 30  # mine: floor on the smallest N (module notes)
MIN_GENERATED = 2 * MIN_SIZE  # mine: fewer generated samples -> no value (1/N would span less than a factor 2)
MIN_POINTS = 10  # fewest distinct sizes to fit a line to


@dataclass(frozen=True)
class FDInfinity:
    """FD∞ (``value``, the OLS intercept at 1/N = 0) and its fit: the ``sizes`` N, ``fd`` FD_N at each, the
    ``slope`` (FD per unit 1/N), ``intercept_se`` and ``residual_se`` (module notes). ``value`` is None, with a
    ``reason``, when the fit would be meaningless; ``below_dim`` flags a smallest N at or below the dimension."""

    value: float | None
    sizes: np.ndarray
    fd: np.ndarray
    slope: float | None
    intercept_se: float | None
    residual_se: float | None
    n_real: int
    n_generated: int
    below_dim: bool
    reason: str | None = None


def _array(x, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0 or not np.isfinite(a).all():
        raise ValueError(f"{name}: expected a non-empty finite (n, d) feature array, got shape {a.shape}")
    return a


def fit_sizes(n: int, points: int = NUM_POINTS) -> np.ndarray:
    """The distinct sample sizes N at which FD_N is computed: ``points`` linearly spaced from
    max(n * MIN_FRACTION, MIN_SIZE) to n, truncated to integers as the reference does (may be fewer when n is small)."""
    low = max(int(n * MIN_FRACTION), MIN_SIZE)
    return np.unique(np.linspace(low, n, points).astype(np.int64)) if n >= low else np.zeros(0, np.int64)


def ols_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """(intercept, slope, intercept standard error, residual standard error) of the least-squares line y ~ a + b x."""
    k = len(x)
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - ym)).sum() / sxx)
    intercept = float(ym - slope * xm)
    rss = float(((y - intercept - slope * x) ** 2).sum())
    resid_se = float(np.sqrt(rss / (k - 2)))
    return intercept, slope, resid_se * float(np.sqrt(1.0 / k + xm**2 / sxx)), resid_se


def fd_infinity(real, fake, seed: int = 0, points: int = NUM_POINTS) -> FDInfinity:
    """FD∞ of ``fake`` (n, d) against ``real`` (m, d): FD_N at ``fit_sizes(n, points)``, each on a random subset of
    N generated rows (a fresh permutation per size from ``np.random.default_rng(seed)``), against the statistics of
    all real rows; the OLS intercept of FD_N on 1/N (mchong6/FID_IS_infinity ``calculate_FID_infinity``)."""
    x, y = _array(real, "real"), _array(fake, "fake")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: real {x.shape[1]} vs fake {y.shape[1]}")
    n, d = len(y), y.shape[1]
    sizes = fit_sizes(n, points)
    empty = np.zeros(0)
    if len(x) < 2:
        return FDInfinity(None, sizes, empty, None, None, None, len(x), n, False, "fewer than 2 real samples")
    if n < MIN_GENERATED or len(sizes) < MIN_POINTS:
        why = (f"{n} generated samples: FD∞ needs at least {MIN_GENERATED} (sizes {MIN_SIZE}..n spanning a factor 2 "
               f"in 1/N) and {MIN_POINTS} distinct sizes, got {len(sizes)}")
        return FDInfinity(None, sizes, empty, None, None, None, len(x), n, bool(sizes[:1].sum() <= d), why)
    to_real = FrechetToFixed(*feature_stats(x))  # the real statistics' square root once, not once per size
    rng = np.random.default_rng(seed)
    fds = np.empty(len(sizes))
    for i, size in enumerate(sizes):
        fds[i] = to_real(y[rng.permutation(n)[:size]])
    value, slope, int_se, res_se = ols_line(1.0 / sizes, fds)
    return FDInfinity(value, sizes, fds, slope, int_se, res_se, len(x), n, bool(sizes[0] <= d))

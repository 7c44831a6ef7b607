"""Feature-space distribution distances shared by ``fid``, ``fd_rand``, ``kid`` and ``kid_rand``.

- Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., "GANs Trained by a Two
  Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, section 4 / Eq. 6):
  d² = ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^{1/2}). Same maths as pytorch-fid's
  ``calculate_frechet_distance`` (whose sqrtm path is kept as ``method='sqrtm'``).
- Kernel distance (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, section 4 / Eq. 4 for the
  unbiased MMD² estimator, Appendix: the cubic polynomial kernel k(x, y) = (x·y / d + 1)^3), averaged
  over random subsets as in their reference code.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (rows = samples), float64, as pytorch-fid computes them."""
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^{1/2}) for symmetric PSD S1, S2 via two symmetric eigendecompositions:
    (S1 S2)^{1/2} is similar to (S1^{1/2} S2 S1^{1/2})^{1/2}, which is symmetric PSD."""
    lam, u = np.linalg.eigh(sigma1)
    root = (u * np.sqrt(np.clip(lam, 0, None))) @ u.T
    ev = np.linalg.eigvalsh(root @ sigma2 @ root)
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, method: str = "eigh") -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, Eq. 6).

    ``method='sqrtm'`` is pytorch-fid's computation verbatim (scipy.linalg.sqrtm of S1 S2, with its
    eps-regularised retry); the default ``'eigh'`` computes the same trace from two symmetric
    eigendecompositions, several times faster at 2048-d and free of sqrtm's complex round-off
    (tests check both against pytorch-fid)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics differ in shape: {mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    if method == "eigh":
        tr_covmean = _trace_sqrt_product(sigma1, sigma2)
    elif method == "sqrtm":
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
        if not np.isfinite(covmean).all():
            # product might be almost singular: regularise both diagonals, as pytorch-fid does
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        if np.iscomplexobj(covmean):
            if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
                raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the matrix square root")
            covmean = covmean.real
        tr_covmean = float(np.trace(covmean))
    else:
        raise ValueError(f"unknown method {method!r}")
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


class FrechetToFixed:
    """Fréchet distances (Eq. 6) of many feature sets to one fixed Gaussian (mu, sigma), e.g. FD∞'s subsets against
    the real statistics: sigma's square root R is taken once; for a set with centred rows Xc (N x d) and
    S_g = Xcᵀ Xc / (N - 1), Tr((sigma S_g)^{1/2}) = Tr((R S_g R)^{1/2}) is the sum of the square roots of the
    eigenvalues of the Gram matrix of Y = Xc R / sqrt(N - 1) (N x N or d x d, whichever is smaller), the same
    trace ``frechet_distance`` takes from two d x d eigendecompositions (tests check it), at a fraction of the
    cost when sets are many or small."""

    def __init__(self, mu: np.ndarray, sigma: np.ndarray):
        self.mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
        lam, u = np.linalg.eigh(sigma)
        self.root = (u * np.sqrt(np.clip(lam, 0, None))) @ u.T
        self.trace = float(np.trace(sigma))

    def __call__(self, feats: np.ndarray) -> float:
        feats = np.asarray(feats, np.float64)
        n = len(feats)
        mu_g = feats.mean(axis=0)
        xc = feats - mu_g
        y = xc @ self.root / np.sqrt(n - 1)
        gram = y @ y.T if n <= y.shape[1] else y.T @ y
        tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0, None)).sum())
        diff = mu_g - self.mu
        return float(diff @ diff + self.trace + (xc * xc).sum() / (n - 1) - 2 * tr_sqrt)


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (x·y / d + coef0)^degree, d the feature dimension (Bińkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² estimate (Bińkowski et al. 2018, Eq. 4; Gretton et al. 2012, Lemma 6):
    mean of k(x_i, x_j) over i != j + the same for y - 2 mean of k(x_i, y_j) over all i, j."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD² needs at least 2 samples per set")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kernel_distance(real: np.ndarray, fake: np.ndarray, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of the unbiased MMD² over ``subsets`` random subsets of
    ``min(subset_size, len(real), len(fake))`` samples drawn without replacement from each set. When both sets
    have exactly that many samples every subset is the whole set (in another order): the value is computed once
    and its standard deviation is 0 (the same value to float64 round-off, at 1/100 of the cost). Where the
    subsets' kernel matrices would cost more than the whole sets' (subsets x subset_size² > n_real x n_fake,
    e.g. 100 subsets of 1,000 from 2,048), every subset's MMD² is summed from the whole sets' kernel matrices
    instead (``_subset_mmd2``): the same subsets and values to float64 round-off, 1/20 of the time at 2 x
    2,048 (benchmarks/RESULTS.md)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m = min(subset_size, len(real), len(fake))
    if m == len(real) == len(fake):
        return mmd2_unbiased(real, fake), 0.0
    rng = np.random.default_rng(seed)
    picks = [(rng.choice(len(real), m, replace=False), rng.choice(len(fake), m, replace=False))
             for _ in range(subsets)]
    if subsets * m * m > len(real) * len(fake):
        vals = _subset_mmd2(real, fake, picks)
    else:
        vals = np.array([mmd2_unbiased(real[a], fake[b]) for a, b in picks])
    return float(vals.mean()), float(vals.std())


KERNEL_ROWS = 1024  # rows of a whole-set kernel matrix made at once by ``_subset_mmd2``


def _subset_mmd2(real: np.ndarray, fake: np.ndarray, picks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``mmd2_unbiased`` of each (real rows, fake rows) pick, from the whole sets' kernel matrices made in blocks
    of ``KERNEL_ROWS`` rows: with 0/1 rows W selecting each pick, a subset's sum of k over its pairs is the row of
    (W K) Wᵀ on the diagonal, the within-set sums over pairs of distinct points."""
    m = len(picks[0][0])
    w_r, w_g = np.zeros((len(picks), len(real))), np.zeros((len(picks), len(fake)))
    for s, (a, b) in enumerate(picks):
        w_r[s, a], w_g[s, b] = 1.0, 1.0

    def pair_sums(x: np.ndarray, y: np.ndarray, w_x: np.ndarray, w_y: np.ndarray, within: bool) -> np.ndarray:
        out = np.zeros(len(w_x))
        for i in range(0, len(x), KERNEL_ROWS):
            k = polynomial_kernel(x[i:i + KERNEL_ROWS], y)
            if within:  # pairs of distinct points: k(x_i, x_i) left out, as mmd2_unbiased leaves out the trace
                np.fill_diagonal(k[:, i:i + KERNEL_ROWS], 0.0)
            out += np.einsum("sj,sj->s", w_x[:, i:i + KERNEL_ROWS] @ k, w_y)
        return out

    sxx = pair_sums(real, real, w_r, w_r, True) / (m * (m - 1))
    syy = pair_sums(fake, fake, w_g, w_g, True) / (m * (m - 1))
    return sxx + syy - 2 * pair_sums(real, fake, w_r, w_g, False) / (m * m)

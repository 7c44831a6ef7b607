"""Fréchet distance, KID and SWD maths on synthetic data."""

import numpy as np
import pytest
import torch
from metric_fakes import single_blas_thread  # noqa: F401
from pytorch_fid.fid_score import calculate_frechet_distance

from genbench.metrics.core import frechet as frechet_module
from genbench.metrics.core.frechet import (
    feature_stats,
    frechet_distance,
    kernel_distance,
    mmd2_unbiased,
    polynomial_kernel,
)
from genbench.metrics.swd import swd


def _spd(rng, d):
    a = rng.standard_normal((d, 2 * d))
    return a @ a.T / (2 * d)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_fd_of_unit_gaussians_is_squared_mean_difference(method):
    rng = np.random.default_rng(0)
    mu = rng.standard_normal(16)
    assert frechet_distance(np.zeros(16), np.eye(16), mu, np.eye(16), method=method) == pytest.approx(mu @ mu, 1e-9)
    # and from samples: N(0, I) vs N(mu, I), 20k draws in 4-d
    mu4 = np.array([1.0, -2.0, 0.5, 0.0])
    a, b = rng.standard_normal((20000, 4)), rng.standard_normal((20000, 4)) + mu4
    assert frechet_distance(*feature_stats(a), *feature_stats(b), method=method) == pytest.approx(5.25, abs=0.1)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_fd_matches_pytorch_fid_on_random_statistics(method):
    rng = np.random.default_rng(1)
    for d in (3, 32, 64):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        ref = calculate_frechet_distance(mu1, s1, mu2, s2)
        assert frechet_distance(mu1, s1, mu2, s2, method=method) == pytest.approx(ref, rel=1e-7, abs=1e-8)


def test_fd_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_mmd2_unbiased_matches_brute_force():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((7, 5)), rng.standard_normal((6, 5)) + 0.3
    k = lambda a, b: (a @ b / 5 + 1) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / 42
    syy = sum(k(y[i], y[j]) for i in range(6) for j in range(6) if i != j) / 30
    sxy = sum(k(x[i], y[j]) for i in range(7) for j in range(6)) / 42
    assert mmd2_unbiased(x, y) == pytest.approx(sxx + syy - 2 * sxy, rel=1e-12)


def test_kid_is_unbiased_on_identical_distributions():
    """Mean over independent draws from one distribution is 0 within sampling error, while the
    biased (V-statistic) MMD² is clearly positive on the same draws."""
    rng = np.random.default_rng(3)
    unbiased, biased = [], []
    for _ in range(300):
        x, y = rng.standard_normal((20, 8)), rng.standard_normal((20, 8))
        unbiased.append(mmd2_unbiased(x, y))
        biased.append(polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean()
                      - 2 * polynomial_kernel(x, y).mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    se = unbiased.std() / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * se
    assert biased.mean() > 10 * se
    assert (unbiased < 0).any()  # an unbiased estimator of 0 must go negative


def test_kid_grows_with_shift():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((300, 8))
    res = [kernel_distance(real, rng.standard_normal((300, 8)) + s, subsets=10, subset_size=100)
           for s in (0.0, 0.5, 1.0)]
    (v0, sd0), (v1, _), (v2, _) = res
    assert abs(v0) < 2 * sd0 and 10 * abs(v0) < v1 < v2


def test_kid_of_whole_sets_is_computed_once_and_equals_every_subsets_value():
    """subset_size >= both sets: each of KID's subsets is a permutation of the whole sets, so it is computed once
    (std 0); the value is every permuted subset's MMD² to float64 round-off."""
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((120, 6)), rng.standard_normal((120, 6)) + 0.3
    value, sd = kernel_distance(real, fake, subsets=100, subset_size=1000)
    perms = [mmd2_unbiased(real[rng.permutation(120)], fake[rng.permutation(120)]) for _ in range(5)]
    assert sd == 0.0 and value > 0
    assert np.allclose(perms, value, rtol=1e-12, atol=0)
    # one set larger than the subsets: subsets are drawn, and they differ
    _, sd_sub = kernel_distance(real, np.vstack([fake, fake + 0.1]), subsets=5, subset_size=1000)
    assert sd_sub > 0


def test_kid_subsets_from_the_whole_sets_kernels_are_each_subsets_mmd2():
    """Where the subsets' kernel matrices would cost more than the whole sets' (10 x 20² > 48 x 45), each subset's
    MMD² is summed from the whole sets' kernel matrices, in blocks (2 rows here, so the diagonal of every block is
    left out): the same subsets, mean and std as the subset-by-subset loop, to float64 round-off."""
    rng = np.random.default_rng(8)
    real, fake = rng.standard_normal((48, 5)), rng.standard_normal((45, 5)) * 1.2 + 0.2
    replay = np.random.default_rng(3)
    want = [mmd2_unbiased(real[replay.choice(48, 20, replace=False)], fake[replay.choice(45, 20, replace=False)])
            for _ in range(10)]
    got = kernel_distance(real, fake, subsets=10, subset_size=20, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frechet_module, "KERNEL_ROWS", 2)
        blocked = kernel_distance(real, fake, subsets=10, subset_size=20, seed=3)
    for mean, std in (got, blocked):
        assert mean == pytest.approx(np.mean(want), rel=1e-12)
        assert std == pytest.approx(np.std(want), rel=1e-10) and std > 0
    # few small subsets (2 x 10² < 48 x 45): one subset at a time, from the same stream of picks
    replay = np.random.default_rng(3)
    few = [mmd2_unbiased(real[replay.choice(48, 10, replace=False)], fake[replay.choice(45, 10, replace=False)])
           for _ in range(2)]
    assert kernel_distance(real, fake, subsets=2, subset_size=10, seed=3) == (np.mean(few), np.std(few))


def test_swd_near_zero_for_identical_sets_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    same, _ = swd(real, real.clone())
    assert same == pytest.approx(0.0, abs=1e-9)
    other = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1  # same distribution, new draws
    base, _ = swd(real, other)
    # descriptors are normalised per channel (ProGAN), so shift the texture distribution: blend towards a blur
    blurred = torch.nn.functional.avg_pool2d(other, 3, 1, 1)
    shifted = [swd(real, other * (1 - s) + s * blurred)[0] for s in (0.5, 1.0)]
    assert base < shifted[0] < shifted[1]
    assert shifted[1] > 1.2 * base

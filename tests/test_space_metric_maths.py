"""CMMD, FD∞ and authenticity (genbench.metrics.core.cmmd / fdinf / authenticity) on synthetic features: parity with
straightforward implementations of the published definitions, readings that must be low and high, chunking."""

import math

import numpy as np
import pytest
from metric_fakes import single_blas_thread  # noqa: F401
from scipy import linalg, stats
from scipy.spatial.distance import cdist
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import NearestNeighbors

from genbench.metrics.core import copying
from genbench.metrics.core.authenticity import authenticity, training_radii
from genbench.metrics.core.cmmd import SCALE, SIGMA, cmmd, l2_normalize, rbf_kernel, rbf_kernel_mean
from genbench.metrics.core.fdinf import MIN_GENERATED, fd_infinity, fit_sizes


def _sphere(rng, n, d, shift=0.0):
    """n points of N(shift e_1, I) in d dimensions, L2-normalised (CLIP embeddings are unit vectors)."""
    x = rng.standard_normal((n, d))
    x[:, 0] += shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- CMMD ----------------------------------------------------------------------------------------------------------
def _cmmd_loops(x, y, sigma=SIGMA, scale=SCALE):
    """The V-statistic MMD² by double loops over every pair, diagonal included (Gretton et al. 2012 Eq. 5)."""
    def mean_k(a, b):
        return sum(math.exp(-float(((p - q) ** 2).sum()) / (2 * sigma**2)) for p in a for q in b) / (len(a) * len(b))
    return scale * (mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y))


def test_cmmd_matches_the_double_loop_definition_and_the_kernel_matrix():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), rng.standard_normal((30, 5)) + 0.7
    assert cmmd(x, y, normalize=False) == pytest.approx(_cmmd_loops(x, y), rel=1e-10)
    assert cmmd(x, y, sigma=2.0, scale=1.0, normalize=False) == pytest.approx(_cmmd_loops(x, y, 2.0, 1.0), rel=1e-10)
    # normalize=True is the same statistic on unit rows (the reference's CLIP embedding normalises)
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    np.testing.assert_allclose(l2_normalize(x), xn, rtol=1e-14)
    assert cmmd(x, y) == pytest.approx(_cmmd_loops(xn, yn), rel=1e-10)
    np.testing.assert_allclose(rbf_kernel(x, y, 3.0), np.exp(-cdist(x, y, "sqeuclidean") / 18.0), rtol=1e-12)
    import torch  # tensors are accepted as they are
    assert cmmd(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(cmmd(x, y), rel=1e-14)


def test_cmmd_chunked_equals_whole():
    rng = np.random.default_rng(1)
    x, y = _sphere(rng, 70, 12), _sphere(rng, 50, 12, shift=0.5)
    whole = cmmd(x, y)
    assert cmmd(x, y, chunk_bytes=8) == pytest.approx(whole, rel=1e-12)  # one row per block
    assert cmmd(x, y, chunk_bytes=8 * 3 * 70) == pytest.approx(whole, rel=1e-12)
    assert rbf_kernel_mean(x, y, chunk_bytes=8) == pytest.approx(rbf_kernel(x, y).mean(), rel=1e-12)


def test_cmmd_reads_its_bias_floor_on_one_distribution_and_high_on_a_shift():
    """Same distribution: E[V] = SCALE (1/m + 1/n) (1 - E k(x, x')) (the diagonal's share), ~0.1 here; the values of
    20 independent pairs of sets must scatter around that within their standard error. A shift of 2 along e_1 (in
    32-d, before normalising) must read far above it: a statistic dropping the diagonal (expectation 0) or using
    the wrong kernel fails one of the two."""
    rng = np.random.default_rng(2)
    m = n = 100
    same = np.array([cmmd(_sphere(rng, m, 32), _sphere(rng, n, 32)) for _ in range(20)])
    pool = _sphere(rng, 400, 32)
    ek = (rbf_kernel(pool, pool).sum() - len(pool)) / (len(pool) * (len(pool) - 1))  # E k(x, x'), x != x'
    floor = SCALE * (1 / m + 1 / n) * (1 - ek)
    se = same.std(ddof=1) / np.sqrt(len(same))
    assert abs(same.mean() - floor) < 4 * se
    assert same.max() < floor + 5 * same.std(ddof=1)
    shifted = cmmd(_sphere(rng, m, 32), _sphere(rng, n, 32, shift=2.0))
    assert shifted > floor + 20 * same.std(ddof=1)


# -- FD∞ -----------------------------------------------------------------------------------------------------------
def _fd_sqrtm(a, b):
    """Fréchet distance of the two sets' Gaussians, pytorch-fid's formula with scipy.linalg.sqrtm."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fdinf_matches_subset_fds_and_a_least_squares_line():
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((500, 6)), 0.4 + 1.3 * rng.standard_normal((300, 6))
    res = fd_infinity(real, fake, seed=7)
    sub = np.random.default_rng(7)  # the documented protocol: a fresh permutation per size, sizes increasing
    fds = np.array([_fd_sqrtm(fake[sub.permutation(300)[:size]], real) for size in res.sizes])
    np.testing.assert_allclose(res.fd, fds, rtol=1e-10)
    x = 1.0 / res.sizes
    slope, intercept = np.polyfit(x, fds, 1)
    lr = stats.linregress(x, fds)
    reference = LinearRegression().fit(x.reshape(-1, 1), fds.reshape(-1, 1)).predict(np.array([[0.0]]))[0, 0]
    assert res.value == pytest.approx(intercept, rel=1e-10) and res.value == pytest.approx(reference, rel=1e-10)
    assert res.slope == pytest.approx(slope, rel=1e-10)
    assert res.intercept_se == pytest.approx(lr.intercept_stderr, rel=1e-10)
    resid = fds - (intercept + slope * x)
    assert res.residual_se == pytest.approx(np.sqrt((resid**2).sum() / (len(x) - 2)), rel=1e-10)


def test_fdinf_sizes_follow_the_reference_and_the_small_sample_floor():
    # calculate_FID_infinity: np.linspace(5000, num_im, num_points).astype('int32') with num_im = 50000, 15 points
    np.testing.assert_array_equal(fit_sizes(50000), np.linspace(5000, 50000, 15).astype("int32"))
    np.testing.assert_array_equal(fit_sizes(90), np.linspace(30, 90, 15).astype(int))  # floor 30, 15 distinct
    assert len(fit_sizes(90)) == 15 and len(fit_sizes(MIN_GENERATED)) >= 10


def test_fdinf_is_none_with_a_reason_when_too_small_and_deterministic_with_the_seed():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((200, 4))
    small = fd_infinity(real, rng.standard_normal((MIN_GENERATED - 1, 4)))
    assert small.value is None and "generated samples" in small.reason
    assert fd_infinity(real[:1], rng.standard_normal((100, 4))).reason == "fewer than 2 real samples"
    fake = rng.standard_normal((MIN_GENERATED, 4))
    assert fd_infinity(real, fake).value is not None
    a, b, c = fd_infinity(real, fake, seed=1), fd_infinity(real, fake, seed=1), fd_infinity(real, fake, seed=2)
    assert a.value == b.value and np.array_equal(a.fd, b.fd) and not np.array_equal(a.fd, c.fd)


def test_fdinf_of_one_gaussian_is_near_zero_while_small_sample_fd_is_not():
    """8-d N(0, I) both sides, 20000 real and 1000 generated samples. FD_N's bias is ~(d + d(d+1)/4)/N = 26/N
    (mean term + the square-root term's second order): ~0.2 at N = 100 (measured 0.18-0.25 over seeds 0-4);
    the intercept removes it, leaving the real side's ~26/20000 and noise (measured 0.000-0.021, intercept_se
    ~0.008)."""
    rng = np.random.default_rng(5)
    res = fd_infinity(rng.standard_normal((20000, 8)), rng.standard_normal((1000, 8)), seed=0)
    assert res.sizes[0] == 100 and res.fd[0] > 0.12
    assert abs(res.value) < 0.05 and res.fd[0] > 4 * abs(res.value)
    assert res.slope > 0 and (res.value < res.fd).all()  # biased case: the intercept lies below every FD_N
    assert not res.below_dim


def test_fdinf_of_two_gaussians_is_their_closed_form_distance():
    """Real N(0, I), generated N(0.25 * 1, 1.5² I) in 32-d: FD = 32 * 0.25² + 32 * (1 - 1.5)² = 10. With 2000
    generated samples the value's sampling sd is ~0.16 (delta method: 2 sqrt(mu'S mu / n) = 0.095 from the mean,
    (1 - 1/1.5) sqrt(2 d 1.5⁴ / n) = 0.13 from the covariance; measured errors -0.22..0.17 over seeds 0-7), so the
    tolerance is 0.5 (~3 sd); FD at N = 200 is biased by +1.6..3.0 (measured), far outside it."""
    rng = np.random.default_rng(6)
    d = 32
    real, fake = rng.standard_normal((20000, d)), 0.25 + 1.5 * rng.standard_normal((2000, d))
    res = fd_infinity(real, fake, seed=0)
    assert abs(res.value - 10.0) < 0.5
    assert res.fd[0] - 10.0 > 1.0 and res.below_dim is False


# -- authenticity --------------------------------------------------------------------------------------------------
def _authentic_brute(train, gen):
    """The rule from full distance matrices: nearest training point j (lowest index on ties), authentic iff its own
    nearest other training point is strictly closer than the generated sample."""
    tt = cdist(train, train)
    np.fill_diagonal(tt, np.inf)
    gt = cdist(gen, train)
    j = gt.argmin(1)
    return tt.min(1)[j] < gt[np.arange(len(gen)), j]


def _authentic_reference(train, gen):
    """ahmedmalaa/evaluating-generative-models metrics/evaluation.py (commit 12a1423) lines 41-43 and 81-85."""
    nbrs_real = NearestNeighbors(n_neighbors=2, p=2).fit(train)
    real_to_real = nbrs_real.kneighbors(train)[0][:, 1]
    synth_to_real, synth_to_real_args = nbrs_real.kneighbors(gen)
    return real_to_real[synth_to_real_args[:, 0]] < synth_to_real[:, 0]


def test_authenticity_matches_brute_force_and_the_reference_rule():
    rng = np.random.default_rng(7)
    train, gen = rng.standard_normal((300, 8)), 1.1 * rng.standard_normal((200, 8))
    res = authenticity(train, gen)
    expected = _authentic_brute(train, gen)
    np.testing.assert_array_equal(res.authentic, expected)
    np.testing.assert_array_equal(res.authentic, _authentic_reference(train, gen))
    assert res.value == expected.mean() and res.percent == pytest.approx(100 * expected.mean())
    tt = cdist(train, train)
    np.fill_diagonal(tt, np.inf)
    np.testing.assert_allclose(training_radii(train), tt.min(1), rtol=1e-10)
    np.testing.assert_allclose(res.distance, cdist(gen, train).min(1), rtol=1e-10)
    assert authenticity(train, gen, radii=training_radii(train)).value == res.value


def test_authenticity_chunked_equals_whole(monkeypatch):
    rng = np.random.default_rng(8)
    train, gen = rng.standard_normal((150, 6)), rng.standard_normal((90, 6))
    whole = authenticity(train, gen)
    monkeypatch.setattr(copying, "CHUNK_BYTES", 8)  # one row per block
    tiny = authenticity(train, gen)
    np.testing.assert_array_equal(tiny.authentic, whole.authentic)
    np.testing.assert_array_equal(tiny.nearest, whole.nearest)
    np.testing.assert_allclose(tiny.distance, whole.distance, rtol=1e-12)


def test_authenticity_of_training_copies_is_zero_and_falls_with_the_copied_share():
    rng = np.random.default_rng(9)
    train = rng.standard_normal((400, 16))
    train[1] = train[0]  # a duplicated training image: radius 0, its copies still are not authentic
    copies = train[rng.choice(400, 300)]
    assert authenticity(train, copies).value == 0.0
    assert authenticity(train, train[:2]).value == 0.0
    fresh = rng.standard_normal((300, 16))
    half = np.concatenate([fresh[:150], copies[:150]])
    assert authenticity(train, half).value == pytest.approx(authenticity(train, fresh[:150]).value / 2)


def test_authenticity_of_fresh_samples_is_the_non_mutual_neighbour_share():
    """A fresh sample g is inauthentic iff g and its nearest training point are mutual nearest neighbours in
    T ∪ {g}; by exchangeability its chance is the share of points in mutual-NN pairs in such a set. In 1-d (Poisson
    limit) that share is 2/3 exactly (gaps L, R, R' iid exponential: P(min(L, R) < R') = 2/3), so AuthPct = 1/3;
    in 16-d it is estimated from the training set itself (measured AuthPct ~0.69 at n = 2000). Binomial se of the
    mean over 2000 samples <= 0.011."""
    rng = np.random.default_rng(10)
    one_d = authenticity(rng.uniform(size=(4000, 1)), rng.uniform(size=(2000, 1))).value
    assert abs(one_d - 1 / 3) < 0.04
    train, gen = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    tt = cdist(train, train)
    np.fill_diagonal(tt, np.inf)
    nn = tt.argmin(1)
    mutual = (nn[nn] == np.arange(len(train))).mean()
    value = authenticity(train, gen).value
    assert abs(value - (1 - mutual)) < 0.05 and value > 0.4

"""C_T data-copying statistic (genbench.metrics.core.copying) on synthetic features: a mixture of 5 Gaussians in 32-d
(unit spread, centres ~N(0, 16 I)), 600 training, 400 held-out and 400 generated points, so the default
partition has 10 cells of ~40 held-out points. Measured values quoted in comments are from 20 data seeds
(0-19) unless said otherwise."""

import numpy as np
import pytest
from metric_fakes import single_blas_thread  # noqa: F401

from genbench.metrics.core import copying
from genbench.metrics.core.copying import _statistic_in_cells, copying_statistic, nearest_training

D, MODES, N_TRAIN, N_HELDOUT, N_GEN = 32, 5, 600, 400, 400


def _world(seed):
    """(rng, draw(n) -> (points, mode labels), training points, their modes, held-out points)."""
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((MODES, D))

    def draw(n):
        modes = rng.integers(MODES, size=n)
        return centres[modes] + rng.standard_normal((n, D)), modes

    (train, modes), (heldout, _) = draw(N_TRAIN), draw(N_HELDOUT)
    return rng, draw, train, modes, heldout


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_training_copies_read_strongly_negative(seed):
    rng, _, train, _, heldout = _world(seed)
    copies = train[rng.integers(N_TRAIN, size=N_GEN)] + 0.05 * rng.standard_normal((N_GEN, D))
    r = copying_statistic(train, heldout, copies, seed=seed)
    # measured -8.98 .. -7.66 (seeds 0-19; -8.02, -7.65, -7.86 for 0-2); the most negative a cell can read is
    # about -sqrt(3 * 40 * 40 / 81) = -7.7 for 40 + 40 points, so this is near the floor
    assert r.c_t < -6
    assert (r.cells, r.n_train, r.n_heldout, r.n_generated) == (10, N_TRAIN, N_HELDOUT, N_GEN)
    assert r.cells_used + r.cells_dropped == r.cells and r.cells_used >= 8
    assert not r.few_samples
    assert np.all(r.z[r.used] < 0)


def test_fresh_draws_read_near_zero():
    values = []
    for seed in range(10):
        _, draw, train, _, heldout = _world(seed)
        r = copying_statistic(train, heldout, draw(N_GEN)[0], seed=seed)
        assert not r.few_samples
        values.append(r.c_t)
    values = np.array(values)
    # measured over seeds 0-149: -0.94 .. 0.78, mean 0.00, sd 0.33 (C_T averages ~10 cell z-scores: its null
    # spread is sqrt(sum w^2) / sum w, 0.35 on average here, not 1)
    assert np.abs(values).max() < 1.5
    assert abs(values.mean()) < 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_averages_across_modes_read_as_underfitting_not_copying(seed):
    """Means of random training pairs (4 in 5 from different modes) and of random groups of 8 lie between the
    modes, farther from every training point than fresh data: C_T clearly positive."""
    rng, _, train, _, heldout = _world(seed)
    pairs = train[rng.integers(N_TRAIN, size=(2, N_GEN))].mean(axis=0)
    groups = train[rng.integers(N_TRAIN, size=(8, N_GEN))].mean(axis=0)
    # measured: pairs 4.11 .. 6.63 (seeds 0-19), groups of 8 8.41 .. 9.20 (seeds 0-4)
    assert copying_statistic(train, heldout, pairs, seed=seed).c_t > 3
    assert copying_statistic(train, heldout, groups, seed=seed).c_t > 3


def test_averages_within_a_mode_read_as_copying_a_known_limitation():
    """Not a wish but a limitation the module notes state: means of two training points of the same mode
    shrink towards the mode's centre, a denser place, where the nearest training point is closer (about
    sqrt(d) away) than for a fresh draw (about sqrt(2d)). C_T cannot tell this from copying; it reads as
    low as the noisy copies above."""
    rng, _, train, modes, heldout = _world(0)
    pick = [rng.choice(np.flatnonzero(modes == c), 2, replace=False) for c in rng.integers(MODES, size=N_GEN)]
    shrunk = train[np.array(pick)].mean(axis=1)
    # measured -8.51 .. -7.70 (seeds 0-19; -8.14 for seed 0)
    assert copying_statistic(train, heldout, shrunk, seed=0).c_t < -6


def test_tiny_heldout_split_is_flagged_and_cannot_read_far_below_zero():
    rng, draw, train, _, heldout = _world(3)
    tiny = heldout[:10]
    exact_copies = train[rng.integers(N_TRAIN, size=N_GEN)]
    r = copying_statistic(train, tiny, exact_copies)
    assert r.few_samples and r.cells == 1 and r.cells_used == 1
    # every copy is at distance 0, below every held-out distance: U = 0, the floor the module notes state
    n, m = 10, N_GEN
    floor = -(n * m / 2 - 0.5) / np.sqrt(n * m * (n + m + 1) / 12)  # -5.40
    assert r.c_t == pytest.approx(floor, rel=1e-12)
    assert copying_statistic(train, tiny, draw(N_GEN)[0]).few_samples
    # forcing 10 cells: cells without held-out points are dropped (the reference raises), still flagged
    forced = copying_statistic(train, tiny, exact_copies, cells=10)
    assert forced.few_samples and forced.heldout_counts.sum() == 10
    assert forced.cells_dropped >= (forced.heldout_counts == 0).sum() > 0
    assert np.isfinite(forced.c_t) and forced.c_t < 0


def test_no_cell_with_enough_generated_samples_gives_nan_and_the_flag():
    _, draw, train, _, heldout = _world(4)
    r = copying_statistic(train, heldout, draw(60)[0], cells=10)  # ~6 per cell, none above 20
    assert np.isnan(r.c_t) and r.cells_used == 0 and r.few_samples


def test_statistic_follows_the_reference_formula_by_hand():
    """The reference's arithmetic (data_copying_tests.py Zu, C_T) recomputed here without scipy or the module:
    U by counting pairs, Z = (U - (nm/2 - 0.5)) / sqrt(nm(n+m+1)/12), C_T weighted by P_n(cell) over cells
    with more than 20 generated samples. Cells are given (slabs of the first coordinate) so the check does not
    depend on k-means, and hold 21, 20, 35, 5 and 0 generated points: the first is kept and the second dropped
    (tau = 20/m is a strict bound in the reference). A quarter of the generated points and 5 held-out points
    are exact training points, so distances tie at 0 across the two samples."""
    rng = np.random.default_rng(7)
    train = rng.standard_normal((300, 8))
    heldout = np.concatenate([rng.standard_normal((120, 8)), train[:5]])
    pool = rng.permutation(np.concatenate([rng.standard_normal((600, 8)), train[rng.integers(300, size=200)]]))

    def cell(x):
        return np.digitize(x[:, 0], [-0.8, 0.0, 0.8, 1.6])

    generated = np.concatenate([pool[cell(pool) == c][:want] for c, want in enumerate([21, 20, 35, 5, 0])])
    lt, lp, lq = cell(train), cell(heldout), cell(generated)
    got = _statistic_in_cells(train, lt, heldout, lp, generated, lq, 5)

    num = den = 0.0
    ties = 0
    for c in range(5):
        t_c, p_c, q_c = train[lt == c], heldout[lp == c], generated[lq == c]
        if len(q_c) == 0:
            assert np.isnan(got.z[c]) and not got.used[c]
            continue
        dp = np.sqrt(((p_c[:, None] - t_c[None]) ** 2).sum(-1)).min(1)
        dq = np.sqrt(((q_c[:, None] - t_c[None]) ** 2).sum(-1)).min(1)
        u = (dq[:, None] > dp[None]).sum() + 0.5 * (dq[:, None] == dp[None]).sum()
        n, m = len(dp), len(dq)
        z = (u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12)
        assert got.z[c] == pytest.approx(z, rel=1e-12, abs=1e-12)
        assert got.used[c] == (m > 20)
        if m > 20:
            num, den = num + len(p_c) / len(heldout) * z, den + len(p_c) / len(heldout)
            ties += (dq[:, None] == dp[None]).sum()
    assert got.generated_counts.tolist() == [21, 20, 35, 5, 0] and got.cells_used == 2 and ties > 0
    assert got.weights == pytest.approx(np.bincount(lp, minlength=5) / len(heldout))
    assert got.c_t == pytest.approx(num / den, rel=1e-12)


@pytest.mark.parametrize("chunk", [copying.CHUNK_BYTES, 8 * 300 * 7])  # one block; blocks of 7 rows
def test_nearest_training_matches_brute_force(monkeypatch, chunk):
    monkeypatch.setattr(copying, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(5)
    train = rng.standard_normal((300, 24))
    generated = np.concatenate([rng.standard_normal((45, 24)), train[[3, 77, 3]]])  # exact copies too
    idx, dist = nearest_training(generated, train)
    full = np.linalg.norm(generated[:, None] - train[None], axis=2)
    ref_idx = np.argsort(full, axis=1, kind="stable")[:, :3]
    assert idx.shape == dist.shape == (48, 3)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, np.take_along_axis(full, ref_idx, axis=1), rtol=1e-12, atol=0)
    assert idx[-3:, 0].tolist() == [3, 77, 3] and np.all(dist[-3:, 0] == 0)
    all_idx, all_dist = nearest_training(generated[:4], train[:5], k=5)  # k = every training point
    np.testing.assert_array_equal(all_idx, np.argsort(full[:4, :5], axis=1, kind="stable"))


def test_rejects_mismatched_or_bad_input():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 4)), rng.standard_normal((50, 5))
    with pytest.raises(ValueError):
        copying_statistic(a, a, b)
    with pytest.raises(ValueError):
        copying_statistic(a, a, a, cells=51)
    with pytest.raises(ValueError):
        nearest_training(a, a[:2], k=3)
    with pytest.raises(ValueError):
        nearest_training(np.full((3, 4), np.nan), a)

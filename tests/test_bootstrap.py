"""Bootstrap intervals (genbench.metrics.core.bootstrap): every replicate statistic against the same statistic
computed by brute force on explicitly resampled data, the draws against numpy's stream (so the real side is
the same for every model), and the interval against the percentiles of the re-centred replicates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metric_fakes import single_blas_thread  # noqa: F401

from genbench.metrics.core import bootstrap as bs
from genbench.metrics.core.frechet import feature_stats, frechet_distance, mmd2_unbiased, polynomial_kernel


def _draws(*sizes, b=bs.B):
    """The indices scipy.stats.bootstrap draws for samples of these sizes: one stream, the first side first."""
    rng = np.random.default_rng(bs.SEED)
    return [rng.integers(0, n, (b, n)) for n in sizes]


def test_mean_interval_is_the_percentile_interval_of_recentred_replicates():
    v = np.random.default_rng(1).standard_normal(30) + 5
    iv = bs.mean_interval(v.mean(), v)
    (idx,) = _draws(30)
    by_hand = v[idx].mean(1)
    by_hand += v.mean() - by_hand.mean()  # re-centred on the value
    np.testing.assert_allclose(iv.replicates, by_hand, rtol=0, atol=1e-12)
    lo, hi = np.percentile(by_hand, [2.5, 97.5])
    assert iv.lo == pytest.approx(lo, abs=1e-12) and iv.hi == pytest.approx(hi, abs=1e-12)
    assert iv.lo < v.mean() < iv.hi and iv.replicates.mean() == pytest.approx(v.mean(), abs=1e-12)
    extra = iv.extra()
    assert extra["ci_level"] == 0.95 and len(extra["boot"]) == bs.B and extra["ci_n"] == {"images": 30}
    assert extra["ci"] == [float(f"{lo:.6g}"), float(f"{hi:.6g}")]
    assert all(x == float(f"{x:.6g}") for x in extra["boot"])  # 6 significant digits stored


def test_two_sides_draw_the_real_side_first_so_it_is_the_same_for_every_model():
    real = np.arange(40.0)
    seen = []

    def stat(wr, wf):
        seen.append((wr.copy(), wf.copy()))
        return wr @ real / 40 + wf.sum(1) * 0

    bs.bootstrap(1.0, stat, {"real": 40, "generated": 25})
    bs.bootstrap(2.0, stat, {"real": 40, "generated": 25})  # "another model": the same draws
    r, g = _draws(40, 25)
    np.testing.assert_array_equal(seen[0][0], bs.counts(r, 40))
    np.testing.assert_array_equal(seen[0][1], bs.counts(g, 25))
    np.testing.assert_array_equal(seen[0][0], seen[1][0])
    assert bs.counts(np.array([[0, 0, 2]]), 3).tolist() == [[2, 0, 1]]


def test_no_interval_from_fewer_than_two_units_or_a_non_finite_value():
    assert bs.mean_interval(1.0, [1.0]) is None
    assert bs.mean_interval(float("nan"), [1.0, 2.0]) is None
    assert bs.extra(None) == {}


def test_mean_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = sum(iv.lo <= 0 <= iv.hi for iv in (bs.mean_interval(float(x.mean()), x)
                                             for x in rng.standard_normal((300, 60))))
    assert 0.89 <= hits / 300 <= 0.99  # the percentile interval of a mean undercovers slightly at n = 60


def _resampled(x, w):
    return np.repeat(x, w.astype(int), axis=0)


@pytest.mark.parametrize("n,d", [(40, 8), (12, 20), (30, 30)])  # more points than dims, fewer, singular
def test_frechet_replicates_are_the_frechet_distance_of_the_resampled_sets(n, d):
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d)) + 0.3
    if n == d:
        x[:, -1] = x[:, 0]  # a zero-variance direction: Cholesky fails, the eigh fallback answers
    wr, wf = bs.counts(rng.integers(0, n, (3, n)), n), bs.counts(rng.integers(0, n, (3, n)), n)
    got = bs.frechet_replicates(x, y)(wr, wf)
    want = [frechet_distance(*feature_stats(_resampled(x, a)), *feature_stats(_resampled(y, b)))
            for a, b in zip(wr, wf, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_kernel_replicates_are_the_unbiased_mmd_over_pairs_of_distinct_points():
    rng = np.random.default_rng(3)
    n = 15
    x, y = rng.standard_normal((n, 6)), rng.standard_normal((n, 6)) + 0.2
    wr, wf = bs.counts(rng.integers(0, n, (2, n)), n), bs.counts(rng.integers(0, n, (2, n)), n)
    stat = bs.kernel_replicates(x, y)

    def by_hand(a, b):
        ia, ib = np.repeat(np.arange(n), a.astype(int)), np.repeat(np.arange(n), b.astype(int))

        def within(z, idx):
            pairs = [(p, q) for p in range(len(idx)) for q in range(len(idx)) if idx[p] != idx[q]]
            return np.mean([polynomial_kernel(z[idx[p]][None], z[idx[q]][None])[0, 0] for p, q in pairs])

        return within(x, ia) + within(y, ib) - 2 * polynomial_kernel(x[ia], y[ib]).mean()

    np.testing.assert_allclose(stat(wr, wf), [by_hand(a, b) for a, b in zip(wr, wf, strict=True)], rtol=1e-12)
    ones = np.ones((1, n))
    assert stat(ones, ones)[0] == pytest.approx(mmd2_unbiased(x, y), rel=1e-12)  # no resampling: KID's estimator


def test_sliced_replicates_are_w1_of_the_resampled_sets_when_the_grid_holds_every_value():
    """With a grid of every value (2 x 24 points for 24 values per set) the Riemann sum is the exact integral of
    |F_real* - F_fake*|: each replicate is W1 of the resampled sets, whole images (p rows each) repeated by
    their multiplicity, averaged over the directions."""
    g = torch.Generator().manual_seed(4)
    n, p, dirs = 6, 4, 5
    a = torch.randn(n * p, dirs, dtype=torch.float64, generator=g)
    b = torch.randn(n * p, dirs, dtype=torch.float64, generator=g) + 0.5
    acc = bs.SlicedReplicates(n, p, b=7, grid=2 * n * p)
    acc.add(*torch.sort(a, dim=0), *torch.sort(b, dim=0))
    wr, wf = acc.drawn
    want = []
    for u, v in zip(wr, wf, strict=True):
        sa = _resampled(a.numpy().reshape(n, p, dirs), u).reshape(-1, dirs)
        sb = _resampled(b.numpy().reshape(n, p, dirs), v).reshape(-1, dirs)
        want.append(np.mean([np.abs(np.sort(sa[:, j]) - np.sort(sb[:, j])).mean() for j in range(dirs)]))
    np.testing.assert_allclose(acc.total.numpy() / acc.directions, want, rtol=1e-5)
    np.testing.assert_array_equal(wr, bs.counts(_draws(n, n, b=7)[0], n))  # scipy's stream, real side first
    iv = acc.interval(float(np.mean(want)), scale=1.0)  # scipy draws the same resamples again, or this raises
    assert iv.resampled == {"real": n, "generated": n} and len(iv.replicates) == 7


def test_replicates_computed_ahead_must_match_scipys_draws():
    drawn = bs.draws({"images": 10}, b=5)
    assert bs.from_replicates(1.0, np.arange(5.0), {"images": 10}, drawn) is not None
    with pytest.raises(RuntimeError, match="other indices"):
        bs.from_replicates(1.0, np.arange(5.0), {"images": 10}, bs.draws({"images": 10}, b=5, seed=1))


def test_swd_value_is_unchanged_and_its_interval_holds_it():
    from genbench.metrics.swd import swd

    g = torch.Generator().manual_seed(0)
    real = torch.rand(40, 3, 32, 32, generator=g) * 2 - 1
    fake = (real.flip(0) * 0.8 + 0.1 * torch.randn(40, 3, 32, 32, generator=g)).clamp(-1, 1)
    boot = bs.SlicedReplicates(40, 128)
    value, levels = swd(real, fake, seed=0, boot=boot)
    assert (value, levels) == swd(real, fake, seed=0)  # the bootstrap's bookkeeping does not touch the value
    assert boot.directions == len(levels) * 512
    iv = boot.interval(value)
    assert iv.lo < value < iv.hi and iv.resampled == {"real": 40, "generated": 40}


def test_ncc_interval_resamples_samples_with_their_templates():
    from genbench.metrics.ncc import ncc_interval

    rng = np.random.default_rng(5)
    owner = np.array([0, 0, 0, 1, 2, 2, 3, 4, 4, 4, 4])  # templates of 5 prior samples (sample 1 has one)
    m = rng.random((len(owner), 7))  # NCC of each template with each of 7 images
    per_sample = np.zeros((5, 7))
    np.add.at(per_sample, owner, m)
    iv = ncc_interval(float(m.mean()), per_sample, np.bincount(owner).astype(float))
    img, smp = _draws(7, 5)
    by_hand = []
    for i, s in zip(img, smp, strict=True):
        rows = np.concatenate([np.flatnonzero(owner == k) for k in s])  # each drawn sample brings its templates
        by_hand.append(m[np.ix_(rows, i)].mean())
    by_hand = np.array(by_hand) + m.mean() - np.mean(by_hand)
    np.testing.assert_allclose(iv.replicates, by_hand, rtol=1e-12)


def test_dissect_intervals_reweight_per_image_overlaps():
    from genbench.metrics.dissect import Dissection, dissect_intervals

    rng = np.random.default_rng(6)
    n, k = 9, 3

    def counts():
        union = torch.from_numpy(rng.integers(5, 20, (n, k)))
        return torch.from_numpy(rng.integers(0, 5, (n, k))).minimum(union), union

    over = {"units": counts(), "ceiling": counts(), "control": counts()}
    iou = {name: i.sum(0).double() / u.sum(0).double() for name, (i, u) in over.items()}
    res = Dissection(iou["units"], iou["ceiling"], iou["control"], torch.zeros(k), torch.zeros(k), ["a", "b", "c"],
                     over)
    got = dissect_intervals(res)
    (idx,) = _draws(n)

    def rep(i, name):
        inter, union = over[name]
        return inter[i].sum(0).double() / union[i].sum(0).double()

    raw = np.array([[(rep(i, "units").mean() - rep(i, "control").mean()) / (rep(i, "ceiling").mean()
                                                                               - rep(i, "control").mean()),
                     rep(i, "units").mean(), (rep(i, "units") >= 0.05).sum()] for i in idx])
    for col, (name, value) in enumerate((("dissect", res.normalised), ("dissect_iou", float(res.iou.mean())),
                                         ("dissect_detectors", float(res.detectors)))):
        np.testing.assert_allclose(got[name].replicates, raw[:, col] + value - raw[:, col].mean(), rtol=1e-10)


def test_prdc_points_are_what_the_four_scores_average_and_their_intervals_resample_them():
    from genbench.metrics.core.prdc import prdc, prdc_points

    rng = np.random.default_rng(7)
    real, fake = rng.standard_normal((60, 5)), rng.standard_normal((50, 5)) + 0.3
    k = 4
    points, scores = prdc_points(real, fake, k), prdc(real, fake, k)
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=2)
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=2)  # (N, M)
    r_real = np.sort(d_rr, axis=1)[:, k]  # k-th nearest other point (column 0 is the point itself)
    r_fake = np.sort(d_ff, axis=1)[:, k]
    inside = d_rf < r_real[:, None]  # fake j in real i's ball
    np.testing.assert_array_equal(points["precision"].numpy(), inside.any(0))
    np.testing.assert_array_equal(points["density"].numpy(), inside.sum(0))
    np.testing.assert_array_equal(points["coverage"].numpy(), inside.any(1))
    np.testing.assert_array_equal(points["recall"].numpy(), (d_rf < r_fake[None, :]).any(1))
    assert scores["density"] == inside.sum() / (k * 50) and scores["recall"] == (d_rf < r_fake).any(1).mean()
    ivs = bs.prdc_intervals(scores, points, k)
    (idx,) = _draws(50)
    by_hand = (inside.sum(0) / k)[idx].mean(1)
    np.testing.assert_allclose(ivs["density"].replicates, by_hand + scores["density"] - by_hand.mean(), rtol=1e-12)
    assert ivs["recall"].resampled == {"real": 60} and ivs["precision"].resampled == {"generated": 50}

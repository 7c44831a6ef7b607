"""Precision, recall, density and coverage (Naeem et al. 2020): parity with the authors' ``prdc`` package,
the definitions on cases the package cannot resolve (exact duplicates), and the failures each number exists
to show."""

import contextlib
import io

import numpy as np
import prdc as naeem
import pytest
import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from genbench.metrics.core.prdc import _filter_dtype, prdc

KEYS = ("precision", "recall", "density", "coverage")


def reference(real, fake, k):
    """The ``prdc`` package's numbers (it prints the sample counts; keep the test output clean)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(v) for key, v in naeem.compute_prdc(real, fake, nearest_k=k).items()}


def by_definition(real, fake, k):
    """The four definitions written out on the full distance matrices (numpy, small sizes only)."""
    def sq(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    rr, ff, rf = sq(real, real), sq(fake, fake), sq(real, fake)
    np.fill_diagonal(rr, np.inf)
    np.fill_diagonal(ff, np.inf)
    r2, s2 = np.sort(rr, 1)[:, k - 1], np.sort(ff, 1)[:, k - 1]  # NND_k^2, the point itself excluded
    in_real = rf < r2[:, None]  # Y_j in B(X_i, NND_k(X_i)), open ball
    return {"precision": in_real.any(0).mean(), "recall": (rf < s2[None, :]).any(1).mean(),
            "density": in_real.sum() / (k * len(fake)), "coverage": in_real.any(1).mean()}


# (N real, M fake, dim, k, chunk, offset): chunk < N and M everywhere, so the tiled k-NN (both triangle halves)
# and the tiled real x fake pass are exercised; the offset moves both sets far from the origin (cancellation in
# ||x||^2 + ||y||^2 - 2 x.y, which the centring and the exact recomputation must absorb).
CASES = [(200, 150, 8, 5, 64, 0.0), (300, 300, 32, 3, 100, 0.0), (120, 100, 2, 1, 7, 0.0),
         (257, 301, 64, 10, 50, 0.0), (180, 220, 16, 5, 64, 1e3)]


@pytest.mark.parametrize("n,m,d,k,chunk,offset", CASES)
def test_matches_prdc_package(n, m, d, k, chunk, offset):
    """All four numbers equal ``prdc.compute_prdc``'s to 1e-9. Measured: both decide the same comparisons, so
    the counts agree exactly; differences are 0.0 except density's last bit on one case (-5.6e-17: the package
    divides by k before averaging)."""
    rng = np.random.default_rng(n + m + d + k)
    real = rng.standard_normal((n, d)) + offset
    fake = 1.2 * rng.standard_normal((m, d)) + 0.3 + offset  # a different distribution: values not all ~1
    ours, ref = prdc(real, fake, k=k, chunk=chunk), reference(real, fake, k)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1  # not a degenerate case


def test_chunk_size_and_filter_precision_do_not_change_the_result():
    """Tile size 1..N, and the float64 filter used when float32 matmuls may be lowered to bf16/TF32."""
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((90, 12)), rng.standard_normal((70, 12)) + 0.2
    base = prdc(real, fake, k=4, chunk=1000)
    assert base == reference(real, fake, 4)
    for chunk in (1, 13, 64):
        assert prdc(real, fake, k=4, chunk=chunk) == base
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert _filter_dtype() == torch.float64
        assert prdc(real, fake, k=4, chunk=32) == base
    finally:
        torch.set_float32_matmul_precision(before)
    assert _filter_dtype() == torch.float32


def test_exact_duplicates_follow_the_definition():
    """Fakes collapsed onto 3 real points (1 of every 40 fakes is distinct): each fake's k-th neighbour is a
    copy at distance 0, so its ball B(Y_j, 0) is empty and recall is exactly 0; each copy lies in its own real
    point's ball, so precision is 1. The ``prdc`` package gets rounding noise here instead (sklearn's
    distance between identical points came out 1.5e-5, not 0, measured on such data), so these are checked
    against the definitions written out, not against it."""
    rng = np.random.default_rng(6)
    real = rng.standard_normal((120, 6)) + 50.0
    fake = np.repeat(real[:3], 40, axis=0)
    ours = prdc(real, fake, k=5, chunk=32)
    assert ours == pytest.approx(by_definition(real, fake, 5), abs=1e-12)
    assert ours["recall"] == 0.0 and ours["precision"] == 1.0
    assert 3 / 120 <= ours["coverage"] < 0.2


def test_near_ties_below_float32_resolution():
    """Unit grids, jittered by 1e-7: real 13 x 12 nodes, fake 12 x 12 (one column fewer). Each point's 4 grid
    neighbours are tied to 1e-7, far below what a float32 distance resolves (~1e-4 here) and far above float64
    round-off, so the k-th neighbour radii, which neighbouring fakes fall in a real ball (density), and
    whether the extra real column lies in the last fake column's balls (recall) all come out right only if the
    undecidable entries are recomputed exactly."""
    rng = np.random.default_rng(8)

    def grid(w, h):
        g = np.stack(np.meshgrid(np.arange(float(w)), np.arange(float(h))), -1).reshape(-1, 2)
        g = np.concatenate([g, np.zeros((len(g), 2))], 1)
        return g + 1e-7 * rng.standard_normal(g.shape)

    real, fake = grid(13, 12), grid(12, 12)
    out = {}
    for k in (3, 5):
        out[k], ref = prdc(real, fake, k=k, chunk=50), reference(real, fake, k)
        assert out[k] == pytest.approx(ref, abs=1e-9)
        assert out[k] == pytest.approx(by_definition(real, fake, k), abs=1e-12)
        assert 1 < out[k]["density"] < 2  # neither "all tied neighbours in" (2 or more) nor "none in" (1 / k)
    # k = 3: an edge fake's radius is the 3rd of its 3 neighbours tied at ~1, as far as the extra real beside it;
    # k = 5: it is ~sqrt(2), so that real is inside for certain
    assert 12 / 13 < out[3]["recall"] < 1 and out[5]["recall"] == 1


@pytest.mark.parametrize("scale", [1e-90, 1e-20, 1e19, 1e90])
def test_any_scale_float64_can_square(scale):
    """The float32 filter works on data multiplied by a power of two that puts it in (-1, 1): values whose
    squares float32 cannot hold (1e19: overflow; 1e-20: subnormal) give the definitions' numbers, the same as
    at scale 1 (the metrics are scale-invariant); beyond 1e+-100 float64 itself cannot square them: refused."""
    rng = np.random.default_rng(10)
    real, fake = rng.standard_normal((150, 8)), rng.standard_normal((120, 8)) + 0.3
    ours = prdc(scale * real, scale * fake, chunk=64)
    assert ours == pytest.approx(by_definition(scale * real, scale * fake, 5), abs=1e-12)
    assert ours == pytest.approx(prdc(real, fake), abs=1e-12)
    with pytest.raises(ValueError, match="rescale"):
        prdc(1e-120 * real, 1e-120 * fake)


def test_torch_fidelity_precision_recall_differ_only_by_k_and_closed_balls():
    """torch-fidelity's precision/recall (metric_prc.py) use k = 3 by default and closed balls ("<="). Given the
    same features and k, they equal ours on continuous data (its result is a float32 mean: measured differences
    <= 2.5e-8). On exact duplicates the closed ball shows: fakes copied from 3 of 300 reals have radius 0 and
    "0 <= 0" puts those 3 reals in the fake manifold (its recall 0.01, measured; ours 0 by definition)."""
    def fidelity(real, fake, k):  # its convention: features_1 generated, features_2 real
        return prc_features_to_metric(torch.tensor(fake), torch.tensor(real), prc_neighborhood=k,
                                      prc_batch_size=10000, save_cpu_ram=False, verbose=False)

    rng = np.random.default_rng(9)
    real, fake = rng.standard_normal((300, 16)), 1.2 * rng.standard_normal((250, 16)) + 0.2
    for k in (3, 5):
        ours, ref = prdc(real, fake, k=k), fidelity(real, fake, k)
        assert ours["precision"] == pytest.approx(ref["precision"], abs=1e-6)
        assert ours["recall"] == pytest.approx(ref["recall"], abs=1e-6)
    copies = np.repeat(real[:3], 40, axis=0)
    assert prdc(real, copies)["recall"] == 0.0
    assert fidelity(real, copies, 5)["recall"] == pytest.approx(3 / 300, abs=1e-6)


def test_rejects_bad_input():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="dimension"):
        prdc(a, rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="k must be"):
        prdc(a, a[:5], k=5)
    with pytest.raises(ValueError, match="NaN"):
        prdc(a, np.full((10, 3), np.nan))


# -- what each number is for (the failures Naeem et al. 2020 built them to show) ------------------------------------

def expected_coverage(n, m, k):
    """E[coverage] for identical distributions: a real point is uncovered iff its k nearest among the other
    n - 1 reals and the m fakes are all reals, probability prod_{i=1..k} (n - i) / (n + m - i) -> 2^-k."""
    return 1 - np.prod([(n - i) / (n + m - i) for i in range(1, k + 1)])


def mixture(rng, n, modes, centres):
    return centres[np.arange(n) % modes] + rng.standard_normal((n, centres.shape[1]))


def test_same_distribution_scores_high():
    """N = M = 1000 draws of N(0, I_8), k = 5. Measured (seeds 0, 1, 2): precision 0.945 0.949 0.943, recall
    0.942 0.937 0.951, density 1.04 1.02 0.99, coverage 0.973 0.970 0.976 against E = 0.969 (1 - 2^-5 = 0.969)."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        out = prdc(rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8)))
        assert out["precision"] > 0.9 and out["recall"] > 0.9
        assert out["density"] == pytest.approx(1.0, abs=0.1)
        assert out["coverage"] == pytest.approx(expected_coverage(1000, 1000, 5), abs=0.02)


def test_dropped_modes_halve_recall_and_coverage_not_precision():
    """10 well-separated Gaussian modes (centres ~ 30 sigma apart, d = 8); fakes from only 5 of them, as many
    samples. Measured (seed 0): precision 0.928, recall 0.463, density 1.06, coverage 0.499; with fakes
    from all 10 modes: 0.923, 0.923, 1.04, 0.968."""
    rng = np.random.default_rng(0)
    centres = 30 * rng.standard_normal((10, 8))
    real = mixture(rng, 1000, 10, centres)
    half = prdc(real, mixture(rng, 1000, 5, centres))
    full = prdc(real, mixture(rng, 1000, 10, centres))
    assert half["precision"] > 0.85 and full["precision"] > 0.85
    assert full["recall"] > 0.85 and full["coverage"] > 0.9
    assert half["recall"] == pytest.approx(full["recall"] / 2, abs=0.05)
    assert half["coverage"] == pytest.approx(full["coverage"] / 2, abs=0.05)


def test_fakes_off_the_manifold_lose_precision_and_density():
    """Fakes shifted off the real data: N(0, I_8) vs N(s 1, I_8), i.e. moved by 2.83 s sigma. Measured
    (precision, density): s = 0 -> 0.945, 1.04; s = 1 -> 0.609, 0.343; s = 2 -> 0.040, 0.008."""
    rng = np.random.default_rng(0)
    real, noise = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))
    res = [prdc(real, noise + s) for s in (0.0, 1.0, 2.0)]
    assert res[0]["precision"] > 0.9 and res[0]["density"] > 0.9
    assert res[1]["precision"] < 0.7 and res[1]["density"] < 0.5
    assert res[2]["precision"] < 0.1 and res[2]["density"] < 0.05
    assert res[0]["precision"] > res[1]["precision"] > res[2]["precision"]
    assert res[0]["density"] > res[1]["density"] > res[2]["density"]

"""The Inception-network metrics computed from features: Inception Score from logits (against torch-fidelity,
and what it is for), the network's 1008-way logits, and FID / KID from feature arrays against pytorch-fid and
torch-fidelity."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_fid.fid_score import calculate_frechet_distance
from torch import nn
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from genbench.api import INCEPTION, Weights
from genbench.metrics.core.frechet import feature_stats, frechet_distance, kernel_distance, mmd2_unbiased
from genbench.metrics.core.inception import (
    DIMS,
    LOGITS,
    PROTOCOL,
    FIDInception,
    InceptionExtractor,
    fid_inception_architecture,
)
from genbench.metrics.core.isc import inception_score


def fidelity_is(logits, splits=10):
    out = isc_features_to_metric(torch.as_tensor(logits), splits=splits)  # its defaults: shuffle, rng_seed 2020
    return out["inception_score_mean"], out["inception_score_std"]


@pytest.mark.parametrize("n,classes,splits", [(1000, 1008, 10), (57, 10, 10), (30, 5, 3), (250, 1008, 1)])
def test_is_matches_torch_fidelity(n, classes, splits):
    """Same shuffle, splits and float64 arithmetic in the same order: measured difference 0.0 (bit-identical)
    in mean and std on every case, for float64 and float32 logits; asserted to 1e-12 relative."""
    rng = np.random.default_rng(n + classes)
    logits = 3 * rng.standard_normal((n, classes))
    for x in (logits, logits.astype(np.float32)):
        ours, ref = inception_score(x, splits=splits), fidelity_is(x, splits)
        assert ours == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert inception_score(logits, splits=splits)[0] > 1.5  # not a degenerate case


def test_is_without_shuffle_is_salimans_original_order():
    """seed=None keeps the order (Salimans et al.'s code): on sorted confident predictions each split sees
    only some classes, so the score differs from the shuffled one -- the shuffle is part of the number."""
    logits = np.zeros((100, 10))
    logits[np.arange(100), np.arange(100) // 10] = 50.0  # sample i is class i // 10: split i is all class i
    assert inception_score(logits, seed=None) == pytest.approx((1.0, 0.0), abs=1e-9)
    assert inception_score(logits)[0] > 4  # shuffled: each split sees most classes


def test_is_extremes():
    """Uniform predictions -> 1 (every p(y|x) equals p(y)); confident predictions spread evenly over C classes
    -> about C (measured 9.52 +- 0.27 for C = 10 after the shuffle, exactly 10 to 1e-9 unshuffled where each
    split holds 10 of each class); every sample confident on one class -> 1 (measured 1.0000000000000002)."""
    n, c = 1000, 10
    assert inception_score(np.zeros((n, 1008))) == pytest.approx((1.0, 0.0), abs=1e-12)
    spread = np.zeros((n, c))
    spread[np.arange(n), np.arange(n) % c] = 30.0
    mean, std = inception_score(spread)
    assert 0.9 * c < mean <= c and std < 0.5
    assert inception_score(spread, seed=None)[0] == pytest.approx(c, rel=1e-9)
    one = np.zeros((n, c))
    one[:, 3] = 30.0
    assert inception_score(one) == pytest.approx((1.0, 0.0), abs=1e-9)


def test_is_survives_underflow_where_torch_fidelity_gives_nan():
    """Logit gaps over ~745 make softmax underflow to exactly 0 in float64; a class no sample of a split
    predicts then has q = 0 and torch-fidelity computes 0 * inf = NaN. Here such terms count 0 (their limit):
    1000 one-hot samples over 1000 classes, 100 distinct per split -> IS 100."""
    logits = np.zeros((1000, 1008))
    logits[np.arange(1000), np.arange(1000)] = 1000.0
    assert np.isnan(fidelity_is(logits)[0])
    assert inception_score(logits)[0] == pytest.approx(100.0, rel=1e-9)


def test_is_rejects_bad_input():
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.zeros((5, 10)))
    with pytest.raises(ValueError, match="classes"):
        inception_score(np.zeros(10))


# -- the network's logits ---------------------------------------------------------------------------------------

def test_inception_logits_are_the_networks_own_classifier():
    """No real weights here: the architecture with seeded He-normal convolutions (torch's default
    initialisation shrinks pool3 to ~1e-8 through the 90-odd layers, which would leave logits ~ fc.bias and the
    test blind to pool3). pool3 is what forward gave before; logits equal fc(pool3) exactly and equal the
    torchvision Inception3's own forward on the same input (its 1008-way output)."""
    torch.manual_seed(0)
    inception = fid_inception_architecture().eval()
    for m in inception.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    net = FIDInception(inception)
    x01 = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pool3 = net(x01)
        logits, unbiased = net.logits(pool3), net.logits(pool3, bias=False)
        own = inception(2 * F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False) - 1)
        assert torch.equal(pool3, net.net(2 * F.interpolate(x01, size=(299, 299), mode="bilinear",
                                                            align_corners=False) - 1).flatten(1))
    assert pool3.shape == (2, DIMS) and logits.shape == (2, LOGITS) == unbiased.shape
    assert pool3.std() > 0.1 and (logits[0] - logits[1]).abs().max() > 1e-3  # logits depend on the image
    assert torch.equal(logits, inception.fc(pool3))
    assert torch.equal(logits, own)
    assert torch.equal(unbiased, pool3 @ inception.fc.weight.T)
    assert torch.allclose(logits - unbiased, inception.fc.bias.expand(2, -1), atol=1e-6)


def test_pool3_extractor_identity_unchanged():
    """The logits are an addition: the FID extractor's protocol (its cache key) is the same dictionary."""
    net = FIDInception(fid_inception_architecture())
    ext = InceptionExtractor(net, "6726825d" + "0" * 56)
    assert ext.identity == {**PROTOCOL, "weights_sha256": "6726825d" + "0" * 56}
    assert PROTOCOL["network"] == "pytorch-fid InceptionV3 (FID variant), pool3 2048-d" and ext.dims == 2048


# -- FID and KID from features, against the reference implementations ---------------------------------------

@pytest.mark.parametrize("n,d", [(200, 16), (500, 64)])
def test_fid_from_features_matches_pytorch_fid(n, d):
    """pytorch-fid's statistics (np.mean, np.cov(rowvar=False)) and calculate_frechet_distance. Measured
    relative difference on these two cases: 0.0 with method='sqrtm' (the same computation) and with the default
    'eigh' (1.2e-16 at n=300, d=128; 2-3e-15 on other draws); asserted to 1e-12."""
    rng = np.random.default_rng(d)
    a = rng.standard_normal((n, d))
    b = 0.3 * rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.5
    ref = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    for method in ("eigh", "sqrtm"):
        assert frechet_distance(*feature_stats(a), *feature_stats(b), method=method) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("n,d", [(200, 16), (300, 128)])
def test_kid_from_features_matches_torch_fidelity(n, d):
    """Both use the cubic kernel (x.y / d + 1)^3 and the unbiased MMD^2, but draw subsets with different RNGs
    (genbench: np.random.default_rng(0); torch-fidelity: np.random.RandomState(2020)), so no seed makes the
    subsets agree. With subset_size = n every subset is a permutation of the whole set and the MMD^2 of a
    permutation is the same: means then agree (measured difference 0.0; asserted to 1e-12 relative) and both
    stds are 0 or round-off (measured 0.0 here, ~1e-15 on other draws). For smaller subsets, feeding
    torch-fidelity's own subsets (its RandomState sequence replayed) to genbench's estimator gives its mean and
    std (measured relative differences <= 4.3e-16 and <= 8.2e-15), while genbench's own subsets give another
    draw (e.g. 1.66 +- 0.30 vs 1.84 +- 0.21 at n=200, d=16, subset 50)."""
    rng = np.random.default_rng(d)
    a = rng.standard_normal((n, d))
    b = 0.3 * rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.5
    ref = kid_features_to_metric(torch.tensor(a), torch.tensor(b), kid_subsets=3, kid_subset_size=n, verbose=False,
                                 rng_seed=2020, kid_kernel="poly", kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    mean, std = kernel_distance(a, b, subsets=3, subset_size=n)
    assert mean == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-12)
    assert std <= 1e-12 * abs(mean) and ref["kernel_inception_distance_std"] <= 1e-12 * abs(mean)

    m = n // 4
    ref = kid_features_to_metric(torch.tensor(a), torch.tensor(b), kid_subsets=5, kid_subset_size=m, verbose=False,
                                 rng_seed=2020, kid_kernel="poly", kid_kernel_poly_degree=3,
                                 kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    replay = np.random.RandomState(2020)
    ours = [mmd2_unbiased(a[replay.choice(n, m, replace=False)], b[replay.choice(n, m, replace=False)])
            for _ in range(5)]
    assert np.mean(ours) == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-12)
    assert np.std(ours) == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-9)


def test_the_isc_plugin_scores_the_generated_pool3_features_through_the_unbiased_logits(monkeypatch):
    """The plugin's plumbing, with a small stand-in for the Inception network (the real weights are not here):
    its value is inception_score(pool3 @ fc.weight^T) of exactly the features FID would use, marked † below
    Salimans et al.'s 50,000 samples, and named isc_unverified on unverified weights."""
    from metric_fakes import FakeGenerator, context, imageset

    from genbench.metrics import isc as plugin
    from genbench.metrics.core import inception
    from genbench.metrics.core.features import generated_features

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(12, 7)

        def logits(self, pool3, bias=True):
            return self.fc(pool3) if bias else pool3 @ self.fc.weight.T

    class Extractor:
        net, identity = Net(), {"network": "stand-in", "weights_sha256": "0" * 64}

        def __call__(self, images):
            return images.flatten(1)[:, :12].double().numpy() * 5

    monkeypatch.setattr(inception, "extractor", lambda weights, device: Extractor())
    for verified, name in ((True, "isc"), (False, "isc_unverified")):
        model, train = FakeGenerator(), imageset(torch.rand(40, 3, 16, 16))
        weights = Weights(INCEPTION, Path("stand-in.pth"), "0" * 64, verified, "" if verified else "reason")
        ctx = context(model, train, n_fid=40, weights=weights)
        [score] = plugin.ISC().compute(ctx)
        pool3 = generated_features(Extractor(), model, 40, ctx.seed)
        want, std = inception_score(pool3 @ Extractor.net.fc.weight.detach().double().numpy().T)
        assert score.name == name and score.status == "warn" and score.value == pytest.approx(want, rel=1e-6)
        assert score.extra["std"] == pytest.approx(std, rel=1e-5) and score.extra["n_fake"] == 40
        assert "50000" in score.note or not verified

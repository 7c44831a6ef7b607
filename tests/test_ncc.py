"""The batched fast NCC against skimage's match_template, and the ncc metric on fake renderers."""

import numpy as np
import pytest
import torch
from metric_fakes import FakeGenerator, context, fake_renderer, imageset, single_blas_thread  # noqa: F401
from skimage.feature import match_template

from genbench.metrics.core.ncc import crop_to_support, max_ncc, ncc_maps
from genbench.metrics.ncc import NCC


def _skimage(img, tpl):
    return match_template(img.permute(1, 2, 0).numpy(), tpl.permute(1, 2, 0).numpy(), pad_input=False)[..., 0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_batched_ncc_equals_match_template(dtype):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 24, 20, generator=g, dtype=torch.float64) * 2 - 1
    images[1, :, :12, :12] = 0.3  # a flat region: zero-variance windows score 0 in both
    images[2] = images[2] * 0.05 + 0.9  # low contrast on a large offset
    templates = torch.rand(3, 3, 5, 7, generator=g, dtype=torch.float64)
    maps = ncc_maps(images, templates, dtype)
    assert maps.shape == (4, 3, 20, 14)
    for i in range(4):
        for t in range(3):
            ref = _skimage(images[i], templates[t])
            np.testing.assert_allclose(maps[i, t].double().numpy(), ref, atol=1e-4, rtol=0)
    assert (maps[1, :, :6, :4] == 0).all()


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_max_ncc_groups_ragged_templates_and_finds_a_cut_out(dtype, tol):
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 16, 16, generator=g, dtype=torch.float64)
    templates = [images[0, :, 4:9, 2:8].clone(), torch.rand(3, 4, 4, generator=g, dtype=torch.float64),
                 images[2, :, 10:16, 0:3].clone(), torch.rand(3, 5, 6, generator=g, dtype=torch.float64)]
    best = max_ncc(images, templates, dtype)
    assert best.shape == (4, 3) and best.dtype == dtype
    for t, tpl in enumerate(templates):
        for i in range(3):
            assert best[t, i].item() == pytest.approx(_skimage(images[i], tpl).max(), abs=tol)
    assert best[0, 0].item() == pytest.approx(1.0, abs=tol) and best[2, 2].item() == pytest.approx(1.0, abs=tol)
    # and the FFT path agrees with the conv path's maps
    maps = ncc_maps(images, templates[1][None], torch.float64)
    assert torch.allclose(best[1].double(), maps[:, 0].flatten(1).amax(1), atol=tol)


def test_crop_to_support():
    r = torch.zeros(3, 10, 10)
    assert crop_to_support(r) is None
    r[:, 2:5, 3:9] = 0.5
    r[0, 7, 1] = 1e-5  # below the threshold
    assert crop_to_support(r).shape == (3, 3, 6)


def _train(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return imageset(torch.rand(n, 3, size, size, generator=g))


def test_ncc_metric_scores_image_patches_above_noise():
    train = _train()
    x = train.as_float()
    g = torch.Generator().manual_seed(5)
    noise = [(torch.randn(3, 6, 6, generator=g), 2, 3), (torch.randn(3, 6, 7, generator=g), 8, 5)]
    good = fake_renderer([(x[0, :, 2:8, 3:9], 2, 3), (x[3, :, 8:14, 5:12], 8, 5)], 16, untrained=noise)
    bad = fake_renderer(noise, 16)
    m = NCC()
    ctx_good, ctx_bad = context(good, train, n_eval=3), context(bad, train, n_eval=3)
    s_good, s_bad = m.compute(ctx_good)[0], m.compute(ctx_bad)[0]
    assert good.layers_asked[0] == "b8"
    assert s_good.extra["n_templates"] == 3 * 2 and s_good.extra["n_images"] == 3
    # the score is the mean over templates x images of the max NCC: recompute it directly
    idx = torch.randperm(6, generator=torch.Generator().manual_seed(0))[:3]
    direct = max_ncc(x[idx].double(), [x[0, :, 2:8, 3:9].double(), x[3, :, 8:14, 5:12].double()],
                     torch.float64).mean()
    assert s_good.value == pytest.approx(direct.item(), abs=1e-6)  # the metric's float32 against float64
    assert s_good.value > s_bad.value
    # the chance level is the same protocol on the untrained twin, here the noise renderer
    assert s_good.extra["chance"] == pytest.approx(s_bad.value, abs=1e-12)
    assert s_bad.extra["chance"] == pytest.approx(s_bad.value, abs=1e-12)
    assert m.applies(good) and not m.applies(FakeGenerator())


@pytest.mark.parametrize("chunk", [1 << 20, 300])  # one chunk per size, or several over templates and images
def test_max_ncc_equals_the_conv_maps_maximum_within_1e12(monkeypatch, chunk):
    """max_ncc inverts the FFT product at the valid offsets by matrix products: it must give
    ncc_maps' maximum (a direct conv) up to float64 round-off, for every template size, odd and even
    image widths and flat windows, however the work is chunked."""
    monkeypatch.setattr("genbench.metrics.core.ncc.CPU_CHUNK_ELEMENTS", chunk)
    g = torch.Generator().manual_seed(2)
    for H, W in [(16, 16), (13, 11)]:
        images = torch.rand(5, 3, H, W, generator=g, dtype=torch.float64) * 2 - 1
        images[1, :, :8, :] = -0.4  # flat windows score 0
        sizes = [(1, 1), (3, 5), (5, 3), (H, W), (H - 1, 2), (3, 5), (7, 7)]
        templates = [torch.rand(3, h, w, generator=g, dtype=torch.float64) for h, w in sizes]
        best = max_ncc(images, templates, torch.float64)
        for t, tpl in enumerate(templates):
            ref = ncc_maps(images, tpl[None], torch.float64)[:, 0].flatten(1).amax(1)
            assert (best[t] - ref).abs().max().item() < 1e-12, (H, W, tpl.shape)
        assert best.shape == (len(sizes), 5)


def test_template_flat_to_its_precision_scores_0_but_a_faint_one_still_matches():
    """A float32 template that is constant up to round-off (a render of a flat patch) has no pattern:
    it scores 0 in both paths instead of the 0.3 that correlating its round-off noise gave. A faint but
    real pattern (spread 1e-3) still finds itself with NCC 1."""
    g = torch.Generator().manual_seed(3)
    images = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    noise = torch.randint(-2, 3, (3, 5, 5), generator=g).float()
    flat = (torch.full((3, 5, 5), 0.3) + noise * 0.3 * torch.finfo(torch.float32).eps).float()
    assert flat.std() > 0  # not exactly constant: the case the rule is for
    assert ncc_maps(images, flat[None], torch.float64).abs().max() == 0
    assert max_ncc(images, [flat]).abs().max() == 0 and max_ncc(images, [flat], torch.float32).abs().max() == 0
    faint = 0.3 + 1e-3 * images[2, :, 4:9, 6:11]
    assert max_ncc(images, [faint])[0, 2].item() == pytest.approx(1.0, abs=1e-6)
    assert ncc_maps(images, faint[None], torch.float64)[2, 0, 4, 6].item() == pytest.approx(1.0, abs=1e-6)

"""Batched fast normalized cross-correlation in torch (Lewis, "Fast Normalized Cross-Correlation",
Vision Interface 1995; the [37] of the paper is Yoo & Han's fast NCC, whose output is the same).

For an image I and a template t of V = C*h*w values, at each valid offset u (no padding):

    NCC(u) = sum_x (I(x+u) - mean_u I) (t(x) - mean t) / sqrt(sum_x (I(x+u) - mean_u I)^2 * sum_x (t(x) - mean t)^2)

over all channels jointly (zero-mean RGB NCC), exactly what ``skimage.feature.match_template(image(H,W,C),
template(h,w,C), pad_input=False)`` returns. The numerator is one conv2d of the images with the
zero-mean templates (``ncc_maps``) or, for many templates of ragged sizes, an FFT product inverted at
the valid offsets only (``max_ncc``); the local sums and energies come from integral images (box sums) in float64;
windows whose denominator is not above the float epsilon score 0, as in skimage. Windows that are flat
to working precision (variance <= 100 eps(dtype) x their energy + 1e-12 per value) also score 0: there the
float64 box-sum differences leave round-off noise that skimage's exact zero does not, and the ratio of two
round-off terms is meaningless. Likewise a template whose spread is within 10 units of round-off of its own
dtype (a float32 render of a flat patch) is flat and scores 0 against everything. On CUDA, TF32 is
disabled for the numerator's conv and matrix products.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

MAX_ELEMENTS = 1 << 25  # bound on N * T * H * (W//2+1) per chunk on accelerators
CPU_CHUNK_ELEMENTS = 1 << 20  # the same on the CPU: a few MiB, so a chunk stays in cache


def _box_sum(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, H, W) -> (N, H-h+1, W-w+1) window sums via an integral image."""
    p = F.pad(x.cumsum(1).cumsum(2), (1, 0, 1, 0))
    return p[:, h:, w:] - p[:, :-h, w:] - p[:, h:, :-w] + p[:, :-h, :-w]


def _centred_templates(templates: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-mean templates (T, C, h, w) in float64 and their energies (T,); the energy of a template
    flat to its dtype's precision ``eps`` (spread <= 10 eps of its magnitude) is 0, so it scores 0."""
    t64 = templates.double()
    tz = t64 - t64.mean(dim=(1, 2, 3), keepdim=True)
    ssd = tz.pow(2).sum(dim=(1, 2, 3))
    flat = ssd <= (10 * eps) ** 2 * t64.pow(2).sum(dim=(1, 2, 3))
    return tz, ssd.masked_fill(flat, 0.0)


def _eps(t: torch.Tensor) -> float:
    return torch.finfo(t.dtype).eps if t.is_floating_point() else 0.0


def ncc_maps(images: torch.Tensor, templates: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """NCC of every template against every image at every valid offset.

    images (N, C, H, W), templates (T, C, h, w) -> (N, T, H-h+1, W-w+1) in ``dtype``."""
    n, c, H, W = images.shape
    t, tc, h, w = templates.shape
    if tc != c or h > H or w > W:
        raise ValueError(f"templates {tuple(templates.shape)} do not fit images {tuple(images.shape)}")
    # NCC is invariant to a per-image offset: centre each image to keep float32 sums well conditioned.
    img64 = images.double()
    img64 = img64 - img64.mean(dim=(1, 2, 3), keepdim=True)
    tz64, ssd = _centred_templates(templates, _eps(templates))
    vol = c * h * w
    s1 = _box_sum(img64.sum(1), h, w)
    s2 = _box_sum(img64.pow(2).sum(1), h, w)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        num = F.conv2d(img64.to(dtype), tz64.to(dtype))  # cross-correlation, (N, T, H', W')
    return _valid_ncc(num, s1, s2, ssd, vol, dtype).to(dtype)


def default_dtype(device: torch.device | str) -> torch.dtype:
    """float32 everywhere: within 1e-4 of skimage on random textures (tests/test_ncc.py) and within 5e-7 of float64
    on the protocol's own renders and training images (a trained `small` ours, 1,280 templates x 100 images: largest
    difference 4.0e-7, of the mean 2.4e-8), at about half float64's cost on the CPU. float64 stays available for
    the exactness tests."""
    return torch.float32


def _valid_ncc(num: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor, ssd: torch.Tensor, vol: int,
               dtype: torch.dtype) -> torch.Tensor:
    """NCC from numerators (N, T, H', W'), window sums/energies (N, H', W') and template energies (T,)."""
    var = (s2 - s1 * s1 / vol).clamp_min(0)
    denom = (var[:, None] * ssd[None, :, None, None]).sqrt()
    eps = torch.finfo(dtype).eps
    flat = var <= 100 * eps * s2 + 1e-12 * vol
    mask = (denom > eps) & ~flat[:, None]
    return torch.where(mask, num.double() / denom.where(mask, torch.ones_like(denom)), torch.zeros_like(denom))


def max_ncc(images: torch.Tensor, templates: list[torch.Tensor], dtype: torch.dtype | None = None,
            device: torch.device | str | None = None) -> torch.Tensor:
    """(T, N): for each template (C, h_t, w_t) and image (C, H, W), the maximum NCC over valid offsets.

    All templates, whatever their size, share one FFT of the images. The numerator for a template is the
    inverse transform of rfft2(I) * conj(rfft2(t zero-padded to H x W)), which needs no further padding
    because valid offsets never wrap around; it is evaluated at the valid offsets only, as two matrix
    products (an inverse DFT over rows, then a half-spectrum inverse DFT over columns), one template size
    at a time. Box sums are computed once per template size. Equal to ``ncc_maps(...).amax`` up to
    float round-off (tests/test_ncc.py checks 1e-12 in float64)."""
    device = torch.device(device) if device is not None else images.device
    dtype = dtype or default_dtype(device)
    n, c, H, W = images.shape
    img64 = images.to(device, torch.float64)
    img64 = img64 - img64.mean(dim=(1, 2, 3), keepdim=True)
    out = torch.empty(len(templates), n, dtype=torch.float64, device=device)
    if not templates:
        return out.to(dtype)
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(templates):
        by_size.setdefault(tuple(t.shape[-2:]), []).append(i)
    if any(t.shape[0] != c for t in templates) or any(h > H or w > W for h, w in by_size):
        raise ValueError(f"some templates do not fit images {tuple(images.shape)}")
    f_img = torch.fft.rfft2(img64.to(dtype))  # (N, C, H, W//2+1)
    plain, energy = img64.sum(1), img64.pow(2).sum(1)
    with _exact_matmul():
        for (h, w), ids in by_size.items():
            tz, ssd = _centred_templates(torch.stack([templates[i].to(device, torch.float64) for i in ids]),
                                         max(_eps(templates[i]) for i in ids))
            sums = (_box_sum(plain, h, w), _box_sum(energy, h, w))
            out[ids] = _max_ncc_one_size(f_img, (tz, ssd), sums, (H, W), dtype)
    return out.to(dtype)


def _max_ncc_one_size(f_img: torch.Tensor, centred: tuple[torch.Tensor, torch.Tensor],
                      sums: tuple[torch.Tensor, torch.Tensor], image_hw: tuple[int, int],
                      dtype: torch.dtype) -> torch.Tensor:
    """(T, N) max NCC for templates of one size, ``centred`` = zero-mean templates (T, C, h, w) and their
    energies (T,), from the images' spectra ``f_img`` and their box sums and energies ``sums``
    (N, H-h+1, W-w+1) each.

    The maximum over offsets of num / sqrt(var ssd) is taken as max(num x 1/sqrt(var)) x 1/sqrt(ssd): the window
    factor (0 on flat windows) is computed once per image, not once per template, and the template's is a positive
    constant. ``_valid_ncc`` also zeroes a window whose sqrt(var ssd) is not above the dtype's epsilon; templates for
    which some non-flat window is that faint take ``_valid_ncc``'s path, so the result is the same either way."""
    (tz, ssd), (H, W) = centred, image_hw
    t_all, c, h, w = tz.shape
    rows, cols = H - h + 1, W - w + 1
    f_tpl = torch.fft.rfft2(tz.to(dtype), s=(H, W)).conj()  # (T, C, H, W//2+1)
    inv_rows, inv_cols = _inverse_dft_rows(H, rows, f_tpl), _inverse_rdft_cols(W, cols, f_tpl)
    half = f_tpl.shape[-1]
    step = _chunk_elements(tz.device) // (H * half)
    vol, eps = c * h * w, torch.finfo(dtype).eps
    var = (sums[1] - sums[0] * sums[0] / vol).clamp_min(0)
    live = (var > 100 * eps * sums[1] + 1e-12 * vol) & (var > 0)  # not flat (as _valid_ncc)
    inv_window = torch.where(live, var.where(live, torch.ones_like(var)).rsqrt(), torch.zeros_like(var)).to(dtype)
    faintest = var[live].min() if live.any() else var.new_tensor(float("inf"))
    exact = (faintest * ssd <= eps * eps) & (ssd > 0)  # some live window would fail sqrt(var ssd) > eps
    inv_tpl = torch.where(ssd > 0, ssd.where(ssd > 0, torch.ones_like(ssd)).rsqrt(), torch.zeros_like(ssd))
    out = torch.empty(t_all, len(f_img), dtype=torch.float64, device=tz.device)
    for t0 in range(0, t_all, max(1, step)):
        f_t = f_tpl[t0:t0 + max(1, step)]
        t1 = t0 + len(f_t)
        n_step = max(1, step // len(f_t))
        for j in range(0, len(f_img), n_step):
            f_i = f_img[j:j + n_step]
            prod = _channel_product(f_i, f_t)
            part = (inv_rows @ prod.reshape(H, -1)).reshape(-1, half)  # (rows * n * t, W//2+1) complex
            num = (torch.view_as_real(part).reshape(-1, 2 * half) @ inv_cols).reshape(rows, len(f_i), len(f_t), cols)
            num = num.permute(1, 2, 0, 3)  # (n, t, rows, cols)
            best = (num * inv_window[j:j + n_step, None]).flatten(2).amax(2).double() * inv_tpl[t0:t1]
            if exact[t0:t1].any():
                ncc = _valid_ncc(num, sums[0][j:j + n_step], sums[1][j:j + n_step], ssd[t0:t1], vol, dtype)
                best = torch.where(exact[t0:t1], ncc.flatten(2).amax(2), best)
            out[t0:t1, j:j + n_step] = best.T
    return out


def _channel_product(f_img: torch.Tensor, f_tpl: torch.Tensor) -> torch.Tensor:
    """sum over channels of f_img (N, C, H, W') times f_tpl (T, C, H, W'), laid out (H, N, T, W') and
    contiguous, so that the inverse DFT over rows is one matrix product."""
    x, y = f_img.permute(1, 2, 0, 3)[:, :, :, None], f_tpl.permute(1, 2, 0, 3)[:, :, None]
    (n, _, H, half), t = f_img.shape, len(f_tpl)
    prod = torch.mul(x[0], y[0], out=f_img.new_empty(H, n, t, half))  # else it takes its inputs' strides
    for k in range(1, len(x)):
        prod.addcmul_(x[k], y[k])
    return prod


def _inverse_dft_rows(n: int, rows: int, like: torch.Tensor) -> torch.Tensor:
    """(rows, n): the first ``rows`` outputs of the inverse DFT of length n, exp(2 pi i y k / n) / n."""
    yk = torch.outer(torch.arange(rows, dtype=torch.float64), torch.arange(n, dtype=torch.float64))
    return torch.polar(torch.full_like(yk, 1 / n), 2 * math.pi * yk / n).to(like.device, like.dtype)


def _inverse_rdft_cols(n: int, cols: int, like: torch.Tensor) -> torch.Tensor:
    """(2 (n//2 + 1), cols): maps a half spectrum, as view_as_real's (re, im) pairs, to the first ``cols``
    outputs of irfft of length n: frequencies other than 0 and n/2 count twice, and the imaginary parts
    of those two are ignored, as irfft does."""
    half = n // 2 + 1
    kx = torch.outer(torch.arange(half, dtype=torch.float64), torch.arange(cols, dtype=torch.float64))
    weight = torch.full((half, 1), 2 / n, dtype=torch.float64)
    weight[0] = 1 / n
    if n % 2 == 0:
        weight[-1] = 1 / n
    angle = 2 * math.pi * kx / n
    real_dtype = torch.empty(0, dtype=like.dtype).real.dtype
    return torch.stack([weight * angle.cos(), -weight * angle.sin()], 1).reshape(2 * half, cols).to(like.device,
                                                                                                    real_dtype)


def _chunk_elements(device: torch.device) -> int:
    """Spectrum products per chunk: cache-sized on the CPU (the work is memory-bound), larger on accelerators."""
    return CPU_CHUNK_ELEMENTS if device.type == "cpu" else MAX_ELEMENTS


@contextlib.contextmanager
def _exact_matmul():
    """TF32 off for the numerator's matrix products on CUDA, as for ``ncc_maps``' conv."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def crop_to_support(render: torch.Tensor, threshold: float = 1e-4) -> torch.Tensor | None:
    """Crop a (C, H, W) render to the bounding box where |mean over channels| > threshold
    (docs/method.md section 5, step 6); None if the support is empty."""
    mask = render.mean(0).abs() > threshold
    if not mask.any():
        return None
    rows = mask.any(1).nonzero().flatten()
    cols = mask.any(0).nonzero().flatten()
    return render[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

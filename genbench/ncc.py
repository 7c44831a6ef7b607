"""Batched fast normalized cross-correlation in torch (Lewis, "Fast Normalized Cross-Correlation",
Vision Interface 1995; the [37] of the paper is Yoo & Han's fast NCC, whose output is the same).

For an image I and a template t of V = C*h*w values, at each valid offset u (no padding):

    NCC(u) = sum_x (I(x+u) - mean_u I) (t(x) - mean t) / sqrt(sum_x (I(x+u) - mean_u I)^2 * sum_x (t(x) - mean t)^2)

over all channels jointly (zero-mean RGB NCC), exactly what ``skimage.feature.match_template(image(H,W,C),
template(h,w,C), pad_input=False)`` returns. The numerator is one conv2d of the images with the
zero-mean templates (``ncc_maps``) or, for many templates of ragged sizes, one FFT product per chunk
(``max_ncc``); the local sums and energies come from integral images (box sums) in float64;
windows whose denominator is not above the float epsilon score 0, as in skimage. Windows that are flat
to working precision (variance <= 100 eps(dtype) x their energy + 1e-12 per value) also score 0: there the
float64 box-sum differences leave round-off noise that skimage's exact zero does not, and the ratio of two
round-off terms is meaningless. On CUDA, TF32 is disabled for the numerator conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_ELEMENTS = 1 << 25  # bound on N * T * H' * W' per chunk


def _box_sum(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, H, W) -> (N, H-h+1, W-w+1) window sums via an integral image."""
    p = F.pad(x.cumsum(1).cumsum(2), (1, 0, 1, 0))
    return p[:, h:, w:] - p[:, :-h, w:] - p[:, h:, :-w] + p[:, :-h, :-w]


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
    tz64 = templates.double() - templates.double().mean(dim=(1, 2, 3), keepdim=True)
    ssd = tz64.pow(2).sum(dim=(1, 2, 3))  # (T,)
    vol = c * h * w
    s1 = _box_sum(img64.sum(1), h, w)
    s2 = _box_sum(img64.pow(2).sum(1), h, w)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        num = F.conv2d(img64.to(dtype), tz64.to(dtype))  # cross-correlation, (N, T, H', W')
    return _valid_ncc(num, s1, s2, ssd, vol, dtype).to(dtype)


def default_dtype(device: torch.device | str) -> torch.dtype:
    """float32 on accelerators (fast, within 1e-4 of skimage on textured windows); float64 on CPU."""
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


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

    All templates, whatever their size, share one FFT of the images: the numerator for every template
    is irfft2(rfft2(I) * conj(rfft2(t zero-padded to H x W))), which needs no further padding because
    valid offsets never wrap around. Box sums are computed once per distinct template size. Images
    and templates are chunked so that N x T x H x W stays below ``MAX_ELEMENTS``."""
    device = torch.device(device) if device is not None else images.device
    dtype = dtype or default_dtype(device)
    n, c, H, W = images.shape
    img64 = images.to(device, torch.float64)
    img64 = img64 - img64.mean(dim=(1, 2, 3), keepdim=True)
    out = torch.empty(len(templates), n, dtype=torch.float64, device=device)
    if not templates:
        return out.to(dtype)
    sizes = [tuple(t.shape[-2:]) for t in templates]
    if any(t.shape[0] != c or h > H or w > W for t, (h, w) in zip(templates, sizes, strict=True)):
        raise ValueError(f"some templates do not fit images {tuple(images.shape)}")
    plain, energy = img64.sum(1), img64.pow(2).sum(1)
    boxes = {hw: (_box_sum(plain, *hw), _box_sum(energy, *hw)) for hw in set(sizes)}
    t_step = max(1, min(len(templates), MAX_ELEMENTS // (H * W)))
    for t0 in range(0, len(templates), t_step):
        chunk = list(range(t0, min(t0 + t_step, len(templates))))
        padded = torch.zeros(len(chunk), c, H, W, dtype=torch.float64, device=device)
        ssd = torch.empty(len(chunk), dtype=torch.float64, device=device)
        for k, i in enumerate(chunk):
            t = templates[i].to(device, torch.float64)
            tz = t - t.mean()
            padded[k, :, :tz.shape[1], :tz.shape[2]] = tz
            ssd[k] = tz.pow(2).sum()
        f_tpl = torch.fft.rfft2(padded.to(dtype)).conj()
        by_size: dict[tuple[int, int], list[int]] = {}
        for k, i in enumerate(chunk):
            by_size.setdefault(sizes[i], []).append(k)
        n_step = max(1, MAX_ELEMENTS // (len(chunk) * H * W))
        for j in range(0, n, n_step):
            f_img = torch.fft.rfft2(img64[j:j + n_step].to(dtype))
            num = torch.fft.irfft2(torch.einsum("nchw,tchw->nthw", f_img, f_tpl), s=(H, W))
            for (h, w), ks in by_size.items():
                s1, s2 = boxes[(h, w)]
                ncc = _valid_ncc(num[:, ks, :H - h + 1, :W - w + 1], s1[j:j + n_step], s2[j:j + n_step],
                                 ssd[ks], c * h * w, dtype)
                out[[chunk[k] for k in ks], j:j + n_step] = ncc.flatten(2).amax(2).T
    return out.to(dtype)


def crop_to_support(render: torch.Tensor, threshold: float = 1e-4) -> torch.Tensor | None:
    """Crop a (C, H, W) render to the bounding box where |mean over channels| > threshold
    (METHOD.md section 5, step 6); None if the support is empty."""
    mask = render.mean(0).abs() > threshold
    if not mask.any():
        return None
    rows = mask.any(1).nonzero().flatten()
    cols = mask.any(0).nonzero().flatten()
    return render[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

"""``lpips``: reconstruction LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", CVPR 2018, Eq. 1: d(x, x0) = sum_l mean_hw ||w_l * (y_l - y0_l)||², unit-normalised
AlexNet activations y_l, learned linear weights w_l of lpips v0.1), between training images and the
model's reconstructions (and on the held-out split), in the spirit of the paper's Table 3 MSE.

The linear heads ship in the lpips wheel; the AlexNet trunk must be torchvision's
``alexnet-owt-7be5be79.pth`` in ``$TORCH_HOME/hub/checkpoints/``, and its SHA-256 must start with
7be5be79 (torch.hub does not check cached files). Otherwise 'unavailable': nothing is downloaded and a
random trunk (lpips' ``pnet_rand``) is never used, since that is not LPIPS. Images under 32 px are
bilinearly upsampled to 32 px (AlexNet's pooling needs it).

Interval (version 2): bootstrap over the images' own distances (genbench.metrics.core.bootstrap: B = 200,
percentile 95 %, re-centred on the value).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from genbench.api import EvalContext, Metric, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.reconstruction import reconstruction_batches
from genbench.metrics.core.weights import WeightsError, hub_checkpoints_dir, verify

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_SHA256_PREFIX = "7be5be79"
MIN_SIZE = 32
_NETS: dict[str, torch.nn.Module] = {}


def locate_alexnet() -> tuple[str, str]:
    path = hub_checkpoints_dir() / ALEXNET_FILE
    if not path.is_file():
        raise WeightsError(f"LPIPS needs torchvision's AlexNet weights: put {ALEXNET_FILE} in {path.parent}/")
    return str(path), verify(path, ALEXNET_SHA256_PREFIX, "AlexNet")


def build_lpips(alexnet_path: str) -> torch.nn.Module:
    """lpips v0.1 'alex' with its shipped linear heads and the verified AlexNet trunk loaded from file."""
    import lpips
    import torchvision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecated 'pretrained' argument inside lpips
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    alex = torchvision.models.alexnet(weights=None)
    alex.load_state_dict(torch.load(alexnet_path, map_location="cpu", weights_only=True))
    for sl in (net.net.slice1, net.net.slice2, net.net.slice3, net.net.slice4, net.net.slice5):
        for idx, module in sl._modules.items():
            module.load_state_dict(alex.features[int(idx)].state_dict())
    return net.eval().requires_grad_(False)


@torch.no_grad()
def reconstruction_lpips(net, model, images, n: int, with_index: bool,
                         per_image: list[torch.Tensor] | None = None) -> float:
    """The mean LPIPS over the first n images; with ``per_image`` (a list), each image's own is appended."""
    total, count = 0.0, 0
    for x, rec in reconstruction_batches(model, images, n, with_index):
        if x.shape[1] == 1:
            x, rec = x.repeat(1, 3, 1, 1), rec.repeat(1, 3, 1, 1)
        if x.shape[-1] < MIN_SIZE:
            x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
            rec = F.interpolate(rec, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
        d = net.to(x.device)(x, rec)
        total += d.sum().item()
        count += len(x)
        if per_image is not None:
            per_image.append(d.reshape(len(x)).double().cpu())
    return total / max(count, 1)


def _scored(name: str, net, model, images, n: int, with_index: bool, sha: str) -> Score:
    dists: list[torch.Tensor] = []
    v = reconstruction_lpips(net, model, images, n, with_index, dists)
    interval = bootstrap.mean_interval(v, torch.cat(dists).numpy()) if dists else None
    return Score(name, v, extra={"n": min(n, len(images)), "alexnet_sha256": sha, **bootstrap.extra(interval)})


class LPIPS(Metric):
    description = "reconstruction LPIPS, AlexNet v0.1 (Zhang et al. 2018, Eq. 1); needs verified AlexNet weights"
    requires = frozenset({"generator", "inferrer"})
    columns = ("lpips", "lpips_heldout")
    rank = 70
    version = 2

    def protocol(self, ctx: EvalContext) -> dict:
        try:
            sha = locate_alexnet()[1]
        except WeightsError as exc:
            sha = f"unavailable: {exc}"
        return {"net": "alex", "version": "0.1", "alexnet_sha256": sha, "n_train": min(ctx.n_eval, len(ctx.train)),
                "n_heldout": len(ctx.heldout) if ctx.heldout else 0, "min_size": MIN_SIZE,
                "interval": bootstrap.describe("images")}

    def compute(self, ctx: EvalContext) -> list[Score]:
        try:
            path, sha = locate_alexnet()
        except WeightsError as exc:
            warnings.warn(f"LPIPS unavailable: {exc}", RuntimeWarning, stacklevel=2)
            return [Score("lpips", None, "unavailable", str(exc))]
        if sha not in _NETS:
            _NETS[sha] = build_lpips(path)
        net = _NETS[sha]
        n = min(ctx.n_eval, len(ctx.train))
        scores = [_scored("lpips", net, ctx.model, ctx.train, n, True, sha)]
        if ctx.heldout is not None and len(ctx.heldout):
            scores.append(_scored("lpips_heldout", net, ctx.model, ctx.heldout, len(ctx.heldout), False, sha))
        return scores

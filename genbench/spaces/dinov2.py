"""``dinov2`` (ViT-L/14), ``dinov2_b`` (ViT-B/14), ``dinov2_s`` (ViT-S/14): the CLS token of DINOv2 (Oquab et
al., 2023), the space Stein et al. (NeurIPS 2023) recommend over Inception and EDM2 reports FD_DINOv2 in.

Protocol (EDM2's ``DINOv2Detector``, ``resize_mode='torch'``, which follows dgm-eval): 8-bit images, torch
bicubic resize with antialiasing to 224x224 on the 0..255 levels, scaled to [0, 1], ImageNet mean/std, then
the network's normalised CLS token (1024-d for ViT-L). dgm-eval resizes with PIL's bicubic instead (EDM2's
``'pil'`` mode, "almost the same results"); tests/test_spaces.py measures the difference on real images.

Network: timm's ``vit_*_patch14_dinov2`` at 224 px, loaded from Meta's official checkpoint
(``dinov2_vitl14_pretrain.pth``, the file ``torch.hub.load('facebookresearch/dinov2', 'dinov2_vitl14')``
downloads; Apache-2.0). The checkpoint's position embedding is for 518 px (37x37 patches); the reference model
interpolates it at every forward to the input's 16x16 grid (bicubic, scale factor (16 + 0.1) / 37, no
antialiasing: ``interpolate_pos_encoding`` with ``interpolate_offset=0.1``); genbench does the same once, at
load. tests/test_spaces.py checks the load against an independent forward of the reference architecture on a
state dict in the official layout (random values: the real file cannot be fetched on the machine the tests run on).

Weights: Meta publishes no checksum for these files and genbench could not fetch them to pin one, so the
SHA-256 is not checked: it is recorded in every protocol id (values from two different files never mix) and
shown with every value. Pinning it is one line (``WeightsFile.sha256``) once someone has the file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genbench.api import FeatureSpace, WeightsFile
from genbench.spaces.resize import to_uint8_levels, torch_bicubic

SIZE = 224
PATCH = 14
OFFSET = 0.1  # dinov2's interpolate_offset
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
URL = "https://dl.fbaipublicfiles.com/dinov2/{0}/{0}_pretrain.pth"


def reference_pos_embed(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """The official checkpoint's (1, 1 + M*M, D) position embedding at a grid x grid input, as the reference
    ``interpolate_pos_encoding`` computes it (bicubic, scale factor (grid + 0.1) / M, no antialiasing)."""
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:].float()
    m, dim = int(round(patches.shape[1] ** 0.5)), patches.shape[-1]
    if m == grid:
        return pos_embed
    scale = (grid + OFFSET) / m
    out = F.interpolate(patches.reshape(1, m, m, dim).permute(0, 3, 1, 2), scale_factor=(scale, scale),
                        mode="bicubic", antialias=False)
    return torch.cat([cls, out.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(pos_embed.dtype)], 1)


def timm_state_dict(official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official checkpoint under timm's names (the same but for ``mask_token``, unused at inference) with
    the position embedding for 224 px."""
    out = {k: v for k, v in official.items() if k != "mask_token"}
    out["pos_embed"] = reference_pos_embed(official["pos_embed"], SIZE // PATCH)
    return out


class DinoFeatures(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = (torch_bicubic(to_uint8_levels(x01), SIZE) / 255 - self.mean) / self.std
        return self.net.forward_head(self.net.forward_features(x), pre_logits=True)


class DINOv2Space(FeatureSpace):
    arch = "vit_large_patch14_dinov2"
    official = "dinov2_vitl14"
    network = "DINOv2 ViT-L/14 (LVD-142M, self-supervised), normalised CLS token, 1024-d"
    dims = 1024
    preprocessing = {"resize": f"8-bit levels, torch bicubic (antialias) to {SIZE}x{SIZE} (EDM2's 'torch' mode)",
                     "normalisation": "levels / 255, ImageNet mean/std",
                     "layer": "CLS token after the final LayerNorm",
                     "pos_embed": "37x37 -> 16x16 bicubic, scale (16 + 0.1) / 37, as dinov2 interpolates"}
    weights = WeightsFile("dinov2_vitl14_pretrain.pth", None, url=URL.format("dinov2_vitl14"),
                          licence="Apache-2.0 (facebookresearch/dinov2)")
    comparable = "FD_DINOv2 of EDM2 and dgm-eval (Stein et al. 2023) at the same n"
    rank = 32
    batch_size = 32

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("timm") else "the timm package (pip install timm)"

    def build(self, path: Path | None):
        import timm

        net = timm.create_model(self.arch, pretrained=False, img_size=SIZE)
        net.load_state_dict(timm_state_dict(torch.load(path, map_location="cpu", weights_only=True)))
        return DinoFeatures(net)


class DINOv2BSpace(DINOv2Space):
    arch, official, dims, rank = "vit_base_patch14_dinov2", "dinov2_vitb14", 768, 33
    network = "DINOv2 ViT-B/14 (LVD-142M, distilled), normalised CLS token, 768-d"
    weights = WeightsFile("dinov2_vitb14_pretrain.pth", None, url=URL.format("dinov2_vitb14"),
                          licence="Apache-2.0 (facebookresearch/dinov2)")
    comparable = "dgm-eval's DINOv2 ViT-B/14 values at the same n (the published FD_DINOv2 uses ViT-L/14)"


class DINOv2SSpace(DINOv2Space):
    arch, official, dims, rank = "vit_small_patch14_dinov2", "dinov2_vits14", 384, 34
    network = "DINOv2 ViT-S/14 (LVD-142M, distilled), normalised CLS token, 384-d"
    weights = WeightsFile("dinov2_vits14_pretrain.pth", None, url=URL.format("dinov2_vits14"),
                          licence="Apache-2.0 (facebookresearch/dinov2)")
    comparable = "nothing widely published (the published FD_DINOv2 uses ViT-L/14)"

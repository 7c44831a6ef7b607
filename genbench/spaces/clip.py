"""``clip``: CLIP ViT-L/14@336 image embeddings (Radford et al., ICML 2021), the space of CMMD (Jayasumana et
al., "Rethinking FID", CVPR 2024).

Protocol (google-research ``cmmd/io_util.py`` and ``cmmd/embedding.py``): images read as 8-bit, resized with
PIL's bicubic (antialiased) to 336x336 (``_center_crop_and_resize``; genbench's images are square, so the crop
is the whole image), scaled to [0, 1], CLIP's mean/std, the image tower's projected embedding, L2-normalised
(scenic's CLIP model normalises its embeddings by default). 768-d.

Network: OpenAI's ``ViT-L-14-336px.pt`` (MIT licence), built with open_clip (``load_openai_model``, fp32). The
file's SHA-256 is the one OpenAI's own ``clip`` package checks (it is part of the download URL).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genbench.api import FeatureSpace, WeightsFile
from genbench.spaces.resize import pil_bicubic, to_uint8_levels

SIZE = 336
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SHA256 = "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02"


class ClipFeatures(nn.Module):
    def __init__(self, net: nn.Module, size: int = SIZE):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.size = size
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = (pil_bicubic(to_uint8_levels(x01), self.size) / 255 - self.mean) / self.std
        return F.normalize(self.net.encode_image(x), dim=-1)


class ClipSpace(FeatureSpace):
    network = "CLIP ViT-L/14@336 (OpenAI), image embedding, L2-normalised, 768-d"
    dims = 768
    preprocessing = {"resize": f"8-bit levels, PIL bicubic (antialias) to {SIZE}x{SIZE} (CMMD's reader)",
                     "normalisation": "levels / 255, CLIP mean/std",
                     "layer": "projected image embedding, L2-normalised"}
    weights = WeightsFile("ViT-L-14-336px.pt", SHA256,
                          url=f"https://openaipublic.azureedge.net/clip/models/{SHA256}/ViT-L-14-336px.pt",
                          licence="MIT (openai/CLIP)")
    comparable = "CMMD as Jayasumana et al. (2024) report it, at the same n"
    rank = 35
    batch_size = 16

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("open_clip") else \
            "the open_clip_torch package (pip install open_clip_torch)"

    def build(self, path: Path | None):
        import open_clip

        return ClipFeatures(open_clip.load_openai_model(str(path), precision="fp32", device="cpu"))

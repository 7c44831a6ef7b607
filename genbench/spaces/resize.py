"""The resizes the spaces' reference protocols use, in one place: where evaluation tools disagree most
(Parmar et al., "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022).

Every trained space here quantises images to 8 bits first, as its reference protocol reads them from image
files (EDM2 and dgm-eval for DINOv2, CMMD for CLIP), so a generator's samples are measured as saved PNGs would be.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def to_uint8_levels(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> the 0..255 grey levels an 8-bit image file holds (round half to even), as float32."""
    return torch.round(x01.clamp(0, 1) * 255).to(torch.float32)


def torch_bicubic(levels: torch.Tensor, size: int) -> torch.Tensor:
    """EDM2's fast DINOv2 resize: torch bicubic (a = -0.75) with antialias, on 0..255 levels, no rounding after."""
    return F.interpolate(levels, size=(size, size), mode="bicubic", antialias=True, align_corners=False)


def pil_bicubic(levels: torch.Tensor, size: int) -> torch.Tensor:
    """PIL's bicubic (a = -0.5, antialiased) of 8-bit images to size x size, back to 0..255 levels (8-bit,
    as PIL returns them): dgm-eval's DINOv2 resize and CMMD's ``_center_crop_and_resize`` of square images."""
    arr = levels.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.stack([np.asarray(Image.fromarray(a, "RGB").resize((size, size), Image.Resampling.BICUBIC))
                    for a in arr])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(levels.device, torch.float32)

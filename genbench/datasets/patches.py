"""``patches``: random crops of the photographs bundled with scikit-image and scikit-learn
(docs/method.md section 3, "Data"): real natural-image statistics with nothing downloaded."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from genbench.api import Dataset, ImageSet

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                  "retina", "cat")


@lru_cache(maxsize=1)
def photographs() -> tuple[np.ndarray, ...]:
    """The bundled RGB photographs as uint8 (H, W, 3) arrays."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = [getattr(skimage.data, name)() for name in SKIMAGE_PHOTOS]
    photos += list(load_sample_images().images)
    return tuple(np.ascontiguousarray(p[..., :3]) for p in photos)


def random_crops(n: int, size: int, seed: int, min_frac: float = 0.12, max_frac: float = 0.35) -> np.ndarray:
    """n square crops (side a random fraction of the photo's shorter side), LANCZOS-resized."""
    rng = np.random.default_rng(seed)
    photos = photographs()
    out = np.empty((n, 3, size, size), np.uint8)
    for i in range(n):
        p = photos[rng.integers(len(photos))]
        h, w = p.shape[:2]
        side = int(rng.uniform(min_frac, max_frac) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(p[y:y + side, x:x + side]).resize((size, size), Image.LANCZOS)
        out[i] = np.asarray(crop).transpose(2, 0, 1)
    return out


class Patches(Dataset):
    description = "random crops of the photographs bundled with scikit-image and scikit-learn (embedded)"
    default_n = 10000

    def load(self, split: str, image_size: int, n: int | None = None, seed: int = 0, **options) -> ImageSet:
        n = self.default_n if n is None else n
        stream = 104729 + seed * 2 + (1 if split == "heldout" else 0)
        return ImageSet(torch.from_numpy(random_crops(n, image_size, stream)), "patches", split)

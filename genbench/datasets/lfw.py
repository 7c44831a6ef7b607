"""``lfw``: the 100 face images of scikit-image's ``lfw_subset`` (25x25 grayscale, float in [0,1]),
resized to the run's resolution and repeated to 3 channels. Faces 0-89 train, 90-99 are held out."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from genbench.api import Dataset, ImageSet

N_FACES, N_TRAIN = 100, 90


def faces(image_size: int) -> np.ndarray:
    import skimage.data

    gray = skimage.data.lfw_subset()[:N_FACES]  # rows 100-199 are non-faces
    out = np.empty((N_FACES, 3, image_size, image_size), np.uint8)
    for i, g in enumerate(gray):
        img = Image.fromarray(np.round(g * 255).astype(np.uint8)).resize((image_size, image_size), Image.LANCZOS)
        out[i] = np.asarray(img)[None]
    return out


class LFW(Dataset):
    description = "the 100 LFW faces bundled with scikit-image (grayscale as RGB; 90 train, 10 held out)"
    default_n = N_TRAIN

    def load(self, split: str, image_size: int, n: int | None = None, seed: int = 0, **options) -> ImageSet:
        all_faces = faces(image_size)
        imgs = all_faces[:N_TRAIN] if split == "train" else all_faces[N_TRAIN:]
        if n is not None:
            imgs = imgs[:n]
        return ImageSet(torch.from_numpy(imgs), "lfw", split)

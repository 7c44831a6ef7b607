"""Image grids, written atomically."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench.io import atomic_path


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return x.add(1).div(2).clamp(0, 1)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    """Save images in [-1, 1] as one PNG grid (torchvision, imported here: ``import genbench`` does not need it)."""
    from torchvision.utils import make_grid, save_image

    grid = make_grid(to_unit(images.float()), nrow=nrow, padding=1, pad_value=1.0)
    with atomic_path(path) as tmp:
        save_image(grid, tmp, format="png")

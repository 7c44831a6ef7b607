"""The sparsity-inducing function S(.; k) of Eqn. 6 (Xing et al., CVPR 2020).

S keeps the k largest entries of a post-ReLU activation and zeros the rest. The mask is a
constant: the gradient flows only through the kept entries (no straight-through estimator).
After ReLU, ties can only occur at 0, so ``torch.topk`` equals the reference code's ``>= k-th``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def topk_mask(x: Tensor, k: int, dim: int) -> Tensor:
    """0/1 mask (same dtype as x) keeping the k largest entries of x along ``dim``."""
    size = x.shape[dim]
    if k >= size:
        return torch.ones_like(x)
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, got k={k}")
    idx = x.detach().topk(k, dim=dim, sorted=False).indices  # the set is all we need: no sort
    return torch.zeros_like(x).scatter_(dim, idx, 1.0)


def channel_topk_mask(x: Tensor, k: int) -> Tensor:
    """FC layer (Eqn. 6, Z -> O): per sample and position, top-k over channels. x: (B, C, H, W)."""
    return topk_mask(x, k, dim=1)


def spatial_topk_mask(x: Tensor, k: int) -> Tensor:
    """Conv layers (Eqn. 6): per sample and channel, top-k over the H*W positions. x: (B, C, H, W)."""
    b, c, h, w = x.shape
    return topk_mask(x.reshape(b, c, h * w), k, dim=2).reshape(b, c, h, w)

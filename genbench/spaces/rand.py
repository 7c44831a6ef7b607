"""``rand``: genbench's frozen, seeded random CNN (genbench.metrics.core.randcnn): a space that exists offline
and needs no download, following the random-embedding evaluations of Naeem et al. (ICML 2020) and Lee et al.
(AAAI 2023). Comparable with nothing published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genbench.api import FeatureSpace, Weights, WeightsFile
from genbench.metrics.core import randcnn


class RandomCNN(nn.Module):
    def __init__(self, weights: list[torch.Tensor]):
        super().__init__()
        self.convs = nn.ParameterList([nn.Parameter(w, requires_grad=False) for w in weights])

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(2 * x01 - 1, size=(randcnn.INPUT_SIZE,) * 2, mode="bilinear", align_corners=False)
        feats = []
        for w, s in zip(self.convs, randcnn.STRIDES, strict=True):
            x = F.relu(F.conv2d(x, w, stride=s, padding=1))
            feats.append(x.mean(dim=(2, 3)))
        return torch.cat(feats, 1)


class RandSpace(FeatureSpace):
    network = randcnn.PROTOCOL["network"]
    dims = randcnn.DIMS
    preprocessing = {k: v for k, v in randcnn.PROTOCOL.items() if k != "network"}
    weights = WeightsFile(randcnn.ASSET.name, randcnn.ASSET_SHA256, licence="MIT (genbench's own)",
                          package=f"genbench:assets/{randcnn.ASSET.name}")
    comparable = "nothing published (genbench's own random network)"
    rank = 30
    batch_size = 50  # on a CPU (the extractor takes 500 on an accelerator): see randcnn.RandCNNExtractor

    def identity(self, weights: Weights) -> dict[str, Any]:
        return randcnn.RandCNNExtractor.identity_for()

    def build(self, path: Path | None):
        return RandomCNN(randcnn.load_weights())

    def make_extractor(self, weights: Weights, device):
        """The extractor ``fd_rand`` has always used (inputs in [-1, 1] directly: the same values as before)."""
        return randcnn.RandCNNExtractor(device)

"""The FID Inception network: pytorch-fid's InceptionV3 (Heusel et al. 2017's TensorFlow graph
``inception-2015-12-05`` ported by pytorch-fid), pool3 features (2048-d), with verified weights.
The same network also gives its 1008-way classifier logits (``FIDInception.logits``), for the
Inception Score (genbench.metrics.isc, genbench.metrics.core.isc).

Weights are looked up once per command as every feature space's are (genbench.metrics.core.weights.resolve, the
space in genbench.spaces.inception): ``--weights inception=FILE``, ``--inception-weights PATH`` or
``$GENBENCH_INCEPTION_WEIGHTS``; genbench's weights cache; then the torch hub cache file pytorch-fid uses
(``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth``) or torch-fidelity's name for the same
file (``weights-inception-2015-12-05-6726825d.pth``); downloaded from pytorch-fid's release only when asked for
by name. No other network is ever substituted. The file's SHA-256 must start with ``6726825d``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genbench.api import Weights
from genbench.metrics.core.features import embed
from genbench.metrics.core.weights import WeightsError, verify

SHA256_PREFIX = "6726825d"
FILENAMES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
ENV_VAR = "GENBENCH_INCEPTION_WEIGHTS"
DIMS = 2048
LOGITS = 1008  # outputs of the 2015-12-05 graph's classifier (the 1000 ImageNet classes among them)
# What determines the features, beyond the weights' hash: part of every protocol that uses them.
PROTOCOL = {"network": "pytorch-fid InceptionV3 (FID variant), pool3 2048-d",
            "resize": "bilinear to 299x299, align_corners=False",
            "preprocessing": "[-1,1] float -> (x+1)/2 in [0,1] -> 2x-1 inside the network; no uint8 rounding "
                             "of generated images; 1-channel images repeated to RGB"}


def fid_inception_architecture() -> nn.Module:
    """pytorch-fid's ``fid_inception_v3`` without its download: torchvision's InceptionV3 with 1008
    classes, no aux head, and the FID blocks patched in. Weights are uninitialised. (pytorch-fid, and torchvision
    with it, are imported here, when a network is built: resolving the weights, which every plan does, needs
    neither.)"""
    from pytorch_fid.inception import (
        FIDInceptionA,
        FIDInceptionC,
        FIDInceptionE_1,
        FIDInceptionE_2,
        _inception_v3,
    )

    inception = _inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


class FIDInception(nn.Module):
    """pool3 features of pytorch-fid's ``InceptionV3([3])``: same blocks, same resize and scaling;
    ``logits`` maps them through the same file's 1008-way ``fc`` layer."""

    def __init__(self, inception: nn.Module):
        super().__init__()
        i = inception
        self.net = nn.Sequential(
            i.Conv2d_1a_3x3, i.Conv2d_2a_3x3, i.Conv2d_2b_3x3, nn.MaxPool2d(kernel_size=3, stride=2),
            i.Conv2d_3b_1x1, i.Conv2d_4a_3x3, nn.MaxPool2d(kernel_size=3, stride=2),
            i.Mixed_5b, i.Mixed_5c, i.Mixed_5d, i.Mixed_6a, i.Mixed_6b, i.Mixed_6c, i.Mixed_6d, i.Mixed_6e,
            i.Mixed_7a, i.Mixed_7b, i.Mixed_7c, nn.AdaptiveAvgPool2d(output_size=(1, 1)))
        self.fc = i.fc  # not used by forward: pool3 features are computed exactly as before
        self.requires_grad_(False)
        self.eval()

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """x01: (B, 3, H, W) in [0, 1] -> (B, 2048)."""
        x = F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net(2 * x - 1).flatten(1)

    def logits(self, pool3: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """(B, 2048) pool3 features from ``forward`` -> (B, 1008) logits, fc(pool3) (the network's own
        classifier; dropout is inactive in eval). ``bias=False`` gives pool3 @ fc.weight^T, the logits
        Salimans et al.'s Inception Score code takes (the input of ``softmax/logits/MatMul``, before the
        bias add) and torch-fidelity's IS uses by default (its ``logits_unbiased``)."""
        return self.fc(pool3) if bias else pool3 @ self.fc.weight.T


def load(path: str | os.PathLike, sha256: str | None = None, *, allow_unverified: bool = False) -> FIDInception:
    """Build the network from a weights file. The file must pass ``verify`` (pass its ``sha256`` from
    ``locate`` to skip rehashing) unless ``allow_unverified`` is set explicitly, in which case callers
    must label what they compute as unverified (``fid_unverified``)."""
    if not allow_unverified:
        digest = verify(path, SHA256_PREFIX, "Inception")
        if sha256 is not None and digest != sha256:
            raise WeightsError(f"Inception weights file {path} changed while in use")
    state = torch.load(path, map_location="cpu", weights_only=True)
    inception = fid_inception_architecture()
    inception.load_state_dict(state)
    return FIDInception(inception)


class InceptionExtractor:
    """Feature extractor for genbench.metrics.core.features: images in [-1, 1] -> 2048-d pool3 features."""

    dims = DIMS

    def __init__(self, net: FIDInception, sha256: str, device: torch.device | str = "cpu",
                 batch_size: int = 50):
        self.net = net.to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.identity = {**PROTOCOL, "weights_sha256": sha256}

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return embed(self.net, images, self.device, self.batch_size, self.dims)


# -- the service the Inception metrics share: one network per weights file, one identity per protocol -------
_NETS: dict[str, FIDInception] = {}


def identity(weights: Weights) -> dict[str, Any]:
    """What the Inception features depend on, for protocols: the network, resize, preprocessing and the weights'
    SHA-256 (or why there are none); unverified weights say so."""
    out: dict[str, Any] = {**PROTOCOL, "weights_sha256": weights.sha256 or f"unavailable: {weights.reason}"}
    if weights.sha256 and not weights.verified:
        out["weights_verified"] = False
    return out


def extractor(weights: Weights, device: torch.device | str) -> InceptionExtractor | None:
    """The feature extractor for resolved ``weights`` (the network is built once per file), or None when
    they are unavailable."""
    if not weights.available:
        return None
    if weights.sha256 not in _NETS:
        _NETS[weights.sha256] = load(weights.path, weights.sha256, allow_unverified=not weights.verified)
    return InceptionExtractor(_NETS[weights.sha256], weights.sha256, device)


__all__ = ["WeightsError", "load", "FIDInception", "InceptionExtractor", "fid_inception_architecture",
           "identity", "extractor"]

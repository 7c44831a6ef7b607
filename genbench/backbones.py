"""The shared Table-1 backbones (Xing et al., CVPR 2020, Table 1), with a width multiplier and a
resolution, so every model in a comparison has the same capacity (docs/method.md section 1).

Generator g(Z): FC -> (C0, 4, 4) -> ReLU [-> channel top-k], then one block per doubling of the
resolution: Up(nearest, 2) -> Conv3x3+ReLU -> Conv3x3+ReLU [-> spatial top-k], then Conv3x3 + Tanh.
Energy network f(Y): Conv+LReLU(0.2) -> Down, [Conv+LReLU]x2 -> Down, ..., [Conv+LReLU]x2 at 4x4 -> FC.

At 64x64 and width 1 these are Table 1 exactly. A smaller resolution drops the highest-resolution
blocks; the block at the output resolution is the dense one (Table 1's 64x64 layer has no k).

Following the authors' code (docs/method.md section 1): no normalisation, equalised learning rate
(N(0,1) weights scaled at run time by gain/sqrt(fan_in)), bias-free convolutions. Baselines that
need batch norm or a classic initialisation (DCGAN, WGAN) select them with ``norm`` and ``equalized``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.sparsity import channel_topk_mask, spatial_topk_mask

# Table 1 channel counts, keyed by the feature-map resolution at width 1.
GEN_FC_CHANNELS = 3200
GEN_CHANNELS = {8: 512, 16: 256, 32: 128, 64: 64}
EBM_CHANNELS = {64: 64, 32: 64, 16: 128, 8: 256, 4: 512}
SQRT2 = math.sqrt(2.0)


def _check_resolution(image_size: int) -> int:
    n = int(round(math.log2(image_size)))
    if image_size < 8 or 2**n != image_size or image_size > 64:
        raise ValueError(f"image_size must be 8, 16, 32 or 64 (the Table 1 ladder), got {image_size}")
    return n


def scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


# nearest 2x upsampling then a 3x3 kernel (w0, w1, w2 along an axis) = a stride-2 transposed convolution with
# the 4 taps (w2, w1 + w2, w0 + w1, w0): ConvTranspose's tap p - 2i + 1 multiplies input i at output p
UP_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@functools.cache
def _up_taps(device: torch.device, dtype: torch.dtype) -> Tensor:
    """UP_TAPS on a device, made once (no host-to-device copy per forward)."""
    return UP_TAPS.to(device, dtype)


class Conv3x3(nn.Module):
    """3x3, stride 1, padding 1, no bias (Table 1). Equalised: w ~ N(0,1), scaled by gain/sqrt(fan_in)."""

    def __init__(self, cin: int, cout: int, equalized: bool = True, gain: float = SQRT2, init_std=None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        fan_in = cin * 9
        if equalized:
            nn.init.normal_(self.weight)
            self.scale = gain / math.sqrt(fan_in)
        else:
            if init_std is None:
                nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # torch's default for Conv2d
            else:
                nn.init.normal_(self.weight, 0.0, init_std)
            self.scale = 1.0

    def kernel(self) -> Tensor:
        return self.weight * self.scale

    def folded(self) -> Tensor:
        """The 4x4 kernel of ``upsampled``."""
        taps = _up_taps(self.weight.device, self.weight.dtype)
        kernel = torch.einsum("pi,ocij,qj->copq", taps, self.kernel(), taps)
        return kernel.contiguous(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, _held(self, "kernel"), padding=1)

    def upsampled(self, x: Tensor) -> Tensor:
        """This convolution of ``x`` upsampled 2x by nearest neighbour, as one transposed convolution (stride 2,
        4x4 kernel, padding 1): an output row 2i + a sees input rows {i - 1, i} (a = 0) or {i, i + 1} (a = 1),
        so each 3x3 kernel folds into a 4x4 one (``UP_TAPS`` per axis). The same function and parameters; 2.25x
        fewer multiplications and no upsampled copy: 0.55-0.7x the time forward+backward on a CPU
        (benchmarks/RESULTS.md), outputs equal to float32 round-off."""
        return F.conv_transpose2d(x, _held(self, "folded"), stride=2, padding=1)


class Dense(nn.Module):
    """Fully connected layer with bias; equalised like Conv3x3 when ``equalized``."""

    def __init__(self, fin: int, fout: int, equalized: bool = True, gain: float = SQRT2, init_std=None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fout, fin))
        self.bias = nn.Parameter(torch.zeros(fout))
        if equalized:
            nn.init.normal_(self.weight)
            self.scale = gain / math.sqrt(fin)
        else:
            if init_std is None:
                nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
                bound = 1 / math.sqrt(fin)
                nn.init.uniform_(self.bias, -bound, bound)
            else:
                nn.init.normal_(self.weight, 0.0, init_std)
            self.scale = 1.0

    def kernel(self) -> Tensor:
        return self.weight * self.scale

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, _held(self, "kernel"), self.bias)


def _held(layer: Conv3x3 | Dense, kernel: str) -> Tensor:
    """``layer.<kernel>()``: made once while ``held_kernels`` holds the layer's weights fixed, else now."""
    held = layer.__dict__.get("_held")
    if held is None or layer.weight.requires_grad:  # a kernel with a graph would be backpropagated twice
        return getattr(layer, kernel)()
    if kernel not in held:
        held[kernel] = getattr(layer, kernel)()
    return held[kernel]


@contextmanager
def held_kernels(*modules: nn.Module) -> Iterator[None]:
    """While the parameters of ``modules`` are held fixed (no gradients, no updates: a Langevin chain through a
    frozen generator, a critic scoring another network's samples), each layer's run-time kernel (the weight
    times its equalised-learning-rate scale; the upsampling convolution's folded 4x4 kernel) is made at its
    first use and reused, not remade at every forward: a `small` Langevin step on a CPU takes 0.9x the time
    (benchmarks/RESULTS.md). The same values; nothing is kept after the block."""
    layers = [m for module in modules for m in module.modules() if isinstance(m, Conv3x3 | Dense)]
    before = [m.__dict__.get("_held") for m in layers]
    for m in layers:
        m._held = {}
    try:
        yield
    finally:
        for m, held in zip(layers, before, strict=True):
            m._held = held


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be 'none' or 'batch', got {kind!r}")


@dataclass
class Sparsity:
    """Top-k settings (Eqn. 6). ``fc_k``: units kept per position over the FC layer's channels;
    ``conv_frac``: k = conv_frac * H * W per channel in every sparse conv block (Table 1: 1/4)."""

    fc_k: int = 8
    conv_frac: float = 0.25

    def conv_k(self, res: int) -> int:
        return max(1, int(round(self.conv_frac * res * res)))


class GenBlock(nn.Module):
    def __init__(self, cin, cout, res, sparse: Sparsity | None, norm, equalized, init_std):
        super().__init__()
        self.res = res
        self.conv1 = Conv3x3(cin, cout, equalized, init_std=init_std)
        self.conv2 = Conv3x3(cout, cout, equalized, init_std=init_std)
        self.norm1, self.norm2 = _norm(norm, cout), _norm(norm, cout)
        self.k = sparse.conv_k(res) if sparse is not None else None

    def forward(self, x: Tensor, trace: list | None = None) -> Tensor:
        h1 = self.norm1(self.conv1.upsampled(x))  # conv1(nearest 2x upsampling of x)
        a1 = F.relu(h1)
        h2 = self.norm2(self.conv2(a1))
        a2 = F.relu(h2)
        mask = spatial_topk_mask(a2, self.k) if self.k is not None else None
        out = a2 * mask if mask is not None else a2
        if trace is not None:
            trace.append({"name": f"b{self.res}", "res": self.res, "relu1": (h1 > 0), "relu2": (h2 > 0),
                          "topk": mask, "out": out})
        return out


class Table1Generator(nn.Module):
    """g(Z) of Table 1. ``sparsity=None`` gives the dense generator every baseline uses.

    ``forward(z, trace=list)`` appends one dict per layer (names 'fc', 'b8', 'b16', ...), holding
    the ReLU masks, the top-k mask and the layer output, which basis rendering replays.
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 64, width: float = 1.0,
                 sparsity: Sparsity | None = None, norm: str = "none", equalized: bool = True,
                 init_std: float | None = None, out_channels: int = 3):
        super().__init__()
        _check_resolution(image_size)
        self.latent_dim, self.image_size, self.sparsity = latent_dim, image_size, sparsity
        self.c0 = scaled(GEN_FC_CHANNELS, width)
        self.fc = Dense(latent_dim, self.c0 * 16, equalized, gain=SQRT2 / 4, init_std=init_std)
        self.fc_norm = _norm(norm, self.c0)
        self.fc_k = min(sparsity.fc_k, self.c0) if sparsity is not None else None
        blocks, cin, res = [], self.c0, 8
        while res <= image_size:
            cout = scaled(GEN_CHANNELS[res], width)
            block_sparse = sparsity if res < image_size else None  # output-resolution block is dense
            blocks.append(GenBlock(cin, cout, res, block_sparse, norm, equalized, init_std))
            cin, res = cout, res * 2
        self.blocks = nn.ModuleList(blocks)
        self.out = Conv3x3(cin, out_channels, equalized, gain=1.0, init_std=init_std)
        # the convolutions run channels-last (weights here, activations in forward): a Langevin step and a training
        # fwd+bwd take 0.7-0.75x the time on a CPU (benchmarks/RESULTS.md); values equal to float32 round-off
        self.to(memory_format=torch.channels_last)

    def forward(self, z: Tensor, trace: list | None = None, pre_tanh: bool = False) -> Tensor:
        h = self.fc_norm(self.fc(z).view(-1, self.c0, 4, 4))
        a = F.relu(h)
        mask = channel_topk_mask(a, self.fc_k) if self.fc_k is not None else None
        x = a * mask if mask is not None else a
        if trace is not None:
            trace.append({"name": "fc", "res": 4, "relu": (h > 0), "topk": mask, "out": x})
        x = x.contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            x = block(x, trace)
        y = self.out(x).contiguous()  # images in the usual layout for everything downstream
        if trace is not None:
            trace.append({"name": "out", "res": self.image_size, "out": y})
        return y if pre_tanh else torch.tanh(y)


class Table1EnergyNet(nn.Module):
    """f(Y) of Table 1: a bottom-up ConvNet with LReLU(0.2), average-pool downsampling, FC head.

    ``out_features`` > 1 turns it into an encoder trunk (VAE, ALI). ``features(x)`` returns the
    flattened 4x4 features before the head, for models that compose their own heads (ALI's joint D).
    """

    def __init__(self, image_size: int = 64, width: float = 1.0, out_features: int = 1,
                 norm: str = "none", equalized: bool = True, init_std: float | None = None,
                 dropout: float = 0.0, in_channels: int = 3):
        super().__init__()
        _check_resolution(image_size)
        layers: list[nn.Module] = []
        cin, res, first = in_channels, image_size, True
        while res >= 4:
            cout = scaled(EBM_CHANNELS[res], width)
            for _ in range(1 if first else 2):
                layers.append(Conv3x3(cin, cout, equalized, init_std=init_std))
                if not first:  # DCGAN convention: no normalisation on the first layer
                    layers.append(_norm(norm, cout))
                layers.append(nn.LeakyReLU(0.2))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                cin, first = cout, False
            if res > 4:
                layers.append(nn.AvgPool2d(2))
            res //= 2
        self.trunk = nn.Sequential(*layers)
        self.feature_dim = cin * 16
        self.head = Dense(self.feature_dim, out_features, equalized, gain=1.0, init_std=init_std)

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

"""A frozen, seeded random CNN: the feature space of ``fd_rand`` and ``kid_rand``.

Random-network embeddings for evaluating generative models on data far from ImageNet: Naeem et al.,
"Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020 (section 5, randomly
initialised embeddings), and Lee, Kim & Lee, "Demystifying Randomly Initialized Networks for
Evaluating Generative Models", AAAI 2023. Distances here are NOT FID and are not comparable with any
published FID; they exist so that a feature-space distance is available offline.

The weights ship as ``genbench/assets/randcnn-v1.npz`` (float16, made once by ``make_weights(seed=2020)``)
and their SHA-256 is checked at load, because torch's initialisers and RNG may change across versions.
Network: resize to 64x64 (bilinear), four 3x3 convs (3->32 stride 1, ->64, ->128, ->256 stride 2, no bias),
each followed by ReLU; the feature is the concatenation of each layer's spatial mean (480-d).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genbench.metrics.core.weights import WeightsError, sha256_file

ASSET = Path(__file__).parents[2] / "assets" / "randcnn-v1.npz"
ASSET_SHA256 = "3d1fbc709535ffee51fe3ac3dcc915e791b34b7284dfc7b5bd8a48123c40304f"
CHANNELS = (3, 32, 64, 128, 256)
STRIDES = (1, 2, 2, 2)
INPUT_SIZE = 64
DIMS = sum(CHANNELS[1:])
PROTOCOL = {"network": "genbench random CNN v1 (4 conv 3x3, ReLU, per-layer spatial means, 480-d); not Inception",
            "resize": f"bilinear to {INPUT_SIZE}x{INPUT_SIZE}, align_corners=False",
            "preprocessing": "[-1,1] float; 1-channel images repeated to RGB"}


def make_weights(seed: int = 2020) -> dict[str, np.ndarray]:
    """He-normal conv weights from numpy's PCG64 (how the shipped asset was made)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (cin, cout) in enumerate(zip(CHANNELS[:-1], CHANNELS[1:], strict=True)):
        w = rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        out[f"conv{i}"] = w.astype(np.float16)
    return out


def load_weights(path: Path = ASSET, sha256: str | None = None) -> list[torch.Tensor]:
    digest = sha256_file(path)
    expected = ASSET_SHA256 if sha256 is None else sha256
    if digest != expected:
        raise WeightsError(f"random-CNN weights {path} have SHA-256 {digest[:16]}..., expected {expected[:16]}...; "
                           f"reinstall genbench")
    with np.load(path) as f:
        return [torch.from_numpy(f[f"conv{i}"].astype(np.float32)) for i in range(len(STRIDES))]


class RandCNNExtractor:
    """Feature extractor for genbench.metrics.core.features: images in [-1, 1] -> 480-d random-CNN features."""

    dims = DIMS

    def __init__(self, device: torch.device | str = "cpu", batch_size: int | None = None):
        self.device = torch.device(device)
        # on a CPU batches of 50 keep a batch's activations in cache: 1.8x the images per second of 500 (2-core
        # AMD EPYC, benchmarks/RESULTS.md), the same features to the last bit; an accelerator takes 500
        # channels-last: 0.62x the time on a CPU, features equal to float32 round-off (3.6e-7 of values up to 1.4)
        self.weights = [w.to(self.device).contiguous(memory_format=torch.channels_last) for w in load_weights()]
        self.batch_size = batch_size or (50 if self.device.type == "cpu" else 500)
        self.identity = self.identity_for()

    @staticmethod
    def identity_for() -> dict:
        return {**PROTOCOL, "weights_sha256": ASSET_SHA256}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(images), self.batch_size):
            x = images[i:i + self.batch_size].to(self.device, torch.float32).clamp(-1, 1)
            if x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
            x = x.contiguous(memory_format=torch.channels_last)
            feats = []
            for w, s in zip(self.weights, STRIDES, strict=True):
                x = F.relu(F.conv2d(x, w, stride=s, padding=1))
                feats.append(x.mean(dim=(2, 3)))
            out.append(torch.cat(feats, 1).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, DIMS))

"""Small fake models and contexts shared by the metric tests (no training, no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from genbench.api import (
    DataInfo,
    EvalContext,
    EvalSettings,
    GenerativeModel,
    ImageSet,
    ModelConfig,
    UnitRender,
    Weights,
)
from genbench.metrics.core.weights import WeightsPolicy
from genbench.run.plan import resolve_spaces


class FakeGenerator(GenerativeModel):
    """generate(z): a fixed linear map to images, tanh; enough for feature-space metrics."""

    provides = ("generator",)

    def __init__(self, size: int = 16, channels: int = 3, shift: float = 0.0):
        super().__init__(ModelConfig(latent_dim=8), DataInfo("fake", size, 8, channels))
        self.lin = nn.Linear(8, channels * size * size)
        self.shift, self.shape = shift, (channels, size, size)

    def generate(self, z):
        return torch.tanh(self.lin(z).view(len(z), *self.shape) + self.shift)


class FakeRenderer(GenerativeModel):
    """render_units(z, 'b8'): for sample i, 4 renders, each a given patch pasted at a given place on zeros
    (full-size, like the real renderer); which patches is set by the test."""

    provides = ("generator", "renderer")

    def __init__(self, patches: list[tuple[torch.Tensor, int, int]], size: int):
        super().__init__(ModelConfig(latent_dim=4), DataInfo("fake", size, 8, 3))
        self.p = nn.Parameter(torch.zeros(1))
        self.patches, self.size = patches, size
        self.layers_asked: list[str] = []

    def generate(self, z):
        return torch.zeros(len(z), 3, self.size, self.size)

    def render_units(self, z, layer, top=1):
        self.layers_asked.append(layer)
        out = []
        for s in range(len(z)):
            for k, (patch, y, x) in enumerate(self.patches):
                img = torch.zeros(3, self.size, self.size)
                img[:, y:y + patch.shape[1], x:x + patch.shape[2]] = patch
                out.append(UnitRender(s, layer, (y, x), k, 1.0, img))
        return out


def fake_renderer(trained: list, size: int, untrained: list | None = None) -> FakeRenderer:
    """A FakeRenderer that renders the ``trained`` patches; a fresh instance of its class, built as a plugin
    is built (config, data) -- e.g. the untrained twin of a chance level -- renders ``untrained`` (default:
    the same patches)."""

    class Fresh(FakeRenderer):
        def __init__(self, config=None, data=None):
            super().__init__(trained if untrained is None else untrained, size)

    model = Fresh()
    model.patches = trained
    return model


def imageset(images01: torch.Tensor, name: str = "fake", split: str = "train") -> ImageSet:
    return ImageSet((images01 * 255).round().clamp(0, 255).to(torch.uint8), name, split)


def context(model, train: ImageSet, cache_dir=None, dataset=None, n_eval: int = 64, n_fid=None,
            inception_weights=None, allow_unverified_weights: bool = False, weights: Weights | None = None,
            heldout: ImageSet | None = None) -> EvalContext:
    """A metric's context as a command builds it: every feature space's weights resolved once (as
    ``--inception-weights`` and ``--allow-unverified-weights`` would, offline), unless the Inception ``weights``
    are given as resolved."""
    explicit = {"inception": Path(inception_weights)} if inception_weights else {}
    networks = resolve_spaces(WeightsPolicy(explicit, {"inception": "--inception-weights"}, offline=True,
                                            allow_unverified=allow_unverified_weights))
    if weights is not None:
        networks["inception"] = weights
    settings = EvalSettings(n_eval, n_fid, cache_dir, None, tuple(networks.values()))
    return EvalContext(model, dataset, train, heldout, torch.device("cpu"), 0, settings)


@pytest.fixture(autouse=True)
def single_blas_thread():
    """One BLAS thread: on a loaded 2-core machine OpenBLAS threads spin and small linear algebra gets ~50x slower."""
    with threadpool_limits(1):
        yield

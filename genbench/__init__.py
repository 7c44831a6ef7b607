"""genbench: train and compare generative image models; the paper's tables from tidy records.

Public API (what plugins may import): the names below and the modules ``genbench.api``,
``genbench.backbones``, ``genbench.sparsity``, ``genbench.langevin``, ``genbench.registry``,
``genbench.errors``, ``genbench.viz``, ``genbench.domains``.
"""

__version__ = "0.1.0"

from genbench.api import (  # noqa: E402
    Batch,
    DataInfo,
    Dataset,
    EvalContext,
    GenerativeModel,
    ImageSet,
    Metric,
    ModelConfig,
    Score,
    UnitRender,
    capabilities,
)
from genbench.errors import GenbenchError  # noqa: E402
from genbench.registry import register_dataset, register_metric, register_model  # noqa: E402

__all__ = [
    "Batch", "DataInfo", "Dataset", "EvalContext", "GenerativeModel", "GenbenchError", "ImageSet", "Metric",
    "ModelConfig", "Score", "UnitRender", "capabilities", "register_dataset", "register_metric",
    "register_model",
]


def __getattr__(name: str):
    """``genbench.evaluate`` (genbench.scoring.evaluate: score images or a generator made elsewhere), loaded on
    first use: it belongs to the run-flow layer, which the public API below it must not import."""
    if name == "evaluate":
        from importlib import import_module

        return import_module("genbench.scoring").evaluate
    raise AttributeError(f"module 'genbench' has no attribute {name!r}")

"""genbench: train and compare generative image models; the paper's tables from tidy records.

Public API (what a third-party model, dataset or metric plugin may import): the names below and the modules
in ``PUBLIC_MODULES``, the one list of them (the README, docs/design.md and tests/test_imports.py read it).
"""

__version__ = "0.1.0"

PUBLIC_MODULES = (
    "genbench",  # the names below
    "genbench.api",  # the plugin interfaces: GenerativeModel, Dataset, Metric, Score, EvalContext, EvalSettings
    "genbench.toolkit",  # for metric authors: feature spaces, feature sets, distances, intervals, chance levels
    "genbench.backbones",  # the paper's Table-1 networks
    "genbench.sparsity",  # the sparsity-inducing function S(.; k), the paper's Eqn. 6
    "genbench.langevin",  # Langevin inference of latents
    "genbench.render",  # rendering units to image space (renderers)
    "genbench.registry",  # plugin discovery and in-process registration
    "genbench.errors",  # GenbenchError: one sentence, exit code 2
    "genbench.viz",  # image grids
    "genbench.domains",  # the value domains of config fields
)

from genbench.api import (  # noqa: E402
    Batch,
    DataInfo,
    Dataset,
    EvalContext,
    EvalSettings,
    GenerativeModel,
    ImageSet,
    Metric,
    ModelConfig,
    Score,
    Status,
    UnitRender,
    Weights,
    capabilities,
)
from genbench.errors import GenbenchError  # noqa: E402
from genbench.registry import register_dataset, register_metric, register_model  # noqa: E402

__all__ = [
    "Batch", "DataInfo", "Dataset", "EvalContext", "EvalSettings", "GenerativeModel", "GenbenchError", "ImageSet",
    "Metric", "ModelConfig", "Score", "Status", "UnitRender", "Weights", "capabilities", "register_dataset",
    "register_metric", "register_model", "evaluate",
]

# ``genbench.evaluate`` (score images or a generator made elsewhere) belongs to the evaluation layers above the
# public API; imported last, when every name above is defined (tests/test_imports.py knows this one import).
from genbench.eval.outside import evaluate  # noqa: E402

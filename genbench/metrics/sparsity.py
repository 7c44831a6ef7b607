"""``sparsity``: the fraction of active (non-zero) units in each layer of a Table-1 generator.

For ``n`` samples z ~ p(z) (at most ``n_eval``, capped at 256), one forward pass records each
layer's output after ReLU and top-k (Eqn. 6); the score ``sparsity_<layer>`` (``sparsity_fc``,
``sparsity_b8``, ...) is the mean over samples, channels and positions of 1[output != 0]. The
paper's model should sit at the top-k budget in the sparse layers (k / channels for 'fc', 1/4 of
positions per channel otherwise) while a dense generator shows only its ReLU sparsity. Lower means
sparser; neither direction is "better", so the scores are descriptive. Models without a Table-1
generator read n/a.
"""

from __future__ import annotations

import torch

from genbench.api import EvalContext, Metric, Score
from genbench.render import active_fraction, find_generator, layer_names, trace_generator

MAX_SAMPLES = 256


class Sparsity(Metric):
    description = "fraction of active units per generator layer (after ReLU and top-k, Eqn. 6)"
    requires = frozenset({"generator"})
    higher_is_better = None  # descriptive: tables mark no best value
    version = 2  # v2: scores carry no better direction

    def protocol(self, ctx: EvalContext) -> dict:
        return {"n": min(ctx.n_eval, MAX_SAMPLES), "seed": ctx.seed}

    def compute(self, ctx: EvalContext) -> list[Score]:
        gen = find_generator(ctx.model)
        if gen is None:
            return [Score("sparsity", None, "n/a", "the model has no Table-1 generator to inspect")]
        n = min(ctx.n_eval, MAX_SAMPLES)
        was = ctx.model.training
        ctx.model.eval()
        with torch.no_grad():
            z = ctx.model.prior(n, torch.Generator().manual_seed(ctx.seed))
            trace = trace_generator(gen, z)
        ctx.model.train(was)
        names = layer_names(gen)
        return [Score(f"sparsity_{layer}", frac, higher_is_better=None, extra={"n": n})
                for layer, frac in active_fraction(trace, names).items()]

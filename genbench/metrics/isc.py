"""``isc``: the Inception Score (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
section 4) from the verified pytorch-fid Inception network's 1008-way logits without the classifier bias,
10 splits, mean (the value) and std (``extra['std']``), exactly as torch-fidelity's ``isc`` and the original
code compute it (genbench.metrics.core.isc; tests/test_isc.py checks it number for number). Higher is
better. It scores the generated samples alone (no real images): the same n generated images as FID, from the
same pool3 features (one extraction per evaluation). Salimans et al. use ``RELIABLE_N`` = 50,000 samples;
below that the value is marked † (status 'warn'). torch-fidelity's network resizes images with a
TF1-compatible filter where pytorch-fid's uses bilinear interpolation, so values differ slightly from
torch-fidelity's on the same images.
"""

from __future__ import annotations

import numpy as np
import torch

from genbench.api import INCEPTION, EvalContext, Metric, Score
from genbench.metrics.core import inception
from genbench.metrics.core.features import feature_protocol, generated_features, sample_count
from genbench.metrics.core.isc import SEED, SPLITS, inception_score

RELIABLE_N = 50_000  # Salimans et al. 2016: 50k samples in 10 splits


class ISC(Metric):
    description = "Inception Score (Salimans et al. 2016), 10 splits, unbiased logits as torch-fidelity"
    requires = frozenset({"generator"})
    needs = frozenset({"inception_weights"})
    rank = 15
    higher_is_better = True

    def protocol(self, ctx: EvalContext) -> dict:
        proto = feature_protocol(ctx, inception.identity(ctx.settings.weights(INCEPTION)))
        proto.pop("n_real", None)  # no real images
        return {**proto, "splits": SPLITS, "shuffle_seed": SEED, "logits": "pool3 @ fc.weight^T (no bias)"}

    def compute(self, ctx: EvalContext) -> list[Score]:
        weights = ctx.settings.weights(INCEPTION)
        extractor = inception.extractor(weights, ctx.device)
        if extractor is None:
            return [Score("isc", None, "unavailable", weights.reason, higher_is_better=True)]
        pool3 = generated_features(extractor, ctx.model, sample_count(ctx), ctx.seed)
        with torch.no_grad():
            logits = extractor.net.logits(torch.from_numpy(pool3).to(extractor.net.fc.weight), bias=False)
        mean, std = inception_score(logits.double().cpu().numpy(), SPLITS, SEED)
        n, want = len(pool3), sample_count(ctx)
        note = (f"from {n} generated images, fewer than the protocol's {want}" if n < want else
                f"from {n} < {RELIABLE_N} samples (Salimans et al. use {RELIABLE_N})" if n < RELIABLE_N else "")
        status = "warn" if note or not weights.verified else "ok"
        return [Score(weights.score_name("isc"), mean, status, note, higher_is_better=True,
                      extra={"std": std, "n_fake": n, "splits": SPLITS, "finite": bool(np.isfinite(mean))})]

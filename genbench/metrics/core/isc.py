"""Inception Score from classifier logits.

Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for Training GANs",
NeurIPS 2016, section 4: IS = exp(E_x KL(p(y|x) || p(y))), p(y|x) the Inception network's class
posterior for image x and p(y) its marginal over the generated images. Per split S of the samples:

    p_x = softmax(logits_x),   q = 1/|S| sum_{x in S} p_x,
    score_S = exp( 1/|S| sum_{x in S} sum_y p_x(y) (log p_x(y) - log q(y)) )

and the result is (mean, std) of score_S over the splits. Computed exactly as torch-fidelity 0.4.0's
``isc_features_to_metric`` (metric_isc.py), which the tests check number for number:

- ``SPLITS = 10``: 10 splits, as Salimans et al.'s code (``get_inception_score(images, splits=10)`` in
  openai/improved-gan, inception_score/model.py) and torch-fidelity (``isc_splits``); split i holds rows
  [i N // 10, (i + 1) N // 10) of the (shuffled) samples.
- ``SEED = 2020``: torch-fidelity shuffles the samples first with ``np.random.RandomState(2020)
  .permutation(N)`` (its ``samples_shuffle = True``, ``rng_seed = 2020``); ``seed=None`` keeps the given
  order, as Salimans et al.'s code does.
- float64 softmax / log-softmax of the logits; std is the population one (``np.std``, ddof 0) in both
  references.

Which logits: both references take the 1008-way logits *without* the classifier bias -- the original
code multiplies pool3 by the weights of ``softmax/logits/MatMul``, and torch-fidelity's default IS
feature is ``logits_unbiased`` (pool3 @ fc.weight^T). genbench.metrics.core.inception gives both
(``FIDInception.logits(pool3, bias=False)`` for these); the bias changes the score. torch-fidelity's
network also resizes uint8 images with a TF1-compatible bilinear filter, pytorch-fid's (genbench's) with
``F.interpolate``, so logits -- not this function -- differ slightly between the two tools.
"""

from __future__ import annotations

import numpy as np
import torch

SPLITS = 10
SEED = 2020


def inception_score(logits: np.ndarray, splits: int = SPLITS, seed: int | None = SEED) -> tuple[float, float]:
    """(mean, std) over ``splits`` splits of the Inception Score of (N, C) logits (see module doc)."""
    logits = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must be (samples, classes) with >= 2 classes, got shape {tuple(logits.shape)}")
    n = len(logits)
    if not 1 <= splits <= n:
        raise ValueError(f"need 1 <= splits <= samples, got {splits} splits of {n} samples")
    if not torch.isfinite(logits).all():
        raise ValueError("logits contain NaN or infinity")
    if seed is not None:
        logits = logits[np.random.RandomState(seed).permutation(n), :]
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        q = p[part].mean(dim=0, keepdim=True)  # p(y) over the split
        kl = p[part] * (log_p[part] - q.log())  # p(y|x) (log p(y|x) - log p(y)), Salimans et al. section 4
        # a class no sample of the split gives any probability (p underflows to 0 everywhere) adds 0, not 0 * inf
        kl = torch.where(p[part] > 0, kl, 0.0)
        scores.append(kl.sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


__all__ = ["inception_score", "SPLITS", "SEED"]

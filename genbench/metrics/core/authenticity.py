"""Authenticity (AuthPct): the share of generated samples that are not closer to their nearest training point than
that training point's own nearest other training point (Alaa et al., "How Faithful is your Synthetic Data?
Sample-level Metrics for Evaluating and Auditing Generative Models", ICML 2022, section 3.3 "Authenticity" and
the estimator of section 4; reported as a percentage "AuthPct" by Jiralerspong et al., "Feature Likelihood
Divergence", NeurIPS 2023, code marcojira/fls ``metrics/AuthPct.py``), on feature arrays (float64, rows = samples).

The rule, for each generated g and the training set T (Euclidean distance):
    j*(g) = argmin_j ||g - t_j||,  d(g) = ||g - t_j*||,  r_j = min_{i != j} ||t_j - t_i||,
    g is authentic  iff  r_{j*(g)} < d(g)          (strict: a tie is NOT authentic),
    value = (1/m) sum_g [g authentic] in [0, 1];  ``percent`` = 100 value (FLD's AuthPct).
Equivalently g is inauthentic iff g and t_j* are mutual nearest neighbours in T ∪ {g}.

Reference followed: ahmedmalaa/evaluating-generative-models (= vanderschaarlab/evaluating-generative-models)
``metrics/evaluation.py`` ``compute_alpha_precision``, lines 41-43 and 81-85 at commit 12a1423 ("bug fix",
2021-02-09; branches boris-new, DrShushen): ``NearestNeighbors(n_neighbors=2, p=2).fit(real_data)``,
``real_to_real = kneighbors(real_data)[0][:, 1]`` (the second neighbour of a training point, i.e. the nearest
other one, or a duplicate at distance 0), ``synth_to_real, synth_to_real_args = kneighbors(synthetic_data)`` (first
neighbour), ``authen = real_to_real[synth_to_real_args] < synth_to_real``, ``authenticity = np.mean(authen)``.
(The repository's main branch, commit 093910e, line 80, indexes ``real_to_real`` by ``real_to_synth_args``, the
nearest *generated* point of each *real* point, which mixes the two index sets; the rule above is the one the
paper states and the fixed branch and FLD's AuthPct implement.)

Tie handling. Exact copies: d(g) = 0 <= r, never authentic (also when the training set has duplicates, r = 0).
Distances that are equal in exact arithmetic but computed from different vector differences can differ in the
last bits, so d(g) <= r (1 + ``TIE_RTOL``) counts as the reference's tie (not authentic); ``TIE_RTOL`` = 1e-12 is
mine, ~4500 ulp, far below any distance difference that means something. When g is equidistant from several
training points, j* is the lowest index (``copying.nearest_training``; sklearn's choice is unspecified).

Computation: ``copying.nearest_training`` (exact float64 search in row blocks of ``copying.CHUNK_BYTES``, distances
of the candidates recomputed as ||a - b|| so copies read exactly 0), once with k = 2 on the training set against
itself (each point's nearest other is its second-nearest, itself being the first at distance 0) and once with
k = 1 for the generated samples. That is numpy matrix products, not torch.cdist, so 50k training x 2048-d costs
~1e13 flops on the CPU (minutes); ``training_radii`` depends on the training features only and can be kept.

Deviations and reliability. Alaa et al. evaluate authenticity in an embedding trained as a one-class
representation of the real data (their section 4, ``OneClass.py``); here it runs in whatever feature space it is
given (Inception, CLIP, random features), so its value depends on that space. It is a sample-level test, not a
privacy guarantee: samples from the training distribution itself are not all "authentic" -- a fresh sample is
inauthentic when it forms a mutual nearest-neighbour pair with a training point, which happens with probability
exactly 2/3 in the 1-d Poisson limit (value 1/3) and less often as the dimension grows. Measured on Gaussian
training sets of 2000 points and 1000 fresh samples (seeds 0-2): value ~0.33 in 1-d, ~0.41 in 2-d, ~0.44 in 3-d,
~0.69 in 16-d, ~0.82 in 64-d (tests: 1/3 on 1-d uniform data; 1 - the training set's own mutual-NN share in 16-d).
Read a model's value
against its held-out data's, never against 1; memorisation shows as values below that baseline, down to 0
for exact copies. Near-copies that are not a training point's nearest neighbour still count as authentic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genbench.metrics.core.copying import nearest_training

TIE_RTOL = 1e-12  # mine: d <= r (1 + TIE_RTOL) is a tie, not authentic (module notes)


@dataclass(frozen=True)
class Authenticity:
    """``value``: the share of authentic generated samples in [0, 1] (``percent`` = 100 value, FLD's AuthPct);
    ``authentic`` (m,) bool per generated sample (its mean is ``value``, to bootstrap with
    ``bootstrap.mean_interval``); ``nearest`` (m,) the index of each sample's nearest training point, ``distance``
    (m,) the distance to it, ``radius`` (m,) that training point's distance to its own nearest other."""

    value: float
    authentic: np.ndarray
    nearest: np.ndarray
    distance: np.ndarray
    radius: np.ndarray

    @property
    def percent(self) -> float:
        return 100.0 * self.value


def _array(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if torch.is_tensor(x) else x, dtype=np.float64)


def training_radii(train) -> np.ndarray:
    """(n,) Euclidean distance of every training point to its nearest *other* training point (0 for a duplicated
    point): the reference's ``real_to_real``. Needs at least 2 training points."""
    t = _array(train)
    if t.ndim == 2 and len(t) < 2:
        raise ValueError("authenticity needs at least 2 training points")
    return nearest_training(t, t, k=2)[1][:, 1]


def authenticity(train, generated, radii: np.ndarray | None = None) -> Authenticity:
    """Authenticity of ``generated`` (m, d) against ``train`` (n, d) (module notes for the rule); ``radii`` are
    ``training_radii(train)`` when already computed."""
    t, g = _array(train), _array(generated)
    r = training_radii(t) if radii is None else np.asarray(radii, dtype=np.float64)
    if r.shape != (len(t),):
        raise ValueError(f"radii: expected shape ({len(t)},), got {r.shape}")
    idx, dist = nearest_training(g, t, k=1)
    nearest, distance = idx[:, 0], dist[:, 0]
    radius = r[nearest]
    authentic = distance > radius * (1.0 + TIE_RTOL)
    return Authenticity(float(authentic.mean()), authentic, nearest, distance, radius)

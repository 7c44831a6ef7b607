"""Data-copying test C_T (Meehan, Chaudhuri & Dasgupta, "A Non-Parametric Test to Detect Data-Copying in
Generative Models", AISTATS 2020, arXiv:2004.05675), on feature arrays (float64, rows = samples).

Three samples: the training set T (l points), a held-out set P_n drawn from the data distribution but not
trained on (n points), and generated samples Q_m (m points). The question is whether generated samples sit
closer to their nearest training point than fresh data do.

1. Partition the feature space into k cells by k-means fitted on T; every point goes to its nearest centre
   (reference: ``KMeans(n_clusters).fit(T)`` then ``.predict`` on T, P_n and Q_m, moons_experiments.py L81-83,
   MNIST_kde_test.py L36/L70-71/L123 of github.com/casey-meehan/data-copying, commit a0ba2db).
2. In each cell pi, the distance of every point of Q_m and of P_n in pi to its nearest training point *in the
   same cell*, T ∩ pi (the reference passes ``T[T_cells == i]`` to ``Zu``: data_copying_tests.py L76/L83; the
   nearest point over all of T differs only where that point lies across a cell boundary).
3. Mann-Whitney U of the generated distances against the held-out distances, U = #{(q, p): d(q) > d(p)}
   + ½ #{ties} (scipy.stats.mannwhitneyu's statistic for its first sample; scipy <= 1.6, current when the
   reference was written, returned the same number, ``u2``, for ``alternative='less'``), Z-scored under H0
   exactly as the reference does (data_copying_tests.py L36-39):
       Z_U = (U - (n_pi m_pi / 2 - 0.5)) / sqrt(n_pi m_pi (n_pi + m_pi + 1) / 12)
   -- the 0.5 is the reference's continuity correction, and there is no tie correction in the variance
   (ties only arise with exact duplicates, and ties inside one sample do not change U).
4. C_T = sum_pi P_n(pi) Z_U(pi) / sum_pi P_n(pi) over the cells Pi_tau where the model put more than
   tau * m samples, P_n(pi) the fraction of all n held-out points in pi (data_copying_tests.py L131-147;
   ``Pi_tau = Qm_of_pi > tau`` at L135). The reference's experiments all use tau = 20 / m, i.e. a cell counts
   when it holds more than 20 generated samples (moons_experiments.py L124, MNIST_kde_test.py L128,
   MNIST_vae_test.py L212, BigGan_test.py L159): ``MIN_GENERATED_PER_CELL`` = 21.

Sign: C_T clearly below 0 -> generated samples are closer to the training set than held-out data are (data
copying); near 0 -> as close as fresh data; above 0 -> farther (underfitting). C_T averages z-scores: under H0
each Z_U is about N(0, 1), so C_T has spread about sqrt(sum w²) for weights summing to 1 (1/sqrt(k) for k
equal cells; 0.33 measured with 10 cells in the tests), while under copying each Z_U grows like sqrt(n_pi); it
is not a p-value and values from different sample sizes are not comparable.

Constants not in the paper or code (mine):
- ``SAMPLES_PER_CELL`` = 40: the default number of cells is min(n, m) // 40, clipped to [1, ``MAX_CELLS``],
  so an average cell holds twice the 20 points the Mann-Whitney normal approximation is usually trusted
  with (scipy <= 1.6's mannwhitneyu notes: "Use only when the number of observation in each sample is
  > 20"); k-means cells are not equal in mass, so twice leaves room. The reference picked k by hand: 5 cells
  for n = 1000 (moons_experiments.py L32), 50 for n = 10000 (MNIST_kde_test.py L35), 3 for ImageNet's 50
  validation images per class (BigGan_test.py L83).
- ``MAX_CELLS`` = 50: the reference's largest partition (MNIST_kde_test.py L35, MNIST_vae_test.py L99).
- ``MIN_HELDOUT_PER_CELL`` = 20: when the used cells hold fewer held-out points than this on average, their
  Z_U rest on too few held-out points for the normal approximation and have little power; the result is then
  flagged ``few_samples``. (An average, not a per-cell minimum: one small cell carries a small weight P_n(pi);
  per-cell counts are in the result.)
- ``KMEANS_N_INIT`` = 10: scikit-learn's default when the reference was written (it is 'auto' = 1 run since
  1.4); the k-means seed is an argument.

Small held-out sets. Held-out images are the scarce side (a dataset may keep only 10). With k fixed, most
cells then hold 0-1 held-out points: a cell with none gets weight 0 (the reference raises an error instead:
data_copying_tests.py L78-79; here it is dropped and counted), and one held-out point gives a Z_U that can
say almost nothing. What is done here: the default k follows min(n, m) so cells keep ~40 points on average
(10 held-out points -> a single cell, i.e. the global, unpartitioned U test), and ``few_samples`` is set
whenever the used cells hold fewer than ``MIN_HELDOUT_PER_CELL`` held-out points on average (always so below
20 held-out points) or no cell qualifies (C_T is then NaN). What such a result can tell: even exact copies
(U = 0) give only Z_U = -(n m / 2 - 0.5) / sqrt(n m (n + m + 1) / 12) ~ -sqrt(3 n) for m >> n, about -5.4
with 10 held-out points, so only blatant, wholesale copying reads as clearly negative; partial copying (a
fraction of the samples), copying confined to regions where the model puts 20 or fewer samples, and any
per-region detail are out of reach.

What the test cannot tell at any size: generated samples that concentrate on dense regions (low temperature,
truncation, shrinkage towards cell means) are also closer to training points than fresh data are and read as
copying. On a 32-d Gaussian mixture (tests/test_copying.py) means of two training points of the same mode read
C_T ~ -8, as low as noisy copies of training points, while means of random pairs (mostly from different
modes, so between the modes) read ~ +5 (underfitting). The nearest-training-images strip (``nearest_training``) is there
to look.

Checked against the reference: its ``C_T`` (data_copying_tests.py, run unmodified but for taking the scalar
out of its (1,)-shaped ``Zu`` result, which numpy 2 no longer stores in a float slot) and
``_statistic_in_cells`` give bit-identical C_T and per-cell Z on the same arrays and cell labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_GENERATED_PER_CELL = 21  # cells need Q_m(pi) > tau = 20/m (reference data_copying_tests.py L135, tau at call sites)
MIN_HELDOUT_PER_CELL = 20  # fewer held-out points per used cell on average -> ``few_samples``
SAMPLES_PER_CELL = 40  # default k = min(n, m) // SAMPLES_PER_CELL
MAX_CELLS = 50  # reference MNIST_kde_test.py L35
KMEANS_N_INIT = 10
CHUNK_BYTES = 1 << 26  # working memory per block of the nearest-neighbour search (64 MiB)


@dataclass(frozen=True)
class CopyingResult:
    """C_T and its parts. Per-cell arrays have one entry per k-means cell; ``z`` is NaN where a cell lacks
    generated or held-out points, and is computed (but not averaged into C_T) for cells with too few
    generated samples. ``weights`` are P_n(pi), the fraction of held-out points per cell (C_T normalises over
    the ``used`` cells)."""

    c_t: float
    z: np.ndarray
    weights: np.ndarray
    used: np.ndarray
    heldout_counts: np.ndarray
    generated_counts: np.ndarray
    n_train: int
    n_heldout: int
    n_generated: int
    few_samples: bool

    @property
    def cells(self) -> int:
        return len(self.z)

    @property
    def cells_used(self) -> int:
        return int(self.used.sum())

    @property
    def cells_dropped(self) -> int:
        """Cells left out of C_T: <= 20 generated samples, or no held-out or training point."""
        return self.cells - self.cells_used


def _features(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name}: expected a non-empty (n, d) feature array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: features contain NaN or inf")
    return x


def nearest_training(generated: np.ndarray, train: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Indices (m, k) into ``train`` and Euclidean distances (m, k) of each generated row's ``k`` nearest
    training rows, nearest first (ties by lower index). Exact search in blocks of ``CHUNK_BYTES``: candidates
    by ||a||² + ||b||² - 2 a·b in float64, then their distances recomputed as ||a - b|| (so a copy reads 0);
    the choice can differ from an exact ranking only between training points whose squared distances agree
    to ~1e-12 relative."""
    q, t = _features(generated, "generated"), _features(train, "train")
    if q.shape[1] != t.shape[1]:
        raise ValueError(f"feature dimensions differ: generated {q.shape[1]} vs train {t.shape[1]}")
    if not 1 <= k <= len(t):
        raise ValueError(f"k must be between 1 and the {len(t)} training points, got {k}")
    t_sq = np.einsum("ij,ij->i", t, t)
    rows = max(1, CHUNK_BYTES // (8 * max(len(t), k * t.shape[1])))
    idx, dist = np.empty((len(q), k), dtype=np.int64), np.empty((len(q), k))
    for s in range(0, len(q), rows):
        block = q[s:s + rows]
        d2 = t_sq[None, :] - 2.0 * (block @ t.T)  # + ||a||², constant per row, does not change the ranking
        cand = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < len(t) else np.broadcast_to(np.arange(k), d2.shape)
        exact = np.linalg.norm(block[:, None, :] - t[cand], axis=2)
        order = np.lexsort((cand, exact), axis=-1)
        idx[s:s + rows] = np.take_along_axis(cand, order, axis=1)
        dist[s:s + rows] = np.take_along_axis(exact, order, axis=1)
    return idx, dist


def z_u(generated_dist: np.ndarray, heldout_dist: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of generated vs held-out nearest-training distances, as the reference computes
    it (data_copying_tests.py L36-39): continuity-corrected mean n m / 2 - 0.5, untied variance."""
    from scipy.stats import mannwhitneyu

    m, n = len(generated_dist), len(heldout_dist)
    u = mannwhitneyu(generated_dist, heldout_dist, alternative="less", method="asymptotic").statistic
    return float((u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12))


def default_cells(n_heldout: int, n_generated: int) -> int:
    return int(np.clip(min(n_heldout, n_generated) // SAMPLES_PER_CELL, 1, MAX_CELLS))


def _statistic_in_cells(train, train_cells, heldout, heldout_cells, generated, generated_cells,
                        cells: int) -> CopyingResult:
    """C_T given each point's cell label in range(cells) (the reference's ``C_T``, data_copying_tests.py L94)."""
    p_counts = np.bincount(heldout_cells, minlength=cells)
    q_counts = np.bincount(generated_cells, minlength=cells)
    t_counts = np.bincount(train_cells, minlength=cells)
    z = np.full(cells, np.nan)
    for c in range(cells):
        if p_counts[c] and q_counts[c] and t_counts[c]:
            t_c = train[train_cells == c]
            dq = nearest_training(generated[generated_cells == c], t_c, k=1)[1][:, 0]
            dp = nearest_training(heldout[heldout_cells == c], t_c, k=1)[1][:, 0]
            z[c] = z_u(dq, dp)
    weights = p_counts / len(heldout)
    used = (q_counts >= MIN_GENERATED_PER_CELL) & (p_counts > 0) & (t_counts > 0)
    c_t = float(weights[used] @ z[used] / weights[used].sum()) if used.any() else float("nan")
    few = not used.any() or bool(p_counts[used].sum() < MIN_HELDOUT_PER_CELL * used.sum())
    return CopyingResult(c_t, z, weights, used, p_counts, q_counts, len(train), len(heldout), len(generated), few)


def copying_statistic(train: np.ndarray, heldout: np.ndarray, generated: np.ndarray, cells: int | None = None,
                      seed: int = 0) -> CopyingResult:
    """The C_T data-copying statistic of ``generated`` against ``train``, with ``heldout`` as the fresh-data
    baseline, over ``cells`` k-means cells of the training features (default ``default_cells(n, m)``); ``seed``
    seeds k-means. Clearly negative = copying, ~0 = fine, positive = underfitting (see the module notes)."""
    t, p, q = _features(train, "train"), _features(heldout, "heldout"), _features(generated, "generated")
    if not t.shape[1] == p.shape[1] == q.shape[1]:
        raise ValueError(f"feature dimensions differ: train {t.shape[1]}, heldout {p.shape[1]}, "
                         f"generated {q.shape[1]}")
    k = default_cells(len(p), len(q)) if cells is None else int(cells)
    if not 1 <= k <= len(t):
        raise ValueError(f"cells must be between 1 and the {len(t)} training points, got {k}")
    from sklearn.cluster import KMeans  # imported where used: scipy/sklearn cost every command a second

    km = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed).fit(t)
    return _statistic_in_cells(t, km.predict(t), p, km.predict(p), q, km.predict(q), k)

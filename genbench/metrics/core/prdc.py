"""Precision, recall, density and coverage of a generated feature set against a real one.

Naeem, Oh, Uh, Choi & Yoo, "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020
(arXiv:2002.09797). With real features X_1..X_N, fake features Y_1..Y_M, ||.|| Euclidean,
NND_k(X_i) the distance from X_i to its k-th nearest neighbour among the *other* real points and
B(x, r) = {y : ||y - x|| < r} the open ball (strict "<"):

    manifold(X_1..X_N) = U_i B(X_i, NND_k(X_i))
    precision = 1/M  sum_j 1[Y_j in manifold(X_1..X_N)]                     (Kynkäänniemi et al. 2019)
    recall    = 1/N  sum_i 1[X_i in manifold(Y_1..Y_M)]                     (Kynkäänniemi et al. 2019)
    density   = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]             (Naeem et al. 2020)
    coverage  = 1/N  sum_i 1[exists j : Y_j in B(X_i, NND_k(X_i))]          (Naeem et al. 2020)

These are the paper's definitions as its authors state them (README of
github.com/clovaai/generative-evaluation-prdc; precision and recall are Kynkäänniemi et al.'s, density and
coverage are the paper's proposal) and exactly what their ``prdc`` package (0.2, ``prdc.compute_prdc``)
computes; the tests check all four numbers against it.

Constants and their sources:
- ``NEAREST_K = 5``: the k of the authors' README example (``nearest_k = 5``), the value the paper proposes
  for density and coverage. For two identical continuous distributions E[density] = 1 (the k-NN ball of a
  real point holds on average k/N of the probability mass, so M k/N fakes; summed over N balls, divided by
  kM) and E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i): a real point is uncovered exactly when its k
  nearest points among the other N - 1 reals and the M fakes are all reals; for M = N this tends to
  1 - 2^-k (0.969 for k = 5), the value the paper gives. The tests measure both on samples.
- ``CHUNK = 2048``: the side of the distance tiles (a genbench choice, not from the paper). No N x M matrix
  is ever formed; the extra memory is a few CHUNK x CHUNK float32 tiles (16 MiB each) plus O((N + M) k)
  candidates. Tiles of 768 to 2048 ran within 10% of each other on 10k x 10k 480-d features (2 CPUs); the
  largest means the fewest thread synchronisations, which is what a busy shared machine punishes.

How it is computed (exact, not an approximate nearest-neighbour search): squared distances of each tile
come from one float32 matrix product on centred data, ||x||^2 + ||y||^2 - 2 x.y, which carries a proven
error bound eps (see ``_tol``); only the few entries the bound cannot decide -- a point's candidates near
its k-th neighbour distance, and pairs within eps of a ball's radius -- are recomputed exactly in float64
as sum((x - y)^2). The results are therefore the float64 results of the definitions above. If torch's float32
matrix products were switched to lower precision (``torch.set_float32_matmul_precision``), the filter runs
in float64 instead.

torch-fidelity (0.4.0, ``metric_prc.py``) also reports "precision" and "recall" of Kynkäänniemi et al.,
but its numbers are not these, by design (checked in its source): its default neighbourhood is k = 3
(``prc_neighborhood``), its balls are closed (``dist <= radius``, on plain Euclidean distances from
``torch.cdist`` in float32, not squared ones), radii are ``kthvalue(k + 1)`` of each point's distances
including itself (the same k-th other-point neighbour as here), its default features are VGG-16 ``fc2_relu``
(4096-d, ``DEFAULT_FEATURE_EXTRACTOR['prc'] = 'vgg16'``) rather than Inception pool3, and it has no density
or coverage. Feeding it the same features with its k set to ours changes only the "<" vs "<=" boundary.
"""

from __future__ import annotations

import numpy as np
import torch

NEAREST_K = 5
CHUNK = 2048
_EXTRA = 3  # nearest-neighbour candidates kept per point beyond k, so the float32 filter can be certified
_PAIR_BATCH = 1 << 22  # elements of (pairs x dim) per exact float64 recomputation


def _tol(dtype: torch.dtype, dim: int) -> float:
    """Bound on |D~ - D| / (||x||^2 + ||y||^2) for D~ the squared distance computed in ``dtype`` as
    ||x||^2 + ||y||^2 - 2 x.y from rounded inputs, D the exact one (u = unit roundoff of ``dtype``):
    rounding x, y to ``dtype`` moves D by <= 4u(||x||^2 + ||y||^2); the dot product (any summation order,
    Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., section 3.1) errs by
    <= gamma_d ||x|| ||y|| ~ d u (||x||^2 + ||y||^2) / 2, doubled by the factor 2; the two norms and the two
    additions add <= 5u. Total <= (d + 9) u; we use twice (d + 16) u. (Centring, done in float64 before the
    rounding, moves points by ~1e-16 of their uncentred norm: inside that margin unless the data sit ~1e9
    spreads away from the origin.)"""
    u = torch.finfo(dtype).eps / 2
    return 2 * (dim + 16) * u


def _filter_dtype() -> torch.dtype:
    """float32 for the distance filter unless float32 matrix products were allowed to lose precision
    (TF32/bf16), in which case its error bound would not hold: then float64."""
    mkldnn = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
    lowered = getattr(mkldnn, "fp32_precision", "none") not in ("none", "ieee")
    if torch.get_float32_matmul_precision() != "highest" or lowered:
        return torch.float64
    return torch.float32


def _as_features(a, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    if t.ndim != 2 or len(t) == 0:
        raise ValueError(f"{name} features must be a non-empty 2-d array (samples x dims), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} features contain NaN or infinity")
    return t


def _pair_sq(a: torch.Tensor, b: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Exact float64 squared distances ||a[i] - b[j]||^2, computed as sum((a - b)^2) in bounded batches."""
    out = torch.empty(len(i), dtype=torch.float64)
    step = max(1, _PAIR_BATCH // a.shape[1])
    for s in range(0, len(i), step):
        out[s:s + step] = a.index_select(0, i[s:s + step]).sub_(b.index_select(0, j[s:s + step])).square_().sum(1)
    return out


class _Filtered:
    """One feature set prepared for the tiled float32 filter: centred, rounded, with squared norms."""

    def __init__(self, exact: torch.Tensor, centre: torch.Tensor, dtype: torch.dtype):
        self.exact = exact  # float64, used for every exact recomputation
        self.low = (exact - centre).to(dtype)
        self.sqnorm = self.low.double().square().sum(1)  # float64 squared norms of the rounded points
        self.sqnorm_low = self.sqnorm.to(dtype)

    def __len__(self) -> int:
        return len(self.exact)

    def tile(self, rows: slice, other: _Filtered, cols: slice) -> torch.Tensor:
        """Approximate squared distances ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j for a block of rows and columns."""
        d = torch.addmm(other.sqnorm_low[None, cols], self.low[rows], other.low[cols].T, alpha=-2)
        return d.add_(self.sqnorm_low[rows, None])


def _upper(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float64 thresholds rounded up into the filter's dtype, so '<' on the filter never loses a candidate."""
    low = t.to(dtype)
    return torch.nextafter(low, torch.full_like(low, float("inf")))


def _kth_nn_sq(s: _Filtered, k: int, chunk: int, tol: float) -> torch.Tensor:
    """Exact squared distance from each point of ``s`` to its k-th nearest other point (NND_k^2).

    Pass 1 (float32 filter): the c = k + 3 smallest approximate distances of each row, over tiles of the
    upper triangle only (distances are symmetric). Pass 2: the candidates the error bound cannot place
    above or below the k-th one are recomputed exactly, which fixes NND_k^2 exactly as long as every
    non-candidate is farther for certain (the c-th approximate value exceeds the k-th by more than the
    bound). Rows where that fails fall back to all c candidates exactly, then to the whole row."""
    n = len(s)
    c = min(k + _EXTRA, n - 1)
    vals = torch.full((n, c), float("inf"), dtype=s.low.dtype)
    idx = torch.zeros((n, c), dtype=torch.long)

    def merge(rows: slice, v: torch.Tensor, i: torch.Tensor) -> None:
        v, pos = torch.cat([vals[rows], v], 1).topk(c, dim=1, largest=False)
        vals[rows], idx[rows] = v, torch.cat([idx[rows], i], 1).gather(1, pos)

    starts = range(0, n, chunk)
    for a in starts:
        ra = slice(a, min(a + chunk, n))
        for b in starts[a // chunk:]:
            rb = slice(b, min(b + chunk, n))
            d = s.tile(ra, s, rb)
            if a == b:
                d.fill_diagonal_(float("inf"))  # a point is not its own neighbour
            v, i = d.topk(min(c, d.shape[1]), dim=1, largest=False)
            merge(ra, v, i + b)
            if a != b:
                v, i = d.topk(min(c, d.shape[0]), dim=0, largest=False)
                merge(rb, v.T, i.T + a)

    # |approx - exact| <= eps on every entry of the row, so the approximate k-th value vk is within eps of
    # the exact NND_k^2: entries below vk - 2 eps are nearer for certain, entries above vk + 2 eps farther.
    v = vals.double()
    eps = tol * (s.sqnorm + s.sqnorm.max())[:, None]
    vk = v[:, k - 1:k]
    below, unsure = v < vk - 2 * eps, (v >= vk - 2 * eps) & (v <= vk + 2 * eps)
    ri, ci = torch.nonzero(unsure, as_tuple=True)
    m = torch.full_like(v, torch.inf).masked_fill_(below, -torch.inf)
    m[ri, ci] = _pair_sq(s.exact, s.exact, ri, idx[ri, ci])
    kth = m.kthvalue(k, dim=1).values  # the exact k-th smallest, since the unsure entries hold it
    # valid where every point outside the candidates is farther for certain
    failed = torch.nonzero((v[:, -1:] <= vk + 2 * eps).flatten() & (c < n - 1)).flatten()
    for i in failed.tolist():  # rare: near-ties within the error bound, or many duplicate points
        cand = _pair_sq(s.exact, s.exact, torch.full((c,), i), idx[i]).kthvalue(k).values
        if cand == 0 or cand <= v[i, -1] - eps[i, 0]:
            kth[i] = cand  # the candidates' exact k-th value cannot be undercut by a non-candidate
        else:
            others = torch.cat([torch.arange(i), torch.arange(i + 1, n)])
            kth[i] = _pair_sq(s.exact, s.exact, torch.full_like(others, i), others).kthvalue(k).values
    return kth


def _inside(d: torch.Tensor, thr_hi: torch.Tensor, x: _Filtered, rows: slice, y: _Filtered, cols: slice,
            radius2: torch.Tensor, eps: torch.Tensor, per_row: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j) of the tile's pairs with exact ||x_i - y_j||^2 < radius2 (per row i, or per column j).
    Candidates are the entries under the rounded-up threshold radius2 + eps; those below radius2 - eps are
    inside for certain, the rest are decided by the exact distance."""
    cand_i, cand_j = torch.nonzero(d < thr_hi, as_tuple=True)
    if len(cand_i) == 0:
        return cand_i, cand_j
    approx = d[cand_i, cand_j].double()
    owner = cand_i if per_row else cand_j
    r2, e = radius2[owner], eps[owner]
    inside = approx < r2 - e
    unsure = torch.nonzero(~inside).flatten()
    if len(unsure):
        gi, gj = cand_i[unsure] + rows.start, cand_j[unsure] + cols.start
        inside[unsure] = _pair_sq(x.exact, y.exact, gi, gj) < r2[unsure]
    return cand_i[inside] + rows.start, cand_j[inside] + cols.start


def prdc(real: np.ndarray, fake: np.ndarray, k: int = NEAREST_K, chunk: int = CHUNK) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020) of ``fake`` (M x d) against ``real``
    (N x d), with k-nearest-neighbour balls; ``chunk`` bounds the distance tiles (memory ~ chunk^2)."""
    x64, y64 = _as_features(real, "real"), _as_features(fake, "fake")
    if x64.shape[1] != y64.shape[1]:
        raise ValueError(f"real and fake features differ in dimension: {x64.shape[1]} vs {y64.shape[1]}")
    if not 1 <= k < min(len(x64), len(y64)):
        raise ValueError(f"k must be in [1, min(N, M) - 1] = [1, {min(len(x64), len(y64)) - 1}], got {k}")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    dtype = _filter_dtype()
    tol = _tol(dtype, x64.shape[1])
    # distances do not change under a common shift; centring keeps the norms (hence the error bound) small
    centre = (x64.sum(0) + y64.sum(0)) / (len(x64) + len(y64))
    x, y = _Filtered(x64, centre, dtype), _Filtered(y64, centre, dtype)
    r2 = _kth_nn_sq(x, k, chunk, tol)  # NND_k(X_i)^2
    s2 = _kth_nn_sq(y, k, chunk, tol)  # NND_k(Y_j)^2
    eps_r = tol * (x.sqnorm + y.sqnorm.max())  # error bound of any entry in real row i
    eps_s = tol * (x.sqnorm.max() + y.sqnorm)  # ... in fake column j

    in_real_ball = torch.zeros(len(y), dtype=torch.bool)  # precision: Y_j in some B(X_i, NND_k(X_i))
    real_covered = torch.zeros(len(x), dtype=torch.bool)  # coverage: some Y_j in B(X_i, NND_k(X_i))
    in_fake_ball = torch.zeros(len(x), dtype=torch.bool)  # recall: X_i in some B(Y_j, NND_k(Y_j))
    pairs = 0  # density: number of (i, j) with Y_j in B(X_i, NND_k(X_i))
    thr_real, thr_fake = _upper(r2 + eps_r, dtype)[:, None], _upper(s2 + eps_s, dtype)[None, :]
    for a in range(0, len(x), chunk):
        rows = slice(a, min(a + chunk, len(x)))
        for b in range(0, len(y), chunk):
            cols = slice(b, min(b + chunk, len(y)))
            d = x.tile(rows, y, cols)
            i, j = _inside(d, thr_real[rows], x, rows, y, cols, r2[rows], eps_r[rows], per_row=True)
            in_real_ball[j] = True
            real_covered[i] = True
            pairs += len(i)
            i, _ = _inside(d, thr_fake[:, cols], x, rows, y, cols, s2[cols], eps_s[cols], per_row=False)
            in_fake_ball[i] = True
    return {"precision": in_real_ball.double().mean().item(),
            "recall": in_fake_ball.double().mean().item(),
            "density": pairs / (k * len(y)),
            "coverage": real_covered.double().mean().item()}


__all__ = ["prdc", "NEAREST_K", "CHUNK"]

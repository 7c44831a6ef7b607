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
- ``CHUNK = 1024``: the side of the distance tiles (a genbench choice, not from the paper). No N x M matrix
  is ever formed; the extra memory is a few CHUNK x CHUNK float32 tiles (4 MiB each) plus O((N + M) k)
  candidates. On 10k x 10k 480-d features, 1024 ran 2.63 s on one core against 2.8-3.0 s for 2048 (whose
  half-used diagonal tiles cost more products); on two cores both ran 1.6-1.7 s. (Per-tile temporaries stay
  well under 32 MiB, which glibc would map fresh, page by page, on every allocation: a 4-fold cost measured
  on the exact recomputation before its batches were cut to 2 MiB.)

How it is computed (exact, not an approximate nearest-neighbour search): the data are centred and
multiplied by a power of two (both leave every comparison unchanged) and rounded to float32; each tile's
squared distances come from ONE float32 matrix product of [-2x, ||x||^2, 1] and [y, 1, ||y||^2], which
carries a proven error bound eps (see ``_tol``). Only what the bound cannot decide is recomputed exactly in
float64 as sum((x - y)^2) on the original data: a point's candidates near its k-th neighbour distance, and
pairs within eps of a ball's radius. The results are therefore the float64 results of the definitions
above. k-NN radii read each upper-triangle tile both ways (distances are symmetric), so the products cover
about N^2 / 2 + M^2 / 2 + N M entries; the sparse candidates are found with numpy views of the tiles
(np.flatnonzero, ~8x faster than torch.nonzero here). If torch's float32 matrix products were switched to
lower precision (``torch.set_float32_matmul_precision``), the filter runs in float64 instead.

torch-fidelity (0.4.0, ``metric_prc.py``) also reports "precision" and "recall" of Kynkäänniemi et al.,
but its numbers are not these, by design (checked in its source): its default neighbourhood is k = 3
(``prc_neighborhood``), its balls are closed (``dist <= radius``, on plain Euclidean distances from
``torch.cdist`` in float32, not squared ones), radii are ``kthvalue(k + 1)`` of each point's distances
including itself (the same k-th other-point neighbour as here), its default features are VGG-16 ``fc2_relu``
(4096-d, ``DEFAULT_FEATURE_EXTRACTOR['prc'] = 'vgg16'``) rather than Inception pool3, and it has no density
or coverage. Fed the same features with its k set to ours, it differs only at the "<" vs "<=" boundary
(visible on exact duplicates) and by float32 round-off (its distances come from float32 ``torch.cdist`` and
its results are float32 means; the tests measured <= 2.5e-8 on continuous data).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

NEAREST_K = 5
CHUNK = 1024
_EXTRA = 3  # nearest-neighbour candidates kept per point beyond k, so the float32 filter can be certified
_PAIR_BATCH = 1 << 18  # elements of (pairs x dim) per exact float64 recomputation (2 MiB: reused, not mmapped)
_ROWS = 4096  # rows per block when preparing the filter's copy of the data


def _tol(dtype: torch.dtype, dim: int) -> tuple[float, float]:
    """(relative, absolute) error bound of the filter: |D~ - D| <= rel (||x||^2 + ||y||^2) + abs, D the exact
    squared distance, D~ the one computed in ``dtype`` (unit roundoff u) as ONE dot product of the
    (d + 2)-vectors [-2x, ||x||^2, 1] and [y, 1, ||y||^2] of centred, power-of-two-scaled, rounded points.
    Rounding x, y to ``dtype`` moves D by <= 4u(||x||^2 + ||y||^2) and rounding the two norms adds <= 2u(...);
    a dot product of n terms errs by <= gamma_n sum |terms| whatever the summation order (Higham, "Accuracy
    and Stability of Numerical Algorithms", 2nd ed., section 3.1), here gamma_{d+2} (2 ||x|| ||y|| + ||x||^2 +
    ||y||^2) <= 2 (d + 2) u (1 + O(du)) (...). Total <= (2d + 10) u; we use twice (2d + 16) u. ``abs`` covers
    round-off below the normal range (subnormal results: <= one smallest subnormal per operation). Centring,
    done in float64 first, moves points by ~1e-16 of their uncentred norm: inside the margin unless the data
    sit ~1e9 spreads away from the origin; the power-of-two scaling is exact."""
    info = torch.finfo(dtype)
    return 2 * (2 * dim + 16) * (info.eps / 2), 4 * (dim + 2) * info.tiny * info.eps


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
    return t


def _pair_sq(a: torch.Tensor, b: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Exact float64 squared distances ||a[i] - b[j]||^2, computed as sum((a - b)^2) in bounded batches."""
    out = torch.empty(len(i), dtype=torch.float64)
    step = max(1, _PAIR_BATCH // a.shape[1])
    for s in range(0, len(i), step):
        out[s:s + step] = a.index_select(0, i[s:s + step]).sub_(b.index_select(0, j[s:s + step])).square_().sum(1)
    return out


class _Filtered:
    """One feature set prepared for the tiled filter: centred, multiplied by a power of two (exact) that puts
    all values below 1 in magnitude, rounded to the filter's dtype, and augmented so that one matrix product
    gives squared distances, [-2x, ||x||^2, 1] . [y, 1, ||y||^2] = ||x - y||^2. Tiles are in that scaled unit
    (``scale2`` times the data's); thresholds go in and values come out by exact power-of-two products."""

    def __init__(self, exact: torch.Tensor, centre: torch.Tensor, scale: float, dtype: torch.dtype):
        self.exact = exact  # float64, used for every exact recomputation
        self.scale2 = scale * scale
        n, dim = exact.shape
        self.left, self.right = torch.empty(n, dim + 2, dtype=dtype), torch.empty(n, dim + 2, dtype=dtype)
        low = self.right[:, :dim]
        sq = torch.empty(n, dtype=torch.float64)  # squared norms of the rounded points (squares rounded once)
        for a in range(0, n, _ROWS):  # row blocks keep the float64 temporaries small
            low[a:a + _ROWS] = torch.sub(exact[a:a + _ROWS], centre).mul_(scale)  # rounds to dtype
            sq[a:a + _ROWS] = low[a:a + _ROWS].square().sum(1, dtype=torch.float64)
        torch.mul(low, -2, out=self.left[:, :dim])
        self.left[:, dim], self.left[:, dim + 1] = sq, 1
        self.right[:, dim], self.right[:, dim + 1] = 1, sq
        self.sqnorm = sq / self.scale2  # ... in the data's unit

    def __len__(self) -> int:
        return len(self.exact)

    def tile(self, rows: slice, other: _Filtered, cols: slice) -> torch.Tensor:
        """Approximate scaled squared distances for a block of rows (of self) and columns (of other)."""
        return self.left[rows] @ other.right[cols].T

    def unscaled(self, d: torch.Tensor) -> torch.Tensor:
        return d.double() / self.scale2

    def scaled_upper(self, t: torch.Tensor) -> torch.Tensor:
        """float64 thresholds in the data's unit -> the tiles' unit and dtype, rounded up, so that '<' on a tile
        never loses an entry below the threshold."""
        low = (t * self.scale2).to(self.left.dtype)
        return torch.nextafter(low, torch.full_like(low, torch.inf))


def _below(d: torch.Tensor, thr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j) of the entries of a contiguous tile with d[i, j] < thr (a row or column of thresholds that
    broadcasts), in row-major order. The mask is compared and searched through numpy views of the same
    memory: np.flatnonzero is ~8x faster than torch.nonzero on CPU for these sparse masks."""
    flat = torch.from_numpy(np.flatnonzero(d.numpy() < thr.numpy()))
    return flat // d.shape[1], flat % d.shape[1]


def _merge(vals: torch.Tensor, idx: torch.Tensor, rows: torch.Tensor, nbrs: torch.Tensor, v: torch.Tensor) -> None:
    """Fold new candidates (row ``rows[t]``, neighbour ``nbrs[t]``, approximate value ``v[t]``; ``rows``
    sorted) into each row's ascending list of the c smallest values seen so far."""
    if len(rows) == 0:
        return
    keys, counts = torch.unique_consecutive(rows, return_counts=True)
    group = torch.repeat_interleave(torch.arange(len(keys)), counts)
    pos = torch.arange(len(rows)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    width = int(counts.max())
    new_v = torch.full((len(keys), width), torch.inf, dtype=vals.dtype)
    new_i = torch.zeros((len(keys), width), dtype=torch.long)
    new_v[group, pos], new_i[group, pos] = v, nbrs
    best, at = torch.cat([vals[keys], new_v], 1).topk(vals.shape[1], dim=1, largest=False)
    vals[keys], idx[keys] = best, torch.cat([idx[keys], new_i], 1).gather(1, at)


def _kth_nn_sq(s: _Filtered, k: int, chunk: int, tol: tuple[float, float]) -> torch.Tensor:
    """Exact squared distance from each point of ``s`` to its k-th nearest other point (NND_k^2).

    Pass 1 (filter): the c = k + 3 smallest approximate distances of each row. Diagonal tiles give every
    row its first c (top-k); then the upper-triangle tiles (distances are symmetric) are read both ways and
    only entries below a row's current c-th value are merged in. Pass 2: the candidates the error bound
    cannot place above or below the k-th one are recomputed exactly, which fixes NND_k^2 exactly as long as
    every non-candidate is farther for certain (the c-th approximate value exceeds the k-th by more than the
    bound). Rows where that fails fall back to all c candidates exactly, then to the whole row."""
    n = len(s)
    c = min(k + _EXTRA, n - 1)
    vals = torch.full((n, c), torch.inf, dtype=s.left.dtype)
    idx = torch.zeros((n, c), dtype=torch.long)
    blocks = [slice(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    for r in blocks:
        d = s.tile(r, s, r)
        d.fill_diagonal_(torch.inf)  # a point is not its own neighbour
        v, i = d.topk(min(c, d.shape[1]), dim=1, largest=False)
        vals[r, :v.shape[1]], idx[r, :v.shape[1]] = v, i + r.start
    for a, ra in enumerate(blocks):
        for rb in blocks[a + 1:]:
            d = s.tile(ra, s, rb)
            # rows of ra: entries of d below the row's c-th value so far (listed row by row)
            i, j = _below(d, vals[ra, -1:])
            _merge(vals, idx, i + ra.start, j + rb.start, d[i, j])
            # rows of rb are the columns of d
            i, j = _below(d, vals[rb, -1][None, :])
            j, order = torch.sort(j, stable=True)
            i = i[order]
            _merge(vals, idx, j + rb.start, i + ra.start, d[i, j])

    # |approx - exact| <= eps on every entry of the row, so the approximate k-th value vk is within eps of
    # the exact NND_k^2: entries below vk - 2 eps are nearer for certain, entries above vk + 2 eps farther.
    v = s.unscaled(vals)
    eps = (tol[0] * (s.sqnorm + s.sqnorm.max()) + tol[1] / s.scale2)[:, None]
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


class _Balls(NamedTuple):
    """The k-NN balls a tile is tested against: the tile's rounded-up thresholds, and per ball its squared
    radius and the rounding bound of the tile's distances."""

    thr_hi: torch.Tensor
    radius2: torch.Tensor
    eps: torch.Tensor


def _inside(d: torch.Tensor, balls: _Balls, x: _Filtered, rows: slice, y: _Filtered, cols: slice,
            per_row: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j) of the tile's pairs with exact ||x_i - y_j||^2 < radius2 (per row i, or per column j).
    Candidates are the entries under the rounded-up threshold radius2 + eps; those below radius2 - eps are
    inside for certain, the rest are decided by the exact distance."""
    radius2, eps = balls.radius2, balls.eps
    cand_i, cand_j = _below(d, balls.thr_hi)
    if len(cand_i) == 0:
        return cand_i, cand_j
    approx = x.unscaled(d[cand_i, cand_j])
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
    points = prdc_points(real, fake, k, chunk)
    return {"precision": points["precision"].double().mean().item(),
            "recall": points["recall"].double().mean().item(),
            "density": int(points["density"].sum()) / (k * len(points["density"])),
            "coverage": points["coverage"].double().mean().item()}


def prdc_points(real: np.ndarray, fake: np.ndarray, k: int = NEAREST_K, chunk: int = CHUNK) -> dict[str, torch.Tensor]:
    """The four scores point by point, whose means they are (a bootstrap over points reweights these):
    ``precision`` (M,) bool, fake j inside some real ball; ``density`` (M,) int, the number of real balls
    holding fake j (density = its sum / (k M)); ``recall`` (N,) bool, real i inside some fake ball;
    ``coverage`` (N,) bool, some fake inside real i's ball."""
    x64, y64 = _as_features(real, "real"), _as_features(fake, "fake")
    if x64.shape[1] != y64.shape[1]:
        raise ValueError(f"real and fake features differ in dimension: {x64.shape[1]} vs {y64.shape[1]}")
    if not 1 <= k < min(len(x64), len(y64)):
        raise ValueError(f"k must be in [1, min(N, M) - 1] = [1, {min(len(x64), len(y64)) - 1}], got {k}")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    sums = x64.sum(0), y64.sum(0)  # finite unless a feature is NaN or infinite (or sums past 1e308)
    for total, name in zip(sums, ("real", "fake"), strict=True):
        if not torch.isfinite(total).all():
            raise ValueError(f"{name} features contain NaN or infinity")
    # Distances do not change under a common shift, and which is smaller under a common scale: the filter works
    # on centred data (small norms, hence a small error bound) times a power of two that puts every value in
    # (-1, 1) (no overflow or underflow in float32, and exact, so thresholds map without rounding).
    centre = (sums[0] + sums[1]) / (len(x64) + len(y64))
    span = max(float((t - centre).abs().max()) for t in (x64.amax(0), x64.amin(0), y64.amax(0), y64.amin(0)))
    if span > 1e100 or 0 < span < 1e-100:  # squared distances would leave float64's range (or its precision)
        raise ValueError(f"features spread {span:.3g} from their mean: outside 1e-100..1e100, where squared "
                         f"distances are not representable in float64; rescale them")
    scale = math.ldexp(1.0, -math.frexp(span)[1]) if span > 0 else 1.0
    dtype = _filter_dtype()
    tol = _tol(dtype, x64.shape[1])
    x, y = _Filtered(x64, centre, scale, dtype), _Filtered(y64, centre, scale, dtype)
    r2 = _kth_nn_sq(x, k, chunk, tol)  # NND_k(X_i)^2
    s2 = _kth_nn_sq(y, k, chunk, tol)  # NND_k(Y_j)^2
    eps_r = tol[0] * (x.sqnorm + y.sqnorm.max()) + tol[1] / x.scale2  # error bound of any entry in real row i
    eps_s = tol[0] * (x.sqnorm.max() + y.sqnorm) + tol[1] / x.scale2  # ... in fake column j

    in_real_ball = torch.zeros(len(y), dtype=torch.bool)  # precision: Y_j in some B(X_i, NND_k(X_i))
    real_covered = torch.zeros(len(x), dtype=torch.bool)  # coverage: some Y_j in B(X_i, NND_k(X_i))
    in_fake_ball = torch.zeros(len(x), dtype=torch.bool)  # recall: X_i in some B(Y_j, NND_k(Y_j))
    balls = torch.zeros(len(y), dtype=torch.long)  # density: number of i with Y_j in B(X_i, NND_k(X_i))
    thr_real, thr_fake = x.scaled_upper(r2 + eps_r)[:, None], x.scaled_upper(s2 + eps_s)[None, :]
    for a in range(0, len(x), chunk):
        rows = slice(a, min(a + chunk, len(x)))
        for b in range(0, len(y), chunk):
            cols = slice(b, min(b + chunk, len(y)))
            d = x.tile(rows, y, cols)
            i, j = _inside(d, _Balls(thr_real[rows], r2[rows], eps_r[rows]), x, rows, y, cols, per_row=True)
            in_real_ball[j] = True
            real_covered[i] = True
            balls += torch.bincount(j, minlength=len(y))
            i, _ = _inside(d, _Balls(thr_fake[:, cols], s2[cols], eps_s[cols]), x, rows, y, cols, per_row=False)
            in_fake_ball[i] = True
    return {"precision": in_real_ball, "density": balls, "recall": in_fake_ball, "coverage": real_covered}


__all__ = ["prdc", "prdc_points", "NEAREST_K", "CHUNK"]

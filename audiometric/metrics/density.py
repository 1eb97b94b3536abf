"""Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models").

Each reference row ``x_i`` gets a ball of radius ``r_i``, its Euclidean distance to its ``k``-th nearest
other reference row (``k = 5`` by default, as the paper recommends). For generated rows ``y_j``:

    density  = 1/(k n) sum_j sum_i 1[ ||y_j - x_i|| < r_i ]     (fidelity; 1 for equal distributions)
    coverage = 1/m sum_i 1[ min_j ||y_j - x_i|| < r_i ]          (diversity, in [0, 1])

(strict inequalities, as the authors' released code). Higher is better for both. Rows are taken as
the backbone emits them. Distances are computed block by block in float64.
"""

from __future__ import annotations

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.arrays import feature_rows
from audiometric.metrics.bootstrap import ClipRows
from audiometric.metrics.protocol import Estimate, MetricInput

#: Nearest neighbours defining the reference balls (Naeem et al. 2020 use k = 5).
DEFAULT_K = 5

_BLOCK = 1024
_KEEP_BALLS_MAX = 1 << 26  # up to 64 M (reference, generated) pairs the ball memberships are kept for replicates


def knn_radii(ref: np.ndarray, k: int = DEFAULT_K, block: int = _BLOCK) -> np.ndarray:
    """Distance of each row of ``ref`` ``(m, d)`` to its ``k``-th nearest other row, ``(m,)``."""
    x = feature_rows(ref, "density/coverage", "reference")
    x = x - x.mean(axis=0)  # distances are translation invariant; centring keeps the Gram identity accurate
    if not 1 <= k < len(x):
        raise AudiometricError(f"density/coverage with k = {k} needs more than {k} reference rows, got {len(x)}")
    radii = np.empty(len(x))
    for i0 in range(0, len(x), block):
        dist = _distances(x[i0 : i0 + block], x)
        dist[np.arange(dist.shape[0]), np.arange(i0, i0 + dist.shape[0])] = -1.0  # the row itself sorts first
        radii[i0 : i0 + block] = np.partition(dist, k, axis=1)[:, k]
    return radii


def ball_membership(gen: np.ndarray, ref: np.ndarray, radii: np.ndarray, block: int = _BLOCK) -> np.ndarray:
    """``inside[i, j] = ||gen_j - ref_i|| < radii[i]``, bool ``(m, n)``."""
    x = feature_rows(ref, "density/coverage", "reference")
    y = feature_rows(gen, "density/coverage", "generated", min_rows=1)
    if x.shape[1] != y.shape[1]:
        raise AudiometricError(
            f"density/coverage: generated features have dimension {y.shape[1]} but reference "
            f"features {x.shape[1]}; compute both with the same backbone"
        )
    center = x.mean(axis=0)
    x, y = x - center, y - center
    inside = np.empty((len(x), len(y)), dtype=bool)
    for i0 in range(0, len(x), block):
        inside[i0 : i0 + block] = _distances(x[i0 : i0 + block], y) < radii[i0 : i0 + block, None]
    return inside


def density_coverage(gen: np.ndarray, ref: np.ndarray, k: int = DEFAULT_K) -> tuple[float, float]:
    """``(density, coverage)`` of generated rows ``gen`` ``(n, d)`` against reference rows ``ref`` ``(m, d)``."""
    inside = ball_membership(gen, ref, knn_radii(ref, k))
    return _from_membership(inside, k)


def _from_membership(inside: np.ndarray, k: int, cols: np.ndarray | None = None) -> tuple[float, float]:
    """Density and coverage from ball memberships, of the generated rows ``cols`` (repeats allowed)."""
    per_gen = inside.sum(axis=0)
    if cols is None:
        return float(per_gen.sum() / (k * inside.shape[1])), float(inside.any(axis=1).mean())
    # Naeem et al. (2020), eqs. 3-4: density counts every (ball, generated row) hit; coverage every ball hit.
    return float(per_gen[cols].sum() / (k * len(cols))), float(inside[:, np.unique(cols)].any(axis=1).mean())


def compute(data: MetricInput) -> dict[str, Estimate]:
    """``density`` and ``coverage``; replicates resample generated clips against the fixed reference balls."""
    k = int(data.params["k"])
    gen, ref = ClipRows(data.gen, "generated"), ClipRows(data.ref_clips, "reference")
    radii = knn_radii(ref.rows, k)
    inside = ball_membership(gen.rows, ref.rows, radii)
    density, coverage = _from_membership(inside, k)
    kept = inside if inside.size <= _KEEP_BALLS_MAX else None

    def replicate(which: int):
        def value(g_idx: np.ndarray, _: np.ndarray | None) -> float:
            cols = gen.row_index(g_idx)
            if kept is not None:
                return _from_membership(kept, k, cols)[which]
            return _from_membership(ball_membership(gen.rows[cols], ref.rows, radii), k)[which]

        return value

    fields = {"k": k}
    return {
        "density": Estimate(density, dict(fields), replicate(0)),
        "coverage": Estimate(coverage, dict(fields), replicate(1)),
    }


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` via the Gram identity, clamped at 0."""
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(d2, 0.0, out=d2), out=d2)


__all__ = ["DEFAULT_K", "ball_membership", "compute", "density_coverage", "knn_radii"]

"""Kernel Inception Distance: unbiased polynomial-kernel MMD² averaged over random subsets (Bińkowski et al. 2018).

Conventions of audioldm_eval 0.0.3 (``metrics/kid.py``, called from ``eval.py``), which reports it on
the PANNs 2048-d embedding: kernel ``k(x, y) = (x^T y / d + 1)^3``; 100 subsets of 1000 rows, the size
clamped to the smaller set; each subset drawn without replacement with ``np.random.RandomState(2020)``,
generated rows first, then reference rows; result = mean and population std (ddof 0) of the subset
MMD² values. audioldm_eval computes in float32; this computes in float64 (differences are float32
rounding). KID is unbiased, so it is 0 in expectation for equal distributions and can be negative.
"""

from __future__ import annotations

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.arrays import feature_rows
from audiometric.metrics.bootstrap import ClipRows
from audiometric.metrics.protocol import RESOLUTION, Estimate, MetricInput

#: audioldm_eval eval.py's settings: subsets=100, subset_size=1000, rng_seed=2020 (degree 3, gamma 1/d, coef0 1).
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020

#: Up to this many rows per set the three kernel matrices are formed once and subsets index into them.
_FULL_KERNEL_MAX = 2048


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a b^T / d + 1)^3`` ``(n, m)`` for rows ``a`` ``(n, d)`` and ``b`` ``(m, d)``, float64."""
    # Bińkowski et al. (2018), KID's kernel: k(x, y) = (x^T y / d + 1)^3.
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD² from the kernel matrices of ``m`` and ``n`` rows (within-set sums exclude ``i == j``)."""
    m, n = k_xx.shape[0], k_yy.shape[0]
    # Gretton et al. (2012), MMD^2_u; Bińkowski et al. (2018) eq. 4 with the polynomial kernel.
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2.0 * k_xy.mean()
    )


class _Kernels:
    """The rows of both sets, with their kernel matrices when the sets are small enough to keep them."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        self.full = max(len(x), len(y)) <= _FULL_KERNEL_MAX
        if self.full:
            self.k_xx, self.k_yy, self.k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)

    def mmd2(self, ix: np.ndarray, iy: np.ndarray) -> float:
        if self.full:
            return mmd2_unbiased(self.k_xx[np.ix_(ix, ix)], self.k_yy[np.ix_(iy, iy)], self.k_xy[np.ix_(ix, iy)])
        a, b = self.x[ix], self.y[iy]
        return mmd2_unbiased(polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b))

    def kid(self, gx: np.ndarray, gy: np.ndarray, subsets: int, subset_size: int, seed: int) -> tuple[float, float]:
        """KID of the rows ``x[gx]`` against ``y[gy]`` (index arrays; repeats allowed)."""
        size = min(subset_size, len(gx), len(gy))
        if size < 2:
            raise AudiometricError(f"KID needs at least 2 rows per set, got {len(gx)} and {len(gy)}")
        rng = np.random.RandomState(seed)
        values = np.empty(subsets)
        for s in range(subsets):
            ix = gx[rng.choice(len(gx), size, replace=False)]
            iy = gy[rng.choice(len(gy), size, replace=False)]
            values[s] = self.mmd2(ix, iy)
        return float(values.mean()), float(values.std())


def kernel_inception_distance(
    gen: np.ndarray,
    ref: np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = KID_SEED,
) -> tuple[float, float]:
    """KID mean and std over ``subsets`` subsets; ``gen`` ``(n, d)``, ``ref`` ``(m, d)`` feature rows."""
    kernels = _Kernels(feature_rows(gen, "KID", "generated"), feature_rows(ref, "KID", "reference"))
    if kernels.x.shape[1] != kernels.y.shape[1]:
        raise AudiometricError(
            f"KID: generated features have dimension {kernels.x.shape[1]} but reference "
            f"features {kernels.y.shape[1]}; compute both with the same backbone"
        )
    if subsets < 1:
        raise AudiometricError(f"KID needs at least one subset, got {subsets}")
    return kernels.kid(np.arange(len(kernels.x)), np.arange(len(kernels.y)), subsets, subset_size, seed)


def _self_kernel(rows: np.ndarray) -> np.ndarray:
    """``k(x, x)`` for each row ``x`` of ``rows`` ``(n, d)``: the kernel matrix's diagonal without the matrix."""
    # Bińkowski et al. (2018), KID's kernel: k(x, y) = (x^T y / d + 1)^3.
    return (np.einsum("ij,ij->i", rows, rows) / rows.shape[1] + 1.0) ** 3


def compute(data: MetricInput) -> dict[str, Estimate]:
    """Set-level KID (rows as the backbone emits them); replicates reuse the kernel matrices."""
    p = data.params
    gen, ref = ClipRows(data.gen, "generated"), ClipRows(data.ref_clips, "reference")
    mean, std = kernel_inception_distance(
        gen.rows, ref.rows, p["subsets"], p["subset_size"], p["seed"]
    )  # validates shapes and values
    cached: list[_Kernels] = []  # formed on the first replicate only

    def replicate(g_idx: np.ndarray, r_idx: np.ndarray | None) -> float:
        if not cached:
            cached.append(_Kernels(gen.rows, ref.rows))
        kernels = cached[0]
        gy = np.arange(len(ref.rows)) if r_idx is None else ref.row_index(r_idx)
        return kernels.kid(gen.row_index(g_idx), gy, p["subsets"], p["subset_size"], p["seed"])[0]

    fields = {
        "std": std,
        "subsets": p["subsets"],
        "subset_size": min(p["subset_size"], len(gen.rows), len(ref.rows)),
        # |k(x, y)| <= (k(x, x) k(y, y))^1/2 (Cauchy-Schwarz), so the diagonal's mean bounds the terms' size
        "resolution": RESOLUTION * float(np.mean([_self_kernel(gen.rows).mean(), _self_kernel(ref.rows).mean()])),
    }
    return {data.name: Estimate(mean, fields, replicate)}


__all__ = [
    "KID_SEED",
    "KID_SUBSETS",
    "KID_SUBSET_SIZE",
    "compute",
    "kernel_inception_distance",
    "mmd2_unbiased",
    "polynomial_kernel",
]

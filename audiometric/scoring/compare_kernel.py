"""KAD of any subset of pooled rows to a fixed reference, from kernel matrices formed once (``compare``'s permutations).

The unbiased MMD² of Gretton et al. (2012, eq. 3) only sums kernel values, so for a subset S of the pooled rows
``sum_{i != j in S} k(z_i, z_j)`` is a block sum of the pooled kernel matrix and ``sum_{i in S, j} k(z_i, y_j)``
a sum of precomputed row sums: a permutation costs an ``(n, n)`` gather, never a kernel evaluation.
"""

from __future__ import annotations

import numpy as np

#: Pooled rows up to which the kernel matrix is kept (4096² float64 = 128 MiB); beyond, callers recompute.
MAX_POOLED_ROWS = 4096


def _rbf(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma ||a_i - b_j||^2)`` ``(len(a), len(b))``."""
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * (a @ b.T)
    return np.exp(-gamma * np.maximum(d2, 0.0))


class PooledKernel:
    """KAD (``scale`` × unbiased MMD², RBF kernel of ``bandwidth`` sigma) of pooled-row subsets to ``ref`` rows."""

    def __init__(self, pooled: np.ndarray, ref: np.ndarray, bandwidth: float, scale: float) -> None:
        ref = np.asarray(ref, np.float64)
        centre = ref.mean(axis=0)  # distances are translation invariant; centring keeps the Gram trick accurate
        z, y = np.asarray(pooled, np.float64) - centre, ref - centre
        gamma = 1.0 / (2.0 * bandwidth * bandwidth)
        self.scale = scale
        self.k_zz = _rbf(z, z, gamma)
        self.cross = _rbf(z, y, gamma).sum(axis=1) / len(y)  # mean kernel value of each pooled row to the reference
        k_yy = _rbf(y, y, gamma)
        self.within_ref = float(k_yy.sum() - np.trace(k_yy)) / (len(y) * (len(y) - 1))

    def __call__(self, idx: np.ndarray) -> float:
        """KAD of the pooled rows ``idx`` (distinct indices, at least 2)."""
        n = len(idx)
        block = self.k_zz[np.ix_(idx, idx)]
        within = float(block.sum() - np.trace(block)) / (n * (n - 1))
        # Gretton et al. (2012), MMD²_u: within-set means exclude i == j.
        return self.scale * (within + self.within_ref - 2.0 * float(self.cross[idx].mean()))


__all__ = ["MAX_POOLED_ROWS", "PooledKernel"]

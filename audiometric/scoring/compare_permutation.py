"""Fréchet distance in sample space and its permutation test, for ``compare`` (FD at d ≫ N without d×d sqrtm).

With centred rows X1 ``(n1, d)`` and a reference factor R ``(d, r)`` with Σ2 = RRᵀ (the centred reference rows
over sqrt(n2−1), or a Cholesky factor of a statistics file's covariance), Σ1 = X1ᵀX1/(n1−1) and the nonzero
eigenvalues of Σ1Σ2 equal those of the ``(n1, n1)`` matrix (X1R)(X1R)ᵀ/(n1−1) (cyclic property of eigenvalues,
Horn & Johnson, Matrix Analysis, Thm 1.3.22), so tr sqrt(Σ1Σ2) = Σ sqrt(eig) of that small matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audiometric.metrics.frechet import ReferenceGaussian
from audiometric.metrics.significance import exchanges, permutation_p_value


def _centring(n: int) -> np.ndarray:
    """``(n, n)`` centring matrix I − 11ᵀ/n."""
    return np.eye(n) - 1.0 / n


def _trace_sqrt(cross: np.ndarray, n: int) -> float:
    """tr sqrt(Σ1Σ2) from ``cross`` = C (XR)(XR)ᵀ C ``(n, n)`` (C the centring matrix, R the reference factor)."""
    eig = np.linalg.eigvalsh((cross + cross.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum() / np.sqrt(n - 1))


def frechet_gram(x: np.ndarray, ref: np.ndarray) -> float:
    """FD between Gaussians fitted to rows ``x`` ``(n, d)`` and ``ref`` ``(m, d)``, computed in sample space."""
    return PooledFrechet(x, ReferenceGaussian.from_rows(np.asarray(ref, np.float64)))(np.arange(len(x)))


class PooledFrechet:
    """FD of any subset of pooled rows ``(n_pool, d)`` to a fixed reference Gaussian, from Gram matrices made once.

    ``reference``: its ``factor`` R ``(d, r)`` with RRᵀ = Σ_ref (:class:`ReferenceGaussian`, from rows or a
    statistics file). One subset then costs an ``(n, n)`` eigenproblem, never a ``d × d`` one.
    """

    def __init__(self, pooled: np.ndarray, reference: ReferenceGaussian) -> None:
        self.z = np.asarray(pooled, np.float64)
        self.mu_ref, self.tr_ref = reference.mu, reference.trace
        k = reference.project(self.z)
        self.g_cross = k @ k.T  # (n_pool, n_pool): Z R Rᵀ Zᵀ
        self.g_self = self.z @ self.z.T

    def __call__(self, idx: np.ndarray) -> float:
        """FD of the rows ``idx`` (distinct indices, at least 2) to the reference."""
        n = len(idx)
        c = _centring(n)
        tr_x = float(np.trace(c @ self.g_self[np.ix_(idx, idx)] @ c)) / (n - 1)
        mean_term = float(np.sum((self.z[idx].mean(0) - self.mu_ref) ** 2))
        cross = c @ self.g_cross[np.ix_(idx, idx)] @ c
        # Dowson & Landau (1982): ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).
        return mean_term + tr_x + self.tr_ref - 2.0 * _trace_sqrt(cross, n)


#: Subset sizes per FD∞ evaluation inside a permutation test (``score``'s FD∞ uses 15; five keep 1000
#: permutations affordable, and the test only needs the same statistic for every arrangement).
INFINITY_POINTS = 5


def frechet_infinity(fd: Callable[[np.ndarray], float], idx: np.ndarray, seed: int = 0) -> float:
    """FD∞ of the clips ``idx`` (``fd(clip indices)``: the FD of those clips): FD on nested subsets at :data:`INFINITY_POINTS` sizes from ceil(n/2) to n, then
    the intercept of the least-squares fit FD_N = a + b/N (Chong & Forsyth 2020). The subset positions come
    from ``seed`` alone, so every arrangement of a permutation test is summarised by the same function."""
    n = len(idx)
    sizes = np.unique(np.linspace(int(np.ceil(n / 2)), n, INFINITY_POINTS).round().astype(int))
    order = np.random.default_rng(seed).permutation(n)
    values = [fd(idx[order[:size]]) for size in sizes]
    # Chong & Forsyth (2020): ordinary least squares of FD_N on 1/N; FD∞ is the intercept.
    design = np.stack([np.ones(len(sizes)), 1.0 / sizes], axis=1)
    (intercept, _), *_ = np.linalg.lstsq(design, np.array(values), rcond=None)
    return float(intercept)


def frechet_permutation_test(
    a: np.ndarray, b: np.ndarray, ref: np.ndarray, n_perm: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """``(Δ, p)``: Δ = FD(b, ref) − FD(a, ref); two-sided p from exchanging clips between ``a`` and ``b``."""
    fd = PooledFrechet(np.concatenate([a, b]), ReferenceGaussian.from_rows(np.asarray(ref, np.float64)))
    n_a = len(a)
    observed = fd(np.arange(n_a, n_a + len(b))) - fd(np.arange(n_a))
    null = np.array([fd(ib) - fd(ia) for ia, ib in exchanges(n_a, len(b), n_perm, seed)])
    return observed, permutation_p_value(observed, null, "two-sided")


__all__ = ["INFINITY_POINTS", "PooledFrechet", "frechet_gram", "frechet_infinity", "frechet_permutation_test"]

"""Fréchet distance in sample space and its permutation test, for ``compare`` (FD at d ≫ N without d×d sqrtm).

With centred rows X1 ``(n1, d)`` and X2 ``(n2, d)``, Σi = XiᵀXi/(ni−1); the nonzero eigenvalues of Σ1Σ2 equal
those of the ``(n1, n1)`` matrix (X1X2ᵀ)(X2X1ᵀ)/((n1−1)(n2−1)) (cyclic property of eigenvalues, Horn & Johnson,
Matrix Analysis, Thm 1.3.22), so tr sqrt(Σ1Σ2) = Σ sqrt(eig) of that small matrix.
"""

from __future__ import annotations

import numpy as np

from audiometric.metrics.significance import exchanges, permutation_p_value


def _centring(n: int) -> np.ndarray:
    """``(n, n)`` centring matrix I − 11ᵀ/n."""
    return np.eye(n) - 1.0 / n


def _trace_sqrt(cross: np.ndarray, n: int, n_ref: int) -> float:
    """tr sqrt(Σ1Σ2) from ``cross`` = C K Kᵀ C ``(n, n)`` (K = rows × centred reference rowsᵀ)."""
    eig = np.linalg.eigvalsh((cross + cross.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum() / np.sqrt((n - 1) * (n_ref - 1)))


def frechet_gram(x: np.ndarray, ref: np.ndarray) -> float:
    """FD between Gaussians fitted to rows ``x`` ``(n, d)`` and ``ref`` ``(m, d)``, computed in sample space."""
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    xc, rc = x - x.mean(0), ref - ref.mean(0)
    k = xc @ rc.T
    mean_term = float(np.sum((x.mean(0) - ref.mean(0)) ** 2))
    traces = float(np.sum(xc * xc)) / (len(x) - 1) + float(np.sum(rc * rc)) / (len(ref) - 1)
    return mean_term + traces - 2.0 * _trace_sqrt(k @ k.T, len(x), len(ref))


class _PooledFrechet:
    """FD of any subset of pooled rows to a fixed reference, from Gram matrices precomputed once."""

    def __init__(self, pooled: np.ndarray, ref: np.ndarray) -> None:
        self.z = np.asarray(pooled, np.float64)
        ref = np.asarray(ref, np.float64)
        self.mu_ref, self.n_ref = ref.mean(0), len(ref)
        rc = ref - self.mu_ref
        self.tr_ref = float(np.sum(rc * rc)) / (self.n_ref - 1)
        k = self.z @ rc.T
        self.g_cross = k @ k.T  # (n_pool, n_pool): Z Rcᵀ Rc Zᵀ
        self.g_self = self.z @ self.z.T

    def __call__(self, idx: np.ndarray) -> float:
        n = len(idx)
        c = _centring(n)
        tr_x = float(np.trace(c @ self.g_self[np.ix_(idx, idx)] @ c)) / (n - 1)
        mean_term = float(np.sum((self.z[idx].mean(0) - self.mu_ref) ** 2))
        cross = c @ self.g_cross[np.ix_(idx, idx)] @ c
        return mean_term + tr_x + self.tr_ref - 2.0 * _trace_sqrt(cross, n, self.n_ref)


def frechet_permutation_test(
    a: np.ndarray, b: np.ndarray, ref: np.ndarray, n_perm: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """``(Δ, p)``: Δ = FD(b, ref) − FD(a, ref); two-sided p from exchanging clips between ``a`` and ``b``."""
    fd = _PooledFrechet(np.concatenate([a, b]), ref)
    n_a = len(a)
    observed = fd(np.arange(n_a, n_a + len(b))) - fd(np.arange(n_a))
    null = np.array([fd(ib) - fd(ia) for ia, ib in exchanges(n_a, len(b), n_perm, seed)])
    return observed, permutation_p_value(observed, null, "two-sided")


__all__ = ["frechet_gram", "frechet_permutation_test"]

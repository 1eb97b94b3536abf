"""Fréchet distance between Gaussians fitted to two feature sets (FD on PANNs, FAD on VGGish).

Convention: ``mu1, sigma1`` describe the generated set and ``mu2, sigma2`` the reference set, as in
audioldm_eval (the distance itself is symmetric; only warning texts name the sets).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.moments import MomentAccumulator


class MetricWarning(UserWarning):
    """A metric was computed but its value deserves caution (too few rows, singular covariance, ...)."""


#: Offset audioldm_eval adds to both covariance diagonals when sqrtm of the product is not finite.
COMPAT_EPS = 1e-6


def _linalg():
    """``scipy.linalg``, imported on first use: the low-rank FD path and cached runs need none of it."""
    import scipy.linalg

    return scipy.linalg


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    n1: int | None = None,
    n2: int | None = None,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64 (feature units squared).

    ``n1``/``n2`` are the row counts behind each estimate; when given, ``N <= d`` triggers a
    :class:`MetricWarning` (the covariance is then singular and FD is strongly biased). A numerically
    singular covariance product also warns. Never raises for singular input.
    """
    mu1, sigma1, mu2, sigma2 = _as_stats(mu1, sigma1, mu2, sigma2)
    warned = warn_few_rows(mu1.shape[0], n1, n2)
    tr_sqrt, singular = _trace_sqrt_product(sigma1, sigma2)
    if singular and not warned:
        warnings.warn(
            "Fréchet distance: the covariance product is numerically singular (constant or collinear "
            "features, or too few rows); FD is computed from the clamped spectrum but is less reliable",
            MetricWarning,
            stacklevel=2,
        )
    diff = mu1 - mu2
    # Dowson & Landau (1982) / Heusel et al. (2017): ||mu1-mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)


def warn_few_rows(d: int, n1: int | None, n2: int | None) -> bool:
    """Warn for each set with ``N <= d`` rows; returns whether it warned."""
    warned = False
    for n, label in ((n1, "generated (mu1)"), (n2, "reference (mu2)")):
        if n is not None and n <= d:
            warnings.warn(
                f"Fréchet distance: the {label} set has {n} rows for {d}-dim features (N <= d), so its "
                "covariance is singular and FD is biased upward; use many more rows than dimensions or FD-infinity",
                MetricWarning,
                stacklevel=3,
            )
            warned = True
    return warned


def _cholesky(a: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of ``a``, or ``None`` when ``a`` is not (numerically) positive definite."""
    try:
        return _linalg().cholesky(a, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None


def psd_factor(sigma: np.ndarray, cholesky: bool = True) -> np.ndarray:
    """``R`` with ``R R^T = sigma`` for symmetric PSD ``sigma`` ``(d, d)``: the Cholesky factor when ``sigma`` is
    positive definite, else ``V diag(sqrt(max(w, 0)))`` from ``eigh(sigma)`` (``sqrt(sigma)`` up to an
    orthogonal factor). ``cholesky=False`` skips the Cholesky attempt (the caller knows it fails)."""
    factor = _cholesky(sigma) if cholesky else None
    if factor is not None:
        return factor
    w, v = _linalg().eigh(sigma, driver="evr", check_finite=False)
    return v * np.sqrt(np.clip(w, 0.0, None))


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> tuple[float, bool]:
    """``tr sqrt(sigma1 sigma2)`` for symmetric PSD inputs, and whether the product is numerically singular.

    For any factor ``R`` with ``R R^T = sigma1``, ``R^T sigma2 R`` is symmetric PSD and similar to
    ``sigma1 sigma2``, so the trace is the sum of the square roots of its (clamped) eigenvalues. ``R`` is
    the Cholesky factor of whichever covariance is positive definite (cheap; the trace is symmetric in
    the two), else ``V diag(sqrt(max(w, 0)))`` from ``eigh(sigma1)``, i.e. ``sqrt(sigma1)`` up to an
    orthogonal factor that leaves the spectrum unchanged. Eigenvalues at or below
    ``d * eps * lambda_max`` count as zero; any such zero marks the product singular.
    """
    # Dowson & Landau (1982): tr sqrt(S1 S2) = sum_i sqrt(lambda_i(S1^{1/2} S2 S1^{1/2})).
    inner = None
    for a, b in ((sigma1, sigma2), (sigma2, sigma1)):
        factor = _cholesky(a)
        if factor is not None:
            inner = factor.T @ b @ factor
            break
    if inner is None:  # neither is positive definite
        factor = psd_factor(sigma1, cholesky=False)
        inner = factor.T @ sigma2 @ factor
    eig = _linalg().eigh(inner, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evr")
    # Eigenvalues below the rounding level of the largest are zeros of a rank-deficient product: their
    # square roots (~1e-8 relative each) would otherwise add up to a visible bias.
    tol = inner.shape[0] * np.finfo(np.float64).eps * max(float(eig[-1]), 0.0)
    eig = np.where(eig > tol, eig, 0.0)
    return float(np.sqrt(eig).sum()), bool(eig[0] == 0.0)


def frechet_distance_compat(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    n1: int | None = None,
    n2: int | None = None,
) -> float:
    """Fréchet distance exactly as audioldm_eval ``metrics/fid.py`` (and ``fad.py``) compute it.

    ``scipy.linalg.sqrtm`` of ``sigma1 @ sigma2``; if that is not finite, retry with ``1e-6`` added to
    both diagonals; a complex result is reduced to its real part when the imaginary diagonal is below
    1e-3, else this raises. The dtypes of ``mu1``/``mu2`` are kept (float32 means in the reference).
    ``n1``/``n2`` only add the ``N <= d`` warning; SciPy's own singular-matrix warnings are silenced.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    _check_shapes(mu1, sigma1, mu2, sigma2)
    warn_few_rows(mu1.shape[0], n1, n2)
    diff = mu1 - mu2
    # audioldm_eval metrics/fid.py, after pytorch-fid (Heusel et al. 2017): sqrtm of the covariance product.
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"Fréchet distance (compat): singular covariance product; adding {COMPAT_EPS} to both diagonals "
            "as audioldm_eval does",
            MetricWarning,
            stacklevel=2,
        )
        offset = np.eye(sigma1.shape[0]) * COMPAT_EPS
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            worst = float(np.max(np.abs(covmean.imag)))
            raise AudiometricError(
                f"Fréchet distance (compat): scipy sqrtm returned an imaginary component of {worst:.3g}; "
                "rerun without the compat option"
            )
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def compat_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance as audioldm_eval forms them: ``np.mean`` of float32 rows (a float32 mean)
    and ``np.cov(rowvar=False)`` (computed in float64). ``features``: ``(n, d)``."""
    x = np.asarray(features, dtype=np.float32)
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


def frechet_from_features(gen: np.ndarray, ref: np.ndarray, compat: bool = False) -> float:
    """Fréchet distance between the rows of ``gen`` ``(n1, d)`` and ``ref`` ``(n2, d)``.

    ``compat=False``: float64 streaming statistics and the eigenvalue formula (warns on ``N <= d``).
    ``compat=True``: :func:`compat_statistics` + :func:`frechet_distance_compat`, bit-for-bit the
    audioldm_eval recipe.
    """
    x, y = _rows(gen, "generated"), _rows(ref, "reference")
    if x.shape[1] != y.shape[1]:
        raise AudiometricError(
            f"generated features have dimension {x.shape[1]} but reference features {y.shape[1]}; "
            "compute both with the same backbone"
        )
    if compat:
        return frechet_distance_compat(*compat_statistics(x), *compat_statistics(y), n1=len(x), n2=len(y))
    if max(len(x), len(y)) < x.shape[1]:
        return frechet_from_rows(x, y)
    return frechet_from_stats(MomentAccumulator(x.shape[1]).update(x), MomentAccumulator(y.shape[1]).update(y))


def frechet_from_rows(
    x: np.ndarray, y: np.ndarray, wx: np.ndarray | None = None, wy: np.ndarray | None = None
) -> float:
    """Fréchet distance of rows ``x`` ``(n1, d)`` and ``y`` ``(n2, d)`` without any ``d x d`` matrix.

    ``wx``/``wy`` are integer frequency weights per row (a row of weight k counts as k copies; the
    bootstrap's multiplicities). With centred, weighted rows ``A = (X - mu)^T sqrt(W) / sqrt(n - 1)`` the
    covariance is ``A A^T``, so ``tr S = ||A||_F^2`` and ``tr sqrt(S1 S2)`` is the sum of the singular
    values of ``A1^T A2`` (the nonzero eigenvalues of ``S1 S2`` are those of ``(A1^T A2)(A1^T A2)^T``).
    Costs ``O(n1 n2 d)``: the fast path when both sets have fewer rows than dimensions. Same value as
    :func:`frechet_distance` on the sample covariances (float64; warns on ``N <= d``).
    """
    (mu1, a1, n1), (mu2, a2, n2) = _centred(x, wx), _centred(y, wy)
    warn_few_rows(mu1.shape[0], n1, n2)
    diff = mu1 - mu2
    # Dowson & Landau (1982) with S = A A^T: ||mu1-mu2||^2 + ||A1||_F^2 + ||A2||_F^2 - 2 ||A1^T A2||_* .
    nuclear = np.linalg.svd(a1.T @ a2, compute_uv=False).sum()
    return float(diff @ diff + np.einsum("ij,ij->", a1, a1) + np.einsum("ij,ij->", a2, a2) - 2.0 * nuclear)


def _centred(x: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted mean ``(d,)``, scaled centred rows ``(d, m)`` (zero-weight rows dropped) and the count."""
    rows = np.asarray(x, dtype=np.float64)
    weights = np.ones(len(rows)) if w is None else np.asarray(w, dtype=np.float64)
    keep = weights > 0
    rows, weights = rows[keep], weights[keep]
    n = int(round(weights.sum()))
    if n < 2:
        raise AudiometricError(f"Fréchet distance needs at least 2 rows per set, got {n}")
    mu = weights @ rows / n
    return mu, ((rows - mu) * np.sqrt(weights / (n - 1))[:, None]).T, n


class ReferenceGaussian:
    """A fixed reference Gaussian ``N(mu, sigma)`` factored once, for Fréchet distances of many row sets to it.

    ``R R^T = sigma`` (Cholesky, else ``V diag(sqrt(max(w, 0)))`` from one ``eigh``) is computed here once.
    For rows ``X`` ``(n, d)`` with centred, scaled rows ``C = (X - mean) / sqrt(n - 1)`` (so ``S = C^T C``),
    ``tr sqrt(S sigma)`` is the sum of the singular values of ``C R`` (``R^T S R`` is similar to
    ``S sigma``), read from the eigenvalues of the smaller Gram matrix of ``C R``: no ``d x d``
    eigenproblem per set when ``n < d``. FD-infinity subsets, bootstrap replicates against a statistics
    file and per-clip distances use it. :meth:`from_rows` takes ``R`` from the reference rows themselves
    (``d x m``, no decomposition at all), the cheap choice when they are fewer than ``d``.
    """

    def __init__(self, mu: np.ndarray, sigma: np.ndarray) -> None:
        mu, sigma, _, _ = _as_stats(mu, sigma, mu, sigma)
        self.mu, self.trace, self.dim = mu, float(np.trace(sigma)), mu.shape[0]
        self.factor = psd_factor(sigma)

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> ReferenceGaussian:
        """The Gaussian of ``rows`` ``(m, d)``, ``m >= 2``, with ``R = (rows - mean)^T / sqrt(m - 1)`` ``(d, m)``."""
        x = _rows(np.asarray(rows, dtype=np.float64), "reference")
        self = cls.__new__(cls)
        self.mu, self.dim = x.mean(axis=0), x.shape[1]
        self.factor = ((x - self.mu) / np.sqrt(x.shape[0] - 1)).T
        self.trace = float(np.einsum("ij,ij->", self.factor, self.factor))
        return self

    def project(self, rows: np.ndarray) -> np.ndarray:
        """``rows @ R`` ``(n, rank)``: project once, then score any subsets of the rows with :meth:`distance`."""
        return np.asarray(rows, dtype=np.float64) @ self.factor

    def distance(self, rows: np.ndarray, projected: np.ndarray | None = None) -> float:
        """FD between the Gaussian of ``rows`` ``(n, d)`` (sample mean, ``ddof=1`` covariance; zero
        covariance for one row, as for a single clip) and the reference. ``projected``: ``project(rows)``.
        Same value as :func:`frechet_distance` on those statistics, up to rounding; does not warn."""
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim or x.shape[0] < 1:
            raise AudiometricError(f"Fréchet distance: rows must have shape (n >= 1, {self.dim}), got {x.shape}")
        p = self.project(x) if projected is None else np.asarray(projected, dtype=np.float64)
        n = x.shape[0]
        mean, tr_sqrt, tr_own = x.mean(axis=0), 0.0, 0.0
        if n > 1:
            scale = 1.0 / np.sqrt(n - 1)
            c = (x - mean) * scale
            m = (p - p.mean(axis=0)) * scale  # = c @ R
            gram = m @ m.T if n <= m.shape[1] else m.T @ m
            eig = _linalg().eigh(gram, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evr")
            tol = gram.shape[0] * np.finfo(np.float64).eps * max(float(eig[-1]), 0.0)  # as _trace_sqrt_product
            tr_sqrt = float(np.sqrt(np.where(eig > tol, eig, 0.0)).sum())
            tr_own = float(np.einsum("ij,ij->", c, c))
        diff = mean - self.mu
        # Dowson & Landau (1982): ||mu1-mu2||^2 + tr S + tr sigma - 2 tr sqrt(S sigma), tr sqrt via ||C R||_*.
        return float(diff @ diff + tr_own + self.trace - 2.0 * tr_sqrt)


def frechet_from_stats(gen: MomentAccumulator, ref: MomentAccumulator) -> float:
    """Fréchet distance between two accumulated statistics (e.g. a saved reference ``.npz``)."""
    if gen.dim != ref.dim:
        raise AudiometricError(
            f"generated statistics have dimension {gen.dim} but reference statistics {ref.dim}; "
            "the reference was computed with a different backbone or output"
        )
    return frechet_distance(gen.mean, gen.cov(), ref.mean, ref.cov(), n1=gen.count, n2=ref.count)


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm(a)`` without printing (old SciPy), deprecation or singular-matrix warnings."""
    linalg = _linalg()
    # SciPy < 1.16 prints a message unless disp=False (then returns (X, errest)); 1.16 deprecates disp, 1.18 drops it.
    disp = inspect.signature(linalg.sqrtm).parameters.get("disp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        if disp is not None and disp.default is True:
            return linalg.sqrtm(a, disp=False)[0]
        return linalg.sqrtm(a)


def _rows(x: np.ndarray, label: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise AudiometricError(f"{label} features must be a (rows >= 2, dim) array, got shape {arr.shape}")
    return arr


def _as_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    out = (
        np.atleast_1d(np.asarray(mu1, dtype=np.float64)),
        np.atleast_2d(np.asarray(sigma1, dtype=np.float64)),
        np.atleast_1d(np.asarray(mu2, dtype=np.float64)),
        np.atleast_2d(np.asarray(sigma2, dtype=np.float64)),
    )
    _check_shapes(*out)
    if not all(np.isfinite(a).all() for a in out):
        raise AudiometricError("Fréchet distance: statistics contain NaN or Inf; recompute the features")
    return out


def _check_shapes(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> None:
    d = mu1.shape[0]
    if mu1.ndim != 1 or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise AudiometricError(
            f"Fréchet distance: statistics do not match (means {mu1.shape} and {mu2.shape}, covariances "
            f"{sigma1.shape} and {sigma2.shape}); compute both sets with the same backbone"
        )


__all__ = [
    "COMPAT_EPS",
    "MetricWarning",
    "ReferenceGaussian",
    "compat_statistics",
    "frechet_distance",
    "frechet_distance_compat",
    "frechet_from_features",
    "frechet_from_rows",
    "frechet_from_stats",
    "warn_few_rows",
]

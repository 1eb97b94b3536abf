"""FD-infinity: the Fréchet distance extrapolated to an infinite generated set (Chong & Forsyth 2020).

FD estimated from N samples is biased by roughly ``slope / N``. Chong & Forsyth ("Effectively Unbiased
FID and Inception Score and where to find them", CVPR 2020) compute FD on 15 subsets of evenly spaced
sizes (5 000 ... 50 000 images), fit ``FD_N = intercept + slope / N`` by least squares, and report the
intercept. Audio sets are smaller, so the smallest subset defaults to ``min(5000, half the clips)``.
Subsets are drawn as whole CLIPS without replacement: a clip's frames (e.g. VGGish patches) always
enter together, and ``N`` is the number of clips.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.frechet import MetricWarning, ReferenceGaussian

#: Number of subset sizes, as in Chong & Forsyth (2020).
DEFAULT_POINTS = 15


class Extrapolation(NamedTuple):
    """Least-squares fit ``value = intercept + slope / n_clips`` and the points it was fitted to."""

    intercept: float  # the extrapolated value at infinitely many clips (FD-infinity)
    slope: float
    r2: float
    points: list[tuple[int, int, float]]  # (clips drawn, rows drawn, metric value)


#: A fit with R^2 below this is flagged untrustworthy: the 1/N model does not explain the subset values.
MIN_R2 = 0.95


def fit_problem(fit: Extrapolation) -> str:
    """Why the extrapolation should not be trusted (R^2 below :data:`MIN_R2`, or a negative intercept
    for a distance that cannot be negative), or ``""``."""
    problems = []
    if fit.r2 < MIN_R2:
        problems.append(f"R^2 = {fit.r2:.3f} < {MIN_R2} (the values do not follow a + b/N)")
    if fit.intercept < 0:
        problems.append(f"negative intercept {fit.intercept:.4g} (a distance cannot be negative)")
    return "; ".join(problems)


def fd_infinity(
    gen_clips: Sequence[np.ndarray],
    ref_mu: np.ndarray | None,
    ref_sigma: np.ndarray | None,
    num_points: int = DEFAULT_POINTS,
    min_clips: int | None = None,
    seed: int = 0,
    progress: Callable[[], object] | None = None,
    reference: ReferenceGaussian | None = None,
) -> Extrapolation:
    """FD-infinity of the generated clips against fixed reference statistics.

    ``gen_clips``: one ``(frames, d)`` array per generated clip. ``ref_mu`` ``(d,)`` and ``ref_sigma``
    ``(d, d)`` stay fixed (the paper extrapolates the generated side only). ``seed`` seeds
    ``np.random.default_rng`` for the subset draws; ``progress()`` is called after each subset.
    The reference covariance is factored once and all rows are projected once
    (:class:`~audiometric.metrics.frechet.ReferenceGaussian`), so a subset costs one Gram matrix and
    one eigenproblem of size ``min(rows, d)``; pass ``reference`` to reuse a factored one (then
    ``ref_mu``/``ref_sigma`` are ignored). One ``N <= d`` warning is given for the whole fit.
    """
    if reference is None:
        if ref_mu is None or ref_sigma is None:
            raise ValueError("fd_infinity needs ref_mu and ref_sigma, or a factored reference")
        reference = ReferenceGaussian(ref_mu, ref_sigma)
    arrays = [np.asarray(c, dtype=np.float64) for c in gen_clips]
    rows = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, reference.dim))
    projected = reference.project(rows) if len(rows) else rows
    frames = np.array([len(a) for a in arrays], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(frames)[:-1]]).astype(np.int64)

    def fd(chosen: np.ndarray) -> tuple[int, float]:
        sel = np.concatenate([np.arange(starts[i], starts[i] + frames[i]) for i in chosen])
        return len(sel), reference.distance(rows[sel], projected[sel])

    fit = _extrapolate_indices(len(arrays), fd, num_points, min_clips, seed, progress)
    fewest = min(p[1] for p in fit.points)
    if fewest <= reference.dim:
        warnings.warn(
            f"FD-infinity: the smallest subsets have {fewest} rows for {reference.dim}-dim features (N <= d), so "
            "their covariances are singular and the 1/N fit may not hold; check its R^2",
            MetricWarning,
            stacklevel=2,
        )
    return fit


def extrapolate(
    clips: Sequence[np.ndarray],
    metric: Callable[[np.ndarray], float],
    num_points: int = DEFAULT_POINTS,
    min_clips: int | None = None,
    seed: int = 0,
    progress: Callable[[], object] | None = None,
) -> Extrapolation:
    """Evaluate ``metric`` on the stacked rows of random clip subsets and fit ``intercept + slope / n``.

    Sizes are ``num_points`` integers evenly spaced from ``min_clips`` (default ``min(5000, ceil(n/2))``)
    to all ``n`` clips; each subset is drawn without replacement with ``np.random.default_rng(seed)``.
    ``progress()`` is called after each subset.
    """

    def on_subset(chosen: np.ndarray) -> tuple[int, float]:
        rows = np.concatenate([np.asarray(clips[i]) for i in chosen], axis=0)
        return int(rows.shape[0]), float(metric(rows))

    return _extrapolate_indices(len(clips), on_subset, num_points, min_clips, seed, progress)


def subset_sizes(n: int, num_points: int = DEFAULT_POINTS, min_clips: int | None = None) -> np.ndarray:
    """The distinct subset sizes (clips) an extrapolation over ``n`` clips evaluates, smallest first."""
    if n < 2:
        raise AudiometricError(f"extrapolation needs at least 2 generated clips, got {n}")
    if num_points < 2:
        raise AudiometricError(f"extrapolation needs at least 2 subset sizes, got {num_points}")
    low = min(5000, math.ceil(n / 2)) if min_clips is None else int(min_clips)
    if not 1 <= low < n:
        raise AudiometricError(f"the smallest subset must have 1 to {n - 1} clips, got {low}")
    sizes = np.unique(np.linspace(low, n, num_points).round().astype(int))
    if sizes.size < 2:
        raise AudiometricError(f"too few distinct subset sizes between {low} and {n} clips")
    return sizes


def _extrapolate_indices(
    n: int,
    evaluate: Callable[[np.ndarray], tuple[int, float]],
    num_points: int,
    min_clips: int | None,
    seed: int,
    progress: Callable[[], object] | None,
) -> Extrapolation:
    """Draw one subset of clip indices per size, ``evaluate(indices) -> (rows, value)``, fit ``a + b / n``."""
    sizes = subset_sizes(n, num_points, min_clips)
    rng = np.random.default_rng(seed)
    points: list[tuple[int, int, float]] = []
    for size in sizes:
        chosen = rng.choice(n, size=int(size), replace=False)
        rows, value = evaluate(chosen)
        points.append((int(size), int(rows), float(value)))
        if progress is not None:
            progress()
    inv_n = 1.0 / sizes.astype(np.float64)
    values = np.array([p[2] for p in points])
    # Chong & Forsyth (2020): ordinary least squares of FD_N on 1/N; FD-infinity is the intercept.
    design = np.stack([np.ones_like(inv_n), inv_n], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - (intercept + slope * inv_n)
    spread = float(np.sum((values - values.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
    return Extrapolation(float(intercept), float(slope), r2, points)


__all__ = ["DEFAULT_POINTS", "MIN_R2", "Extrapolation", "extrapolate", "fd_infinity", "fit_problem", "subset_sizes"]

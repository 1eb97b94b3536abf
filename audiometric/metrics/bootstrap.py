"""Percentile bootstrap confidence intervals that resample whole CLIPS (Efron & Tibshirani 1993).

Each replicate draws as many clips as each set has, with replacement, from the generated set and
(by default) independently from the reference set, and recomputes the metric. A clip's frames always
move together, so frame-level metrics (FAD on VGGish patches) are not made to look falsely precise.
Warnings of type :class:`~audiometric.metrics.frechet.MetricWarning` are silenced inside replicates
(duplicated clips make covariances rank-deficient more often); the point estimate still warns.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.frechet import MetricWarning, frechet_distance, frechet_from_rows
from audiometric.metrics.moments import MomentAccumulator

#: Default number of replicates (about 200 suffice for 95 % percentile intervals; Efron & Tibshirani 1993, ch. 13).
DEFAULT_REPLICATES = 200


class ClipRows:
    """Clips stacked into one float64 row matrix, with the row range of every clip."""

    def __init__(self, clips: Sequence[np.ndarray], label: str) -> None:
        arrays = [np.asarray(c) for c in clips]
        if not arrays:
            raise AudiometricError(f"bootstrap needs at least one {label} clip")
        if any(a.ndim != 2 or a.shape[0] < 1 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
            raise AudiometricError(f"bootstrap: every {label} clip must be a (frames >= 1, dim) array of one dim")
        self.rows = np.concatenate(arrays, axis=0).astype(np.float64, copy=False)
        self.frames = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.frames)[:-1]])
        self.n = len(arrays)

    def row_index(self, idx: np.ndarray) -> np.ndarray:
        """Indices into ``rows`` of the clips ``idx`` (repeats allowed), clip after clip."""
        lengths = self.frames[idx]
        offsets = np.repeat(self.starts[idx] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return offsets + np.arange(int(lengths.sum()))

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows of the clips ``idx`` (repeats allowed), clip after clip."""
        return self.rows[self.row_index(idx)]

    def moments(self, multiplicity: np.ndarray) -> MomentAccumulator:
        """Statistics of the rows with clip ``c`` counted ``multiplicity[c]`` times (frequency weights, no gather)."""
        acc = MomentAccumulator(self.rows.shape[1])
        return acc.update(self.rows, weights=np.repeat(multiplicity, self.frames))


def frechet_replicate(
    gen: ClipRows, ref: ClipRows, resample_reference: bool = True
) -> Callable[[np.ndarray, np.ndarray | None], float]:
    """``replicate(gen_idx, ref_idx)``: the Fréchet distance of a clip resample, without copying rows.

    Rows are weighted by the clip multiplicities (``np.bincount`` of the indices); ``ref_idx=None``
    keeps the reference as it is. Both sets below ``d`` rows take the low-rank path (no ``d x d``).
    """
    low_rank = max(len(gen.rows), len(ref.rows)) < gen.rows.shape[1]  # fewer rows than dims: no d x d matrices
    ones = np.ones(ref.n, dtype=np.int64)
    fixed_ref = None if resample_reference or low_rank else ref.moments(ones)

    def replicate(g_idx: np.ndarray, r_idx: np.ndarray | None) -> float:
        g_mult = np.bincount(g_idx, minlength=gen.n)
        r_mult = ones if r_idx is None else np.bincount(r_idx, minlength=ref.n)
        if low_rank:
            return frechet_from_rows(gen.rows, ref.rows, np.repeat(g_mult, gen.frames), np.repeat(r_mult, ref.frames))
        g = gen.moments(g_mult)
        r = fixed_ref if fixed_ref is not None and r_idx is None else ref.moments(r_mult)
        return frechet_distance(g.mean, g.cov(), r.mean, r.cov())

    return replicate


#: Interval methods: ``percentile`` (Efron & Tibshirani 1993, ch. 13) and ``basic``, the percentile
#: interval of the centred statistic ``theta* - theta_hat`` (Davison & Hinkley 1997, eq. 5.6).
CI_METHODS = ("percentile", "basic")


def draw_replicates(
    replicates: dict[str, Callable[[np.ndarray, np.ndarray | None], float]],
    n_gen: int,
    n_ref: int | None,
    n_boot: int = DEFAULT_REPLICATES,
    seed: int = 0,
    paired: bool = False,
    progress: Callable[[], object] | None = None,
) -> dict[str, np.ndarray]:
    """Values of every ``replicates[name](gen_idx, ref_idx)`` over ``n_boot`` shared clip resamples.

    Per replicate, ``np.random.default_rng(seed)`` draws ``n_gen`` generated indices with replacement,
    then ``n_ref`` reference indices (``ref_idx = gen_idx`` when ``paired``; ``None`` when ``n_ref`` is
    ``None``: the reference stays fixed). This is the one bootstrap loop: every interval the package
    reports comes from these draws. ``progress()`` is called after each replicate; :class:`MetricWarning`
    is silenced inside replicates.
    """
    _check(n_boot, 0.5)
    if paired and n_ref != n_gen:
        raise AudiometricError("paired bootstrap needs index-aligned generated and reference clips of equal count")
    rng = np.random.default_rng(seed)
    values = {name: np.empty(n_boot) for name in replicates}
    for b in range(n_boot):
        g_idx = rng.integers(0, n_gen, n_gen)
        r_idx = g_idx if paired else (rng.integers(0, n_ref, n_ref) if n_ref is not None else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            for name, replicate in replicates.items():
                values[name][b] = replicate(g_idx, r_idx)
        if progress is not None:
            progress()
    return values


def interval(
    values: np.ndarray, point: float, confidence: float = 0.95, method: str = "percentile"
) -> tuple[float, float]:
    """``[low, high]`` from bootstrap ``values`` of a statistic whose estimate is ``point``.

    ``percentile``: the ``alpha/2`` and ``1 - alpha/2`` quantiles ``q_lo, q_hi`` of the replicates.
    ``basic``: ``[2 point - q_hi, 2 point - q_lo]``, which removes the bootstrap estimate of the bias
    (``mean(values) - point``) that a small-N plug-in estimator such as FD carries into every replicate.
    """
    _check(len(values), confidence)
    if method not in CI_METHODS:
        raise AudiometricError(f"unknown interval method '{method}'; choose from: {', '.join(CI_METHODS)}")
    # Efron & Tibshirani (1993), percentile interval: the alpha/2 and 1 - alpha/2 quantiles of the replicates.
    alpha = 1.0 - confidence
    low, high = (float(q) for q in np.quantile(np.asarray(values, dtype=np.float64), [alpha / 2.0, 1.0 - alpha / 2.0]))
    if method == "basic":
        # Davison & Hinkley (1997), eq. 5.6: the basic bootstrap interval.
        return 2.0 * point - high, 2.0 * point - low
    return low, high


def _check(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise AudiometricError(f"the bootstrap needs at least one replicate, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise AudiometricError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


__all__ = [
    "CI_METHODS",
    "DEFAULT_REPLICATES",
    "ClipRows",
    "draw_replicates",
    "frechet_replicate",
    "interval",
]

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
from typing import NamedTuple

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.frechet import MetricWarning, frechet_distance, frechet_from_rows
from audiometric.metrics.moments import MomentAccumulator

#: Default number of replicates (about 200 suffice for 95 % percentile intervals; Efron & Tibshirani 1993, ch. 13).
DEFAULT_REPLICATES = 200


class BootstrapResult(NamedTuple):
    """Percentile interval ``[low, high]`` and the replicate values it was read from."""

    low: float
    high: float
    values: np.ndarray  # (n_boot,) metric value of every replicate, in draw order


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


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray | None], float],
    gen_clips: Sequence[np.ndarray],
    ref_clips: Sequence[np.ndarray] | None = None,
    n_boot: int = DEFAULT_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
    paired: bool = False,
    resample_reference: bool = True,
) -> BootstrapResult:
    """Percentile bootstrap interval of ``metric(gen_rows, ref_rows)`` over clip resamples.

    ``gen_clips``/``ref_clips``: one ``(frames, d)`` array per clip. The metric receives the stacked rows
    of the resampled clips (``ref_rows`` is ``None`` without a reference, and the full reference when
    ``resample_reference=False``). ``paired=True`` draws the same indices for both sets (paired KL;
    the sets must be index-aligned). Draws use ``np.random.default_rng(seed)``: generated indices first,
    then reference indices, per replicate.
    """
    _check(n_boot, confidence)
    gen = ClipRows(gen_clips, "generated")
    ref = ClipRows(ref_clips, "reference") if ref_clips is not None else None
    if paired and (ref is None or ref.n != gen.n):
        raise AudiometricError("paired bootstrap needs index-aligned generated and reference clips of equal count")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for b in range(n_boot):
        g_idx = rng.integers(0, gen.n, gen.n)
        ref_rows = None
        if ref is not None:
            if paired:
                ref_rows = ref.gather(g_idx)
            elif resample_reference:
                ref_rows = ref.gather(rng.integers(0, ref.n, ref.n))
            else:
                ref_rows = ref.rows
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            values[b] = metric(gen.gather(g_idx), ref_rows)
    return _interval(values, confidence)


def bootstrap_frechet(
    gen_clips: Sequence[np.ndarray],
    ref_clips: Sequence[np.ndarray],
    n_boot: int = DEFAULT_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
    resample_reference: bool = True,
) -> BootstrapResult:
    """Bootstrap interval of the Fréchet distance, without copying rows per replicate.

    Same draws as ``bootstrap_ci(lambda g, r: frechet_from_features(g, r), ...)`` with the same seed,
    but each replicate weights the stacked rows by the clip multiplicities (``np.bincount`` of the
    drawn indices) instead of gathering copies.
    """
    _check(n_boot, confidence)
    gen = ClipRows(gen_clips, "generated")
    ref = ClipRows(ref_clips, "reference")
    if gen.rows.shape[1] != ref.rows.shape[1]:
        raise AudiometricError(
            f"generated features have dimension {gen.rows.shape[1]} but reference features {ref.rows.shape[1]}"
        )
    replicate = frechet_replicate(gen, ref, resample_reference)
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for b in range(n_boot):
        g_idx = rng.integers(0, gen.n, gen.n)
        r_idx = rng.integers(0, ref.n, ref.n) if resample_reference else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            values[b] = replicate(g_idx, r_idx)
    return _interval(values, confidence)


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
    ``None``: the reference stays fixed) -- the draws of :func:`bootstrap_ci`. ``progress()`` is called
    after each replicate; :class:`MetricWarning` is silenced inside replicates.
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
    result = _interval(np.asarray(values, dtype=np.float64), confidence)
    if method == "basic":
        # Davison & Hinkley (1997), eq. 5.6: the basic bootstrap interval.
        return 2.0 * point - result.high, 2.0 * point - result.low
    return result.low, result.high


def _interval(values: np.ndarray, confidence: float) -> BootstrapResult:
    # Efron & Tibshirani (1993), percentile interval: the alpha/2 and 1 - alpha/2 quantiles of the replicates.
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return BootstrapResult(float(low), float(high), values)


def _check(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise AudiometricError(f"the bootstrap needs at least one replicate, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise AudiometricError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


__all__ = [
    "CI_METHODS",
    "DEFAULT_REPLICATES",
    "BootstrapResult",
    "ClipRows",
    "bootstrap_ci",
    "bootstrap_frechet",
    "draw_replicates",
    "frechet_replicate",
    "interval",
]

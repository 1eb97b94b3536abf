"""FD and FAD as set-level metrics (the protocol of ``protocol.py``), with FD-infinity when asked.

Against reference clips both sets are resampled by the bootstrap; against a statistics file the
reference moments stay fixed and only the generated clips are resampled (the file keeps no clips).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audiometric.errors import AudiometricError
from audiometric.metrics.bootstrap import ClipRows, frechet_replicate
from audiometric.metrics.extrapolated import MIN_R2, fd_infinity, fit_problem, subset_sizes
from audiometric.metrics.frechet import ReferenceGaussian, frechet_from_features, warn_few_rows
from audiometric.metrics.moments import MomentAccumulator
from audiometric.metrics.protocol import RESOLUTION, Estimate, MetricInput


def compute(data: MetricInput) -> dict[str, Estimate | str]:
    """``{name: FD}`` and, with ``data.fd_inf``, ``{name + "_inf": FD-infinity}`` (or why not)."""
    gen = ClipRows(data.gen, "generated")
    d = gen.rows.shape[1]
    if data.ref is not None:
        ref = ClipRows(data.ref, "reference")
        value = frechet_from_features(gen.rows, ref.rows, compat=data.compat)
        terms = _trace(gen.rows) + _trace(ref.rows)
        n_reference = len(ref.rows)
        replicate = frechet_replicate(gen, ref)

        def factored() -> ReferenceGaussian:  # fewer rows than dims: the rows are the factor, no eigh
            if len(ref.rows) < d:
                return ReferenceGaussian.from_rows(ref.rows)
            ref_acc = MomentAccumulator(d).update(ref.rows)  # d x d: only when FD-infinity needs it
            return ReferenceGaussian(ref_acc.mean, ref_acc.cov())
    else:
        if data.compat:
            raise AudiometricError(
                "--compat needs the reference folder: audioldm_eval forms the reference "
                "statistics from float32 features, which a statistics file does not keep"
            )
        ref_acc = data.ref_stats
        n_reference = ref_acc.count
        if ref_acc.dim != d:
            raise AudiometricError(
                f"generated features have dimension {d} but the reference statistics "
                f"{ref_acc.dim}; the reference was computed with a different backbone or output"
            )
        reference = ReferenceGaussian(ref_acc.mean, ref_acc.cov())  # one factorisation for all that follows
        warn_few_rows(d, len(gen.rows), ref_acc.count)
        value = reference.distance(gen.rows)
        terms = _trace(gen.rows) + reference.trace
        replicate = _fixed_reference_replicate(gen, reference)
        factored = lambda: reference  # noqa: E731
    fields = {
        "rows_generated": int(gen.rows.shape[0]),
        "rows_reference": int(n_reference),
        "compat": data.compat,
        "resolution": RESOLUTION * terms,  # FD = |mu_g - mu_r|^2 + tr S_g + tr S_r - 2 tr (S_g S_r)^1/2
    }
    out: dict[str, Estimate | str] = {data.name: Estimate(value, fields, replicate)}
    if data.fd_inf:
        out[f"{data.name}_inf"] = _infinity(data, factored)
    return out


def _trace(rows: np.ndarray) -> float:
    """tr of the covariance of ``rows`` ``(n, d)``: the sum of the per-dimension variances."""
    return float(np.var(rows, axis=0).sum())


def _fixed_reference_replicate(gen: ClipRows, reference: ReferenceGaussian):
    """Replicates against fixed reference moments: every generated row is projected once."""
    projected = reference.project(gen.rows)

    def replicate(g_idx: np.ndarray, _: np.ndarray | None) -> float:
        sel = gen.row_index(g_idx)
        return reference.distance(gen.rows[sel], projected[sel])

    return replicate


def _infinity(data: MetricInput, factored: Callable[[], ReferenceGaussian]) -> Estimate | str:
    try:
        total = len(subset_sizes(len(data.gen)))
    except AudiometricError as err:
        return str(err)
    bar = data.progress(total, f"{data.name.upper()}∞ subsets")
    try:
        fit = fd_infinity(data.gen, None, None, seed=data.seed, progress=bar.update, reference=factored())
    finally:
        bar.close()
    problem = fit_problem(fit)
    fields = {
        "slope": fit.slope,
        "r2": fit.r2,
        "trusted": not problem,
        "min_r2": MIN_R2,
        "points": [list(p) for p in fit.points],
    }
    notes = [f"untrustworthy fit: {problem}; compare FD at equal N instead"] if problem else []
    return Estimate(fit.intercept, fields, None, notes)


__all__ = ["compute"]

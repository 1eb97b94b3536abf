"""The paired level test: does the corruption move the metric, beyond swapping each clip with its own original?

Under the null "the corruption has no effect", a clean clip and its corrupted version are exchangeable, so
swapping them inside any subset of pairs leaves the distribution of ``Δ = m(damaged, ref) - m(clean, ref)``
unchanged: a paired (sign-flip) randomization test (Good 2005, ch. 3; Fisher 1935), exact for any metric,
including those whose bootstrap fails at the null (FD and KAD are degenerate there: measured, a bootstrap
z-test of Δ rejected 0 of 200 null trials at α = 0.05). Each permuted ``Δ`` is computed with the metric's
own ``replicate`` on the pooled clips (clean, then damaged), so no embedding is copied and no backbone runs.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from audiometric.metrics import Estimate, MetricInfo, MetricInput
from audiometric.metrics.frechet import MetricWarning
from audiometric.metrics.significance import sign_flips

#: Within-pair swaps per cell: Holm over k levels needs 1 / (PERMUTATIONS + 1) <= alpha / k (k <= 10 at alpha 0.05).
PERMUTATIONS = 199


def swap_deltas(info: MetricInfo, clean: MetricInput, damaged: MetricInput, n_perm: int, seed: int) -> dict[str, dict]:
    """Per entry of ``info``: ``{"observed": Δ, "null": [Δ under n_perm random within-pair swaps]}``.

    ``clean`` and ``damaged`` are the metric's inputs for the clean and corrupted versions of the same
    clips (index-aligned, against the same reference). Entries without a ``replicate`` are left out.
    """
    n = len(damaged.gen)
    if len(clean.gen) != n:
        return {}
    paired = info.paired and damaged.ref is not None
    pooled = replace(
        damaged,
        gen=list(clean.gen) + list(damaged.gen),
        ref=list(damaged.ref) + list(damaged.ref) if paired and damaged.ref is not None else damaged.ref,
    )
    swaps = sign_flips(n, n_perm, seed) < 0
    own = np.arange(n)
    out: dict[str, dict] = {}
    with warnings.catch_warnings():  # the cells show the metric's warnings once; the pooled set repeats them
        warnings.simplefilter("ignore", MetricWarning)
        estimates = info.run(pooled)
        reps = {k: e.replicate for k, e in estimates.items() if isinstance(e, Estimate) and e.replicate is not None}
        for name, rep in reps.items():

            def delta(swap: np.ndarray) -> float:
                hurt, kept = np.where(swap, own, own + n), np.where(swap, own + n, own)
                return rep(hurt, hurt if paired else None) - rep(kept, kept if paired else None)

            out[name] = {
                "observed": float(delta(np.zeros(n, dtype=bool))),
                "null": [float(delta(row)) for row in swaps],
            }
    return out

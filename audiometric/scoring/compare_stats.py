"""The statistics of ``compare`` for one metric entry: bootstrap replicates per system, and the test of a pair.

- **Bootstrap** (CIs): every system is resampled by clip, the reference once per replicate for all systems
  (common random numbers, so the reference's own noise cancels in a difference), and systems whose clips share
  names are resampled jointly by name. A system's CI is the percentile interval of its replicates (as
  ``score``); the CI of Δ = m(B) − m(A) is ``Δ ± z se`` of the replicate differences
  (:func:`~audiometric.metrics.significance.bootstrap_test`).
- **Permutation p** (two-sided): unpaired metrics exchange clips between the two systems (Good 2005, ch. 3),
  with the same arrangements for every metric; metrics paired by name (``MetricInfo.paired``: KL) flip the
  sign of per-name differences. Fréchet metrics and KAD use the pooled Gram/kernel matrices
  (:mod:`compare_permutation`, :mod:`compare_kernel`); other metrics recompute on each arrangement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from audiometric.metrics import Estimate, MetricInfo, MetricInput
from audiometric.metrics.bootstrap import ClipRows, interval
from audiometric.metrics.frechet import ReferenceGaussian
from audiometric.metrics.protocol import gather
from audiometric.metrics.significance import bootstrap_test, exchanges, permutation_p_value, sign_flip_test
from audiometric.scoring.compare_kernel import MAX_POOLED_ROWS, PooledKernel
from audiometric.scoring.compare_permutation import PooledFrechet, frechet_infinity

#: One bootstrap replicate: per system its clip indices, and the reference's (``None`` when it stays fixed).
Draw = tuple[list[np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """How hard ``compare`` tests: permutations, bootstrap replicates, CI coverage, seed."""

    permutations: int = 1000
    bootstrap: int = 200
    confidence: float = 0.95
    seed: int = 0


@dataclass
class SystemInput:
    """One system's input to one metric: the metric input, its estimates, and the key of each of its clips.

    ``keys``: per ``data.gen`` clip, its clip name (unpaired metrics) or the index of the reference clip it is
    paired with (paired metrics), so clips of two systems can be matched.
    """

    data: MetricInput
    estimates: dict[str, Estimate | str]
    keys: list


@dataclass
class PairTest:
    """Δ = m(B) − m(A) with its bootstrap CI (``None`` without replicates) and its permutation p."""

    difference: float
    ci: tuple[float, float] | None
    p_value: float | None
    method: str


def draw_indices(systems: Sequence[SystemInput], paired: bool, n_ref: int | None, plan: Plan) -> list[Draw]:
    """Per replicate, each system's clip indices drawn with replacement and the reference's (``None``: fixed).
    Paired metrics resample their own
       pairs (the reference index follows the clip). Systems with the same clip names share the draw by name.
    """
    rng = np.random.default_rng(plan.seed)
    sizes = [len(s.data.gen) for s in systems]
    joint = (
        not paired
        and len({frozenset(s.keys) for s in systems}) == 1
        and all(len(set(s.keys)) == n for s, n in zip(systems, sizes))
    )
    order = sorted(systems[0].keys) if joint else []
    lookup = [{k: i for i, k in enumerate(s.keys)} for s in systems] if joint else []
    draws: list[Draw] = []
    for _ in range(plan.bootstrap):
        if joint:
            chosen = rng.integers(0, len(order), len(order))
            idx = [np.array([table[order[c]] for c in chosen]) for table in lookup]
        else:
            idx = [rng.integers(0, n, n) for n in sizes]
        ref = None if paired or n_ref is None else rng.integers(0, n_ref, n_ref)
        draws.append((idx, ref))
    return draws


def replicates(systems: Sequence[SystemInput], key: str, draws: list[Draw], paired: bool) -> list[np.ndarray | None]:
    """Each system's bootstrap values of entry ``key`` over ``draws`` (``None`` where it has no replicate)."""
    out: list[np.ndarray | None] = []
    for s, system in enumerate(systems):
        est = system.estimates.get(key)
        if not isinstance(est, Estimate) or est.replicate is None or not draws:
            out.append(None)
            continue
        values = [est.replicate(idx[s], idx[s] if paired else ref) for idx, ref in draws]
        out.append(np.asarray(values, dtype=np.float64))
    return out


def system_ci(value: float, reps: np.ndarray | None, confidence: float) -> list[float] | None:
    """The percentile bootstrap interval of one system's value (``score``'s default), or ``None``."""
    return None if reps is None else list(interval(reps, value, confidence, "percentile"))


def pair_test(
    info: MetricInfo,
    key: str,
    a: SystemInput,
    b: SystemInput,
    reps: tuple[np.ndarray | None, np.ndarray | None],
    plan: Plan,
) -> PairTest:
    """Test entry ``key`` of system ``b`` against ``a``: permutation p and the CI of Δ from common draws."""
    est_a, est_b = a.estimates[key], b.estimates[key]
    assert isinstance(est_a, Estimate) and isinstance(est_b, Estimate)
    point = est_b.value - est_a.value
    if info.paired:
        return _sign_flip(key, a, b, point, plan)
    ci = None
    if reps[0] is not None and reps[1] is not None:
        ci = bootstrap_test(point, reps[1] - reps[0], "two-sided", plan.confidence).ci
    n_a, n_b = len(a.data.gen), len(b.data.gen)
    stat = _pooled_statistic(info, key, replace(a.data, gen=[*a.data.gen, *b.data.gen], fd_inf=False), plan.seed)
    if stat is None:
        return PairTest(point, ci, None, "no permutation test (the estimate cannot be recomputed on a subset)")
    observed = stat(np.arange(n_a, n_a + n_b)) - stat(np.arange(n_a))
    null = np.array([stat(ib) - stat(ia) for ia, ib in exchanges(n_a, n_b, plan.permutations, plan.seed)])
    p = permutation_p_value(observed, null, "two-sided")
    return PairTest(point, ci, p, f"clip exchange between the two systems, {plan.permutations} permutations")


def _sign_flip(key: str, a: SystemInput, b: SystemInput, point: float, plan: Plan) -> PairTest:
    """Paired metrics: per reference clip, B's value minus A's; sign flips for p, a bootstrap of names for the CI."""
    per_a, per_b = _per_clip(a, key), _per_clip(b, key)
    common = sorted(set(per_a) & set(per_b))
    d = np.array([per_b[k] - per_a[k] for k in common])
    if len(d) < 2:
        return PairTest(point, None, None, "no sign-flip test (fewer than 2 names pair in both systems)")
    p = sign_flip_test(d.tolist(), plan.permutations, plan.seed, "two-sided")
    draws = np.random.default_rng(plan.seed).integers(0, len(d), (max(plan.bootstrap, 2), len(d)))
    ci = bootstrap_test(point, d[draws].mean(axis=1), "two-sided", plan.confidence).ci if plan.bootstrap else None
    method = f"sign flips of {len(d)} name-paired differences, {plan.permutations} permutations"
    return PairTest(point, ci, p, method)


def _per_clip(system: SystemInput, key: str) -> dict:
    """Reference clip index -> the entry's value on that one pair (a paired metric is a mean over pairs)."""
    est = system.estimates[key]
    assert isinstance(est, Estimate) and est.replicate is not None
    replicate = est.replicate
    return {k: replicate(np.array([i]), np.array([i])) for i, k in enumerate(system.keys)}


def _reference(pooled: MetricInput, d: int) -> ReferenceGaussian:
    """The reference Gaussian of a Fréchet metric: factored from its rows (fewer than ``d``) or its moments."""
    if pooled.ref is None:
        assert pooled.ref_moments is not None
        return ReferenceGaussian(pooled.ref_moments.mean, pooled.ref_moments.cov())
    ref_rows = gather(pooled.ref).astype(np.float64)
    if len(ref_rows) < d:
        return ReferenceGaussian.from_rows(ref_rows)
    return ReferenceGaussian(ref_rows.mean(axis=0), np.cov(ref_rows, rowvar=False))


def _pooled_statistic(
    info: MetricInfo, key: str, pooled: MetricInput, seed: int
) -> Callable[[np.ndarray], float] | None:
    """``stat(clip indices into pooled.gen)``: the entry on a subset of pooled clips, the reference fixed;
    ``None`` when the entry cannot be recomputed on a subset."""
    rows = ClipRows(pooled.gen, "generated")
    d = rows.rows.shape[1]
    if info.compute == "fd:compute" and key == f"{info.name}_inf":  # FD∞ (--fd-inf): nested subsets, Gram path
        frechet = PooledFrechet(rows.rows, _reference(pooled, d))
        return lambda idx: frechet_infinity(lambda c: frechet(rows.row_index(c)), idx, seed)
    if info.compute == "fd:compute" and key == info.name and len(rows.rows) < d:
        frechet = PooledFrechet(rows.rows, _reference(pooled, d))
        return lambda idx: frechet(rows.row_index(idx))
    estimate = info.run(pooled).get(key)
    if not isinstance(estimate, Estimate) or estimate.replicate is None:
        return None
    if info.compute == "kad:compute" and len(rows.rows) <= MAX_POOLED_ROWS and pooled.ref is not None:
        kernel = PooledKernel(rows.rows, gather(pooled.ref), estimate.fields["bandwidth"], pooled.params["scale"])
        return lambda idx: kernel(rows.row_index(idx))
    replicate = estimate.replicate
    return lambda idx: replicate(idx, None)


__all__ = ["PairTest", "Plan", "SystemInput", "draw_indices", "pair_test", "replicates", "system_ci"]

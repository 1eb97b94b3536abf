"""Significance tests for metric differences: paired bootstrap, seeds t-test, permutation, Holm, Spearman.

Pure numpy (and :mod:`math`); nothing here knows about backbones, sweeps or folders, so ``sweep``
(sensitivity verdicts) and ``compare`` (system A against B) share one implementation. Conventions:

- ``alternative``: ``"greater"`` tests ``difference > 0``, ``"less"`` tests ``difference < 0``,
  ``"two-sided"`` tests ``difference != 0``. A caller turns "worse" into a sign with the metric
  registry: damage raises a ``lower_is_better`` metric (``"greater"``) and lowers the others (``"less"``).
- Bootstrap replicates of a *paired* difference must come from common random numbers: replicate ``b``
  of ``m(level)`` and of ``m(0)`` use the same clip indices (:func:`common_indices`), so the noise
  the two share cancels in ``m(level)* - m(0)*``.
- p-values are never 0: the bootstrap and t tests give continuous p-values; permutation tests count
  the observed arrangement as one of the permutations, ``p = (b + 1) / (m + 1)`` (Phipson & Smyth 2010).

See ``docs/statistics.md`` for what each test assumes and its calibration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from audiometric.errors import AudiometricError

ALTERNATIVES = ("greater", "less", "two-sided")


@dataclass(kw_only=True, frozen=True)
class TestResult:
    """One test of a difference: estimate, two-sided CI at ``confidence``, p-value, standard error, method."""

    difference: float
    ci: tuple[float, float]
    p_value: float
    standard_error: float
    method: str


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise AudiometricError(f"unknown alternative '{alternative}'; choose from: {', '.join(ALTERNATIVES)}")


def normal_sf(z: float) -> float:
    """Upper tail ``P(Z > z)`` of the standard normal distribution."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_quantile(q: float) -> float:
    """``z`` with ``P(Z <= z) = q`` (bisection on :func:`normal_sf`, to 1e-12)."""
    return _invert(lambda z: 1.0 - normal_sf(z), q)


def t_sf(t: float, df: int) -> float:
    """Upper tail ``P(T > t)`` of Student's t with integer ``df >= 1`` degrees of freedom.

    Closed forms of ``A(t|df) = P(|T| < t)`` by parity of ``df`` (Abramowitz & Stegun 1964, 26.7.3-4).
    """
    if df < 1:
        raise AudiometricError(f"Student's t needs at least 1 degree of freedom, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    term, total = 1.0, 1.0
    if df % 2 == 0:  # A = sin(theta) (1 + 1/2 c^2 + 1.3/(2.4) c^4 + ... up to c^(df-2))
        for k in range(2, df, 2):
            term *= c2 * (k - 1) / k
            total += term
        inside = s * total
    else:  # A = 2/pi (theta + sin cos (1 + 2/3 c^2 + 2.4/(3.5) c^4 + ... up to c^(df-3)))
        for k in range(3, df - 1, 2):
            term *= c2 * (k - 1) / k
            total += term
        inside = 2.0 / math.pi * (theta + (s * math.cos(theta) * total if df > 1 else 0.0))
    tail = 0.5 * (1.0 - min(1.0, inside))
    return tail if t >= 0 else 1.0 - tail


def t_quantile(q: float, df: int) -> float:
    """``t`` with ``P(T <= t) = q`` for Student's t with ``df`` degrees of freedom."""
    return _invert(lambda t: 1.0 - t_sf(t, df), q)


def _invert(cdf: Callable[[float], float], q: float) -> float:
    if not 0.0 < q < 1.0:
        raise AudiometricError(f"a quantile needs a probability strictly between 0 and 1, got {q}")
    low, high = -1.0, 1.0
    while cdf(low) > q:
        low *= 2.0
    while cdf(high) < q:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if cdf(mid) < q else (low, mid)
        if high - low < 1e-12 * max(1.0, abs(mid)):
            break
    return 0.5 * (low + high)


def _p_from_z(z: float, alternative: str, sf: Callable[[float], float]) -> float:
    _check_alternative(alternative)
    if alternative == "greater":
        return sf(z)
    if alternative == "less":
        return sf(-z)
    return min(1.0, 2.0 * sf(abs(z)))


def bootstrap_test(
    point: float, replicates: np.ndarray, alternative: str = "greater", confidence: float = 0.95
) -> TestResult:
    """Test a difference from its bootstrap replicates (common random numbers across the two sides).

    ``se`` is the standard deviation of the replicates; the statistic ``z = point / se`` is referred to
    the standard normal, and the CI is ``point ± z_(1-a/2) se`` (Efron & Tibshirani 1993, eq. 12.14 and
    ch. 16). Only the spread of the replicates is used, not their location: plug-in metrics (FD) are
    biased upward in resamples with repeated clips, and that bias must not count as a difference. The
    p-value has no floor at ``1/(B+1)``, so more replicates only sharpen ``se``; they never cost power.
    A zero spread gives ``p = 0`` for a nonzero difference in the tested direction, else 1.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if len(reps) < 2:
        raise AudiometricError(f"a bootstrap test needs at least 2 finite replicates, got {len(reps)}")
    se = float(np.std(reps, ddof=1))
    half = normal_quantile(0.5 + confidence / 2.0) * se
    p = _p_from_z(point / se, alternative, normal_sf) if se > 0 else _degenerate(point, alternative)
    return TestResult(
        difference=float(point),
        ci=(point - half, point + half),
        p_value=p,
        standard_error=se,
        method="paired bootstrap (normal, CRN)",
    )


def _degenerate(point: float, alternative: str) -> float:
    """p-value of a difference with zero spread: 0 when it lies in the tested direction, else 1."""
    _check_alternative(alternative)
    sure = {"greater": point > 0, "less": point < 0, "two-sided": point != 0}[alternative]
    return 0.0 if sure else 1.0


def seeds_test(differences: Sequence[float], alternative: str = "greater", confidence: float = 0.95) -> TestResult:
    """One-sample t-test of independent per-seed differences (Student 1908); needs 2 or more seeds.

    Assumes the seeds' differences are independent draws of one roughly normal distribution; with few
    seeds that is the only way to see the noise without a bootstrap, and the t tails (``df = n - 1``)
    pay for the uncertain spread.
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        raise AudiometricError(f"a test over seeds needs at least 2 seeds with values, got {len(d)}")
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    df = len(d) - 1
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    p = _p_from_z(mean / se, alternative, lambda t: t_sf(t, df)) if se > 0 else _degenerate(mean, alternative)
    return TestResult(
        difference=mean,
        ci=(mean - half, mean + half),
        p_value=p,
        standard_error=se,
        method=f"t-test over {len(d)} seeds",
    )


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order (reject where ``adjusted <= alpha``).

    Sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``; it controls the
    family-wise error rate for any dependence between the tests. NaN inputs stay NaN and do not count in ``m``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled) if m else scaled
    return out


def ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a))
    r[order] = np.arange(1, len(a) + 1)
    for value in np.unique(a):
        tied = a == value
        r[tied] = r[tied].mean()
    return r


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's (1904) rank correlation: Pearson's r of the average ranks; ``None`` when one side is constant."""
    rx, ry = ranks(x), ranks(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    rho = float(np.corrcoef(rx, ry)[0, 1])
    return round(rho, 12)  # 0.8999999999999998 from float ranks is 0.9


def common_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` clip indices drawn with replacement, one row per replicate, to be used at every level."""
    if n < 1 or n_boot < 1:
        raise AudiometricError(f"a bootstrap needs at least one clip and one replicate, got {n} and {n_boot}")
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def permutation_p_value(observed: float, null: np.ndarray, alternative: str = "greater") -> float:
    """``(b + 1) / (m + 1)``, ``b`` of the ``m`` permuted statistics at least as extreme (Phipson & Smyth 2010).

    ``two-sided`` compares absolute values (the statistic must be centred at 0 under the null).
    """
    _check_alternative(alternative)
    null = np.asarray(null, dtype=np.float64)
    if alternative == "greater":
        b = np.count_nonzero(null >= observed)
    elif alternative == "less":
        b = np.count_nonzero(null <= observed)
    else:
        b = np.count_nonzero(np.abs(null) >= abs(observed))
    return float((b + 1) / (len(null) + 1))


def exchanges(n_a: int, n_b: int, n_perm: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``n_perm`` random relabellings of the pooled clips ``0..n_a+n_b-1``: ``(new A indices, new B indices)``.

    For unpaired two-sample tests (Good 2005, ch. 3): under the null both systems' clips are exchangeable.
    """
    rng = np.random.default_rng(seed)
    for _ in range(n_perm):
        order = rng.permutation(n_a + n_b)
        yield order[:n_a], order[n_a:]


def sign_flips(n: int, n_perm: int, seed: int) -> np.ndarray:
    """``(n_perm, n)`` of ±1: which name pairs swap sides, for paired permutation tests (Good 2005, ch. 3)."""
    return np.where(np.random.default_rng(seed).random((n_perm, n)) < 0.5, -1.0, 1.0)


def sign_flip_test(
    differences: Sequence[float], n_perm: int = 1000, seed: int = 0, alternative: str = "greater"
) -> float:
    """Paired permutation p-value of the mean of per-pair ``differences`` (pairs swap sides under the null)."""
    d = np.asarray(differences, dtype=np.float64)
    null = sign_flips(len(d), n_perm, seed) @ d / len(d)
    return permutation_p_value(float(d.mean()), null, alternative)


__all__ = [
    "ALTERNATIVES",
    "TestResult",
    "bootstrap_test",
    "common_indices",
    "exchanges",
    "holm",
    "normal_quantile",
    "normal_sf",
    "permutation_p_value",
    "ranks",
    "seeds_test",
    "sign_flip_test",
    "sign_flips",
    "spearman",
    "t_quantile",
    "t_sf",
]

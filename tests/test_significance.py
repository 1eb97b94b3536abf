"""audiometric.metrics.significance: exact pieces against scipy, and calibration of the tests on synthetic data.

Calibration: under a null of zero effect the rejection rate at alpha = 0.05 over many trials must lie in
its binomial 99 % interval; a known shift must be found in at least 95 % of trials; and more bootstrap
replicates must never cost power (the p-value has no 1/(B+1) floor).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audiometric.errors import AudiometricError
from audiometric.metrics import significance as sig

ALPHA = 0.05
TRIALS = 400


def _binomial_99(trials: int, rate: float) -> tuple[float, float]:
    low, high = stats.binom.ppf([0.005, 0.995], trials, rate)
    return low / trials, high / trials


def _paired_trials(trials: int, n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip metric contributions of ``trials`` clean sets and their "corrupted" versions (same clips).

    The clean value of a clip varies a lot between clips (sd 1); the corruption adds ``shift`` plus a
    small clip-specific change (sd 0.2), so the paired difference has a far smaller spread than either side.
    """
    rng = np.random.default_rng(seed)
    clean = rng.normal(0.0, 1.0, (trials, n))
    return clean, clean + shift + rng.normal(0.0, 0.2, (trials, n))


def _bootstrap_p(clean: np.ndarray, damaged: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """p-values of the paired bootstrap test of mean(damaged) - mean(clean), one per trial (common indices)."""
    out = []
    for t in range(len(clean)):
        idx = sig.common_indices(clean.shape[1], n_boot, seed + t)
        reps = damaged[t][idx].mean(axis=1) - clean[t][idx].mean(axis=1)
        out.append(sig.bootstrap_test(damaged[t].mean() - clean[t].mean(), reps, "greater").p_value)
    return np.array(out)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 30])
def test_student_t_matches_scipy(df):
    for t in (-4.0, -1.0, 0.0, 0.3, 2.0, 9.0):
        assert sig.t_sf(t, df) == pytest.approx(stats.t.sf(t, df), abs=1e-12)
    assert sig.t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)
    assert sig.normal_quantile(0.975) == pytest.approx(stats.norm.ppf(0.975), rel=1e-9)


def test_holm_step_down():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x, then running maximum
    assert sig.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert sig.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    out = sig.holm([np.nan, 0.02])
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.02)  # NaN does not count in m


def test_spearman_matches_scipy_with_ties():
    x, y = [0, 1, 2, 3, 4], [1.0, 3.0, 3.0, 2.0, 7.0]
    assert sig.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert sig.spearman(x, [2.0] * 5) is None
    assert sig.spearman([0, 1, 2], [0.1, 0.2, 0.30000000000000004]) == 1.0


def test_permutation_p_value_counts_the_observed_arrangement():
    null = np.array([0.0, 1.0, 2.0, 3.0])
    assert sig.permutation_p_value(2.5, null) == pytest.approx(2 / 5)
    assert sig.permutation_p_value(9.0, null) == pytest.approx(1 / 5)  # never 0
    assert sig.permutation_p_value(-2.5, null - 1.5, "two-sided") == pytest.approx(1 / 5)
    with pytest.raises(AudiometricError, match="alternative"):
        sig.permutation_p_value(1.0, null, "bigger")


def test_exchanges_and_sign_flips_are_seeded_relabellings():
    a, b = next(sig.exchanges(3, 4, 1, seed=1))
    assert sorted(np.concatenate([a, b]).tolist()) == list(range(7)) and len(a) == 3
    flips = sig.sign_flips(5, 2000, seed=2)
    assert set(np.unique(flips)) == {-1.0, 1.0} and abs(flips.mean()) < 0.05
    assert np.array_equal(flips, sig.sign_flips(5, 2000, seed=2))


def test_degenerate_spread_and_too_few_values():
    assert sig.bootstrap_test(1.0, np.ones(10), "greater").p_value == 0.0
    assert sig.bootstrap_test(1.0, np.ones(10), "less").p_value == 1.0
    assert sig.seeds_test([2.0, 2.0, 2.0], "greater").p_value == 0.0
    with pytest.raises(AudiometricError, match="2 seeds"):
        sig.seeds_test([1.0])


def test_bootstrap_null_rejection_rate_is_calibrated():
    clean, damaged = _paired_trials(TRIALS, 40, 0.0, seed=10)
    rate = np.mean(_bootstrap_p(clean, damaged, 200, seed=0) <= ALPHA)
    low, high = _binomial_99(TRIALS, ALPHA)
    assert low <= rate <= high, rate


def test_seeds_null_rejection_rate_is_calibrated():
    rng = np.random.default_rng(11)
    p = np.array([sig.seeds_test(rng.normal(0.0, 1.0, 3), "greater").p_value for _ in range(TRIALS)])
    low, high = _binomial_99(TRIALS, ALPHA)
    assert low <= np.mean(p <= ALPHA) <= high
    assert stats.kstest(p, "uniform").pvalue > 0.001  # the null p-values are uniform


def test_power_at_the_documented_effect_size():
    # docs/statistics.md: a shift of 4 standard errors of the paired difference (0.2 / sqrt(n) per clip)
    n = 40
    clean, damaged = _paired_trials(TRIALS, n, 4 * 0.2 / np.sqrt(n), seed=12)
    assert np.mean(_bootstrap_p(clean, damaged, 200, seed=0) <= ALPHA) >= 0.95
    rng = np.random.default_rng(13)  # seeds: 5 seeds, shift of 4 standard deviations of a seed's difference
    p = [sig.seeds_test(rng.normal(4.0, 1.0, 5), "greater").p_value for _ in range(TRIALS)]
    assert np.mean(np.array(p) <= ALPHA) >= 0.95


def test_more_replicates_never_cost_power():
    n, trials = 30, 200
    clean, damaged = _paired_trials(trials, n, 2.5 * 0.2 / np.sqrt(n), seed=14)  # near the detection limit
    power = {b: np.mean(_bootstrap_p(clean, damaged, b, seed=0) <= ALPHA) for b in (20, 50, 200, 800)}
    tolerance = 3 * np.sqrt(0.25 / trials)  # Monte Carlo noise of a rate
    assert all(power[b] >= power[20] - tolerance for b in power), power
    # with Holm over 5 levels a count-based p = (b+1)/(B+1) could not go below 5/51 at B = 50; this one can
    strong = _bootstrap_p(*_paired_trials(1, n, 10 * 0.2 / np.sqrt(n), seed=15), 50, seed=0)
    assert sig.holm([strong[0], 0.5, 0.5, 0.5, 0.5])[0] <= ALPHA

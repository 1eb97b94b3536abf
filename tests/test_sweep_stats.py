"""The sweep's paired level test on synthetic embeddings: calibration, replicates and power, the summary's rules.

No backbone runs here: clips are Gaussian rows, and each "cell" is what the sweep computes from them (the
metric's value, its bootstrap values with the draws seeded by the seed, and the swap test's null).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audiometric.metrics import METRICS, MetricInput
from audiometric.metrics.bootstrap import draw_replicates
from audiometric.sweep.summary import CellStats, markdown, verdict
from audiometric.sweep.swap import swap_deltas

ALPHA = 0.05


def _input(metric: str, gen: np.ndarray, ref: np.ndarray) -> MetricInput:
    clips = [row[None] for row in gen]
    return MetricInput(
        name=metric,
        gen=clips,
        ref=[r[None] for r in ref],
        ref_moments=None,
        n_reference=len(ref),
        params=METRICS[metric].defaults,
    )


def _cells(
    metric: str,
    clean: np.ndarray,
    damaged: dict[float, np.ndarray],
    ref: np.ndarray,
    seed: int,
    n_boot: int,
    n_perm: int,
) -> tuple[list[dict], CellStats]:
    """results.csv rows and cell statistics of one seed: level 0 is ``clean``, level L is ``damaged[L]``."""
    rows, cell = [], CellStats()
    for level, gen in {0.0: clean, **damaged}.items():
        estimate = METRICS[metric].run(_input(metric, gen, ref))[metric]
        rows.append({"metric": metric, "better": "lower", "level": level, "seed": seed, "value": estimate.value})
        if n_boot:
            reps = draw_replicates({metric: estimate.replicate}, len(gen), len(ref), n_boot, seed)[metric]
            cell.replicates[(metric, level, seed)] = reps
        if level and n_perm:
            swap = swap_deltas(METRICS[metric], _input(metric, clean, ref), _input(metric, gen, ref), n_perm, seed)
            cell.swaps[(metric, level, seed)] = (swap[metric]["observed"], np.asarray(swap[metric]["null"]))
    return rows, cell


def _merge(parts: list[tuple[list[dict], CellStats]]) -> tuple[list[dict], CellStats]:
    rows, merged = [], CellStats()
    for r, c in parts:
        rows += r
        merged.replicates.update(c.replicates)
        merged.swaps.update(c.swaps)
    return rows, merged


def _binomial_99(trials: int, rate: float) -> tuple[float, float]:
    low, high = stats.binom.ppf([0.005, 0.995], trials, rate)
    return low / trials, high / trials


@pytest.mark.parametrize("metric", ["fd", "kad"])
def test_level_test_is_calibrated_under_a_zero_effect_corruption(metric):
    # the "corruption" replaces every clip by a fresh draw of the same distribution: zero effect on any metric;
    # 19 swaps make p <= 0.05 exactly when the observed Δ is the largest of 20, so the null rate is 0.05 exactly
    trials, n = 200, 10
    p = []
    for t in range(trials):
        rng = np.random.default_rng(100 + t)
        clean, ref, fresh = (rng.normal(size=(n, 2)) for _ in range(3))
        rows, cell = _cells(metric, clean, {1.0: fresh}, ref, seed=t, n_boot=0, n_perm=19)
        p.append(verdict(rows, cell)["levels"][0]["p_value"])
    low, high = _binomial_99(trials, ALPHA)
    assert low <= np.mean(np.array(p) <= ALPHA) <= high


def test_more_replicates_never_reduce_detection_power():
    # three levels of a mean shift, two seeds; the same cells summarised with 0, 20 and 200 bootstrap replicates
    rng = np.random.default_rng(5)
    n = 16
    ref = rng.normal(size=(n, 3))
    results = {}
    for n_boot in (0, 20, 200):
        parts = []
        for seed in range(2):
            clean = np.random.default_rng(seed).normal(size=(n, 3))
            noise = np.random.default_rng(seed + 10).normal(size=(n, 3))
            damaged = {lv: clean + lv * noise + lv for lv in (0.1, 0.5, 1.0)}
            parts.append(_cells("fd", clean, damaged, ref, seed, n_boot, 99))
        results[n_boot] = verdict(*_merge(parts))
    assert results[0]["detects"] and results[0]["threshold"] is not None
    for n_boot in (20, 200):
        r = results[n_boot]
        assert (r["detects"], r["threshold"]) == (results[0]["detects"], results[0]["threshold"])
        assert [t["p_adjusted"] for t in r["levels"]] == [t["p_adjusted"] for t in results[0]["levels"]]
        assert all(t["ci"][0] < t["difference"] < t["ci"][1] for t in r["levels"])
    assert "bootstrap" in results[200]["test"] and "bootstrap" not in results[0]["test"]


def test_the_paired_test_sees_what_the_marginal_band_missed():
    # the clean values vary a lot between seeds (halves), the damage adds a small, consistent amount:
    # every level-0 band overlaps every level, yet Δ is positive in every seed
    rows = [
        {"metric": "m", "better": "lower", "level": lv, "seed": s, "value": base + 0.5 * lv}
        for s, base in enumerate((10.0, 30.0, 20.0))
        for lv in (0.0, 1.0, 2.0)
    ]
    rows += [
        {"metric": "m", "better": "lower", "level": 3.0, "seed": s, "value": base + 1.4}
        for s, base in enumerate((10.0, 30.0, 20.0))
    ]
    r = verdict(rows, CellStats())
    assert [t["difference"] for t in r["levels"]] == pytest.approx([0.5, 1.0, 1.4])
    assert r["rho"] == 1.0 and r["detects"] and r["threshold"] == 1.0  # seeds' t: zero spread, p = 0
    # the same rises for a higher-is-better metric mean "better": no detection, p near 1
    up = verdict([{**x, "better": "higher"} for x in rows], CellStats())
    assert not up["detects"] and up["threshold"] is None and all(t["p_value"] == 1.0 for t in up["levels"])


def test_threshold_is_the_lowest_level_detected_after_holm():
    rows, cell = [], CellStats()
    for s in range(2):
        rows += [{"metric": "m", "better": "lower", "level": lv, "seed": s, "value": lv} for lv in (0.0, 1.0, 2.0)]
        null = np.linspace(-1.0, 1.0, 99)
        cell.swaps[("m", 1.0, s)] = (0.9, null)  # about 5 % of the null at or above: not detected after Holm
        cell.swaps[("m", 2.0, s)] = (5.0, null)  # beyond every swap: p = 1/100
    r = verdict(rows, cell)
    low, high = r["levels"]
    assert high["p_value"] == pytest.approx(0.01) and high["p_adjusted"] == pytest.approx(0.02)
    assert low["p_adjusted"] > ALPHA and r["threshold"] == 2.0 and r["detects"]
    assert "swap" in r["test"]


def test_one_seed_without_bootstrap_or_swaps_has_no_test():
    rows = [{"metric": "m", "better": "lower", "level": lv, "seed": 0, "value": lv} for lv in (0.0, 1.0)]
    r = verdict(rows, CellStats())
    assert not r["detects"] and r["levels"][0]["p_value"] is None and "--bootstrap" in r["reason"]


def test_relative_change_only_where_the_baseline_is_positive_beyond_its_noise():
    def summary(zero: list[float], top: list[float], sd: float | None) -> dict:
        rows = [{"metric": "kad", "better": "lower", "level": 0.0, "seed": s, "value": v} for s, v in enumerate(zero)]
        rows += [{"metric": "kad", "better": "lower", "level": 1.0, "seed": s, "value": v} for s, v in enumerate(top)]
        return verdict(rows, CellStats(), sd=sd, n=6)

    negative = summary([-0.02, -0.01], [0.5, 0.6], sd=0.05)  # the +4871 % of issue 14 item 13
    assert negative["change"]["relative"] is None and negative["change"]["absolute"] == pytest.approx(0.565)
    within = summary([0.05, 0.07], [0.5, 0.6], sd=0.05)  # positive, but inside 1.96 sd of two clean draws
    assert within["change"]["relative"] is None
    clear = summary([1.0, 1.2], [2.0, 2.2], sd=0.05)
    assert clear["change"]["relative"] == pytest.approx(1.0 / 1.1)
    text = markdown("t", {"kad": negative, "fd": clear}, [])
    assert (
        "| kad | lower | 1.00 | +0.565 |" in text
        and "(+90.9 %)" in text
        and "%" not in text.split("| kad |")[1].split("\n")[0]
    )
    # practical side: Δ against the spread of two clean draws, "visible" beyond 1.96 sqrt(2) sd
    assert clear["levels"][0]["effect_vs_clean_spread"] == pytest.approx(1.0 / 0.05)
    assert clear["levels"][0]["visible"] is True
    assert summary([1.0, 1.2], [1.05, 1.25], sd=0.05)["levels"][0]["visible"] is False

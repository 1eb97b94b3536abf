"""The metric registry and the shared pipeline rules: plug-ins, not-computable rules, bootstrap, notes, FD∞."""

from __future__ import annotations

import re
import sys
import types
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import audiometric.scoring.compute as evaluate
from audiometric.extraction.clipset import ClipSet
from audiometric.extraction.extract import Clip, Extraction
from audiometric.metrics import METRICS, Estimate, MetricInfo, MetricWarning, frechet_distance
from audiometric.metrics import density as density_module
from audiometric.metrics import kid as kid_module
from audiometric.metrics.moments import MomentAccumulator
from audiometric.metrics.protocol import gather
from audiometric.scoring.reference import ReferenceStats


def clip_set(
    arrays: list[np.ndarray], names: list[str] | None = None, logits: list[np.ndarray] | None = None
) -> ClipSet:
    """A ClipSet of backbone ``toy`` with the given per-clip embeddings (and logits)."""
    clips = []
    for i, emb in enumerate(arrays):
        outputs = {"embedding": emb, "logits": logits[i] if logits is not None else emb[:, :3]}
        clips.append(
            Clip(
                index=i,
                path=f"/set/{names[i] if names else f'c{i:03d}.wav'}",
                sha256="x",
                sample_rate=16000,
                channels=1,
                seconds=1.0,
                outputs={"toy": outputs},
            )
        )
    return ClipSet("/set", len(clips), Extraction(clips=clips, skipped=[]))


def settings(*metrics: str, **kw) -> evaluate.Settings:
    return evaluate.Settings(metrics=tuple(metrics), backbone="toy", fad_backbone="toy", **kw)


def rows(rng: np.random.Generator, n: int, d: int, shift: float = 0.0, frames: int = 1) -> list[np.ndarray]:
    return [rng.standard_normal((frames, d)) + shift for _ in range(n)]


def stats_file(clips: list[np.ndarray]) -> ReferenceStats:
    acc = MomentAccumulator(clips[0].shape[1]).update(np.concatenate(clips))
    return ReferenceStats("ref.npz", {"toy:embedding": acc}, {"clips": len(clips)})


# ------------------------------------------------------------------------------------- the registry
def test_every_entry_has_metadata_and_a_compute_function() -> None:
    import importlib

    for name, info in METRICS.items():
        assert info.name == name and info.output in ("embedding", "logits") and info.source
        assert isinstance(info.lower_is_better, bool) and isinstance(info.defined_on, tuple)
        module, func = info.compute.split(":")
        assert callable(getattr(importlib.import_module(f"audiometric.metrics.{module}"), func))
        assert info.reference in ("none", "moments", "clips", "captions") and info.estimator in ("plug-in", "unbiased")


def test_evaluate_has_no_per_metric_branches() -> None:
    source = Path(evaluate.__file__).read_text()
    for name in [*METRICS, "kl_softmax", "fd_inf"]:
        assert not re.search(rf"[\"']{name}[\"']", source), f"evaluate.py names metric {name!r}"


def test_a_new_metric_is_one_module_and_one_registry_line(monkeypatch) -> None:
    module = types.ModuleType("am_plugin.shift")

    def compute(data):  # squared distance between the set means, resampled through the shared bootstrap
        def value(g_idx, r_idx):
            return float(np.sum((gather(data.gen, g_idx).mean(0) - gather(data.ref, r_idx).mean(0)) ** 2))

        return {data.name: Estimate(value(None, None), {"extra": 1}, value)}

    module.compute = compute
    monkeypatch.setitem(sys.modules, "am_plugin.shift", module)
    info = MetricInfo(
        name="shift",
        label="SHIFT",
        unit="squared embedding units",
        output="embedding",
        lower_is_better=True,
        defined_on=(),
        source="test",
        compute="am_plugin.shift:compute",
    )
    monkeypatch.setitem(METRICS, "shift", info)
    rng = np.random.default_rng(0)
    gen, ref = rows(rng, 30, 4, 0.5, frames=2), rows(rng, 25, 4, frames=2)
    values, skipped = evaluate.compute(settings("shift", bootstrap=50, seed=3), clip_set(gen), clip_set(ref), None)
    entry = values["shift"]
    direct = float(np.sum((np.concatenate(gen).mean(0) - np.concatenate(ref).mean(0)) ** 2))
    assert entry["value"] == pytest.approx(direct, rel=1e-12) and entry["extra"] == 1 and not skipped
    assert entry["n_generated"] == 30 and entry["n_reference"] == 25 and entry["better"] == "lower"
    # the shared draws: generated then reference clip indices per replicate, default_rng(seed)
    draw = np.random.default_rng(3)
    reps = []
    for _ in range(50):
        g, r = draw.integers(0, 30, 30), draw.integers(0, 25, 25)
        reps.append(
            np.sum((np.concatenate([gen[i] for i in g]).mean(0) - np.concatenate([ref[j] for j in r]).mean(0)) ** 2)
        )
    assert entry["ci"] == pytest.approx(list(np.quantile(reps, [0.025, 0.975])), rel=1e-12)
    assert entry["bootstrap_bias"] == pytest.approx(np.mean(reps) - direct, rel=1e-9)
    # shared not-computable rules
    _, skipped = evaluate.compute(settings("shift"), clip_set(gen), clip_set([ref[0][:1]]), None)
    assert "at least 2 rows" in skipped["shift"] and "reference set gives 1" in skipped["shift"]
    _, skipped = evaluate.compute(settings("shift"), clip_set(gen), None, stats_file(ref))
    assert "per-clip reference" in skipped["shift"]


# ------------------------------------------------------------------------------- KID and density
def _kid_numpy(x: np.ndarray, y: np.ndarray, subsets: int, size: int, seed: int) -> tuple[float, float]:
    """KID written out with loops over pairs (Bińkowski et al. 2018), audioldm_eval's subset draws."""
    rng = np.random.RandomState(seed)
    size = min(size, len(x), len(y))
    out = []
    for _ in range(subsets):
        a, b = x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)]
        k = lambda u, v: (u @ v / x.shape[1] + 1.0) ** 3  # noqa: E731
        xx = sum(k(a[i], a[j]) for i in range(size) for j in range(size) if i != j) / (size * (size - 1))
        yy = sum(k(b[i], b[j]) for i in range(size) for j in range(size) if i != j) / (size * (size - 1))
        xy = sum(k(a[i], b[j]) for i in range(size) for j in range(size)) / size**2
        out.append(xx + yy - 2 * xy)
    return float(np.mean(out)), float(np.std(out))


@pytest.mark.parametrize("full_kernels", [True, False])
def test_kid_matches_a_direct_computation(monkeypatch, full_kernels: bool) -> None:
    if not full_kernels:
        monkeypatch.setattr(kid_module, "_FULL_KERNEL_MAX", 0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((23, 6)) + 0.4, rng.standard_normal((19, 6))
    got = kid_module.kernel_inception_distance(x, y, subsets=7, subset_size=12, seed=5)
    assert got == pytest.approx(_kid_numpy(x, y, 7, 12, 5), rel=1e-10)
    mean, std = kid_module.kernel_inception_distance(x, y, subsets=3)  # size clamped to 19: all reference rows
    assert (mean, std) == pytest.approx(_kid_numpy(x, y, 3, 19, 2020), rel=1e-10)


def test_kid_through_the_pipeline_reports_mean_and_std_and_is_unbiased() -> None:
    rng = np.random.default_rng(2)
    same_a, same_b = rows(rng, 15, 5), rows(rng, 14, 5)
    values, _ = evaluate.compute(settings("kid"), clip_set(same_a), clip_set(same_b), None)
    expect = _kid_numpy(np.concatenate(same_a), np.concatenate(same_b), 100, 1000, 2020)
    assert (values["kid"]["value"], values["kid"]["std"]) == pytest.approx(expect, rel=1e-9, abs=1e-12)
    far, _ = evaluate.compute(settings("kid"), clip_set(rows(rng, 15, 5, 1.0)), clip_set(same_b), None)
    assert far["kid"]["value"] > 10 * abs(values["kid"]["value"])


def _density_coverage_numpy(gen: np.ndarray, ref: np.ndarray, k: int) -> tuple[float, float]:
    """Naeem et al. (2020), eqs. 3-4, with scipy distances and a full sort."""
    within = cdist(ref, ref)
    radii = np.sort(within, axis=1)[:, k]  # column 0 is the row itself
    cross = cdist(ref, gen)
    density = (cross < radii[:, None]).sum() / (k * len(gen))
    coverage = (cross.min(axis=1) < radii).mean()
    return float(density), float(coverage)


def test_density_coverage_match_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((60, 4)) * 2 + 100.0  # an offset the Gram identity must survive
    for gen in (rng.standard_normal((45, 4)) * 2 + 100.0, rng.standard_normal((45, 4)) * 0.5 + 100.0):
        for k in (1, 5):
            got = density_module.density_coverage(gen, ref, k=k)
            assert got == pytest.approx(_density_coverage_numpy(gen, ref, k), rel=1e-12)
    collapsed = rng.standard_normal((45, 4)) * 0.05 + 100.0  # mode collapse: coverage drops
    assert density_module.density_coverage(collapsed, ref)[1] < 0.3


def test_density_coverage_pipeline_bootstrap_keeps_the_reference_balls(monkeypatch) -> None:
    rng = np.random.default_rng(4)
    gen, ref = rows(rng, 30, 3), rows(rng, 35, 3)
    args = (settings("density_coverage", bootstrap=20, seed=1), clip_set(gen), clip_set(ref), None)
    values, _ = evaluate.compute(*args)
    direct = _density_coverage_numpy(np.concatenate(gen), np.concatenate(ref), 5)
    assert (values["density"]["value"], values["coverage"]["value"]) == pytest.approx(direct, rel=1e-12)
    assert "reference clips stay fixed" in values["density"]["resampled"]
    monkeypatch.setattr(density_module, "_KEEP_BALLS_MAX", 0)  # replicates recompute distances instead
    again, _ = evaluate.compute(*args)
    assert again["coverage"]["ci"] == pytest.approx(values["coverage"]["ci"], rel=1e-12)
    draw = np.random.default_rng(1)
    reps = [
        _density_coverage_numpy(np.concatenate([gen[i] for i in draw.integers(0, 30, 30)]), np.concatenate(ref), 5)[0]
        for _ in range(20)
    ]
    assert values["density"]["ci"] == pytest.approx(list(np.quantile(reps, [0.025, 0.975])), rel=1e-12)


# --------------------------------------------------------------------- statistics-file reference
def test_bootstrap_against_a_statistics_file_resamples_generated_clips_only() -> None:
    rng = np.random.default_rng(5)
    gen, ref = rows(rng, 40, 3, 0.3, frames=3), rows(rng, 50, 3, frames=3)
    values, skipped = evaluate.compute(settings("fd", bootstrap=25, seed=2), clip_set(gen), None, stats_file(ref))
    fd = values["fd"]
    assert "ci" in fd and "reference statistics" in fd["resampled"] and not skipped
    with_clips, _ = evaluate.compute(settings("fd"), clip_set(gen), clip_set(ref), None)
    assert fd["value"] == pytest.approx(with_clips["fd"]["value"], rel=1e-10)
    assert fd["n_reference"] == 50 and fd["rows_reference"] == 150  # clips, not rows
    ref_rows = np.concatenate(ref)
    mu, sigma = ref_rows.mean(0), np.cov(ref_rows, rowvar=False)
    draw = np.random.default_rng(2)
    reps = []
    for _ in range(25):
        g = np.concatenate([gen[i] for i in draw.integers(0, 40, 40)])
        reps.append(frechet_distance(g.mean(0), np.cov(g, rowvar=False), mu, sigma))
    assert fd["ci"] == pytest.approx(list(np.quantile(reps, [0.025, 0.975])), rel=1e-9)


# ------------------------------------------------------------------------- intervals and notes
def test_basic_interval_and_the_note_when_the_point_lies_outside_its_percentile_interval() -> None:
    rng = np.random.default_rng(6)
    gen, ref = rows(rng, 12, 6), rows(rng, 12, 6)  # one distribution, few clips: FD's upward bias dominates
    args = (clip_set(gen), clip_set(ref), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        pct, _ = evaluate.compute(settings("fd", bootstrap=40), *args)
        basic, _ = evaluate.compute(settings("fd", bootstrap=40, ci_method="basic"), *args)
    value, (lo, hi) = pct["fd"]["value"], pct["fd"]["ci"]
    assert value < lo and pct["fd"]["ci_method"] == "percentile" and pct["fd"]["bootstrap_bias"] > 0
    assert "outside its percentile bootstrap interval" in pct["fd"]["note"] and "small-N" in pct["fd"]["note"]
    assert basic["fd"]["ci"] == pytest.approx([2 * value - hi, 2 * value - lo], rel=1e-12)
    assert basic["fd"]["ci_method"] == "basic" and "(the CI shown)" in basic["fd"]["note"]


def test_negative_unbiased_estimate_is_explained() -> None:
    rng = np.random.default_rng(7)
    for seed in range(20):  # find same-distribution sets whose KAD comes out below 0
        gen, ref = rows(np.random.default_rng(seed), 4, 3), rows(rng, 4, 3)
        values, _ = evaluate.compute(settings("kad"), clip_set(gen), clip_set(ref), None)
        if values["kad"]["value"] < 0:
            break
    assert (
        values["kad"]["value"] < 0
        and "sampling noise" in values["kad"]["note"]
        and "4 generated" in values["kad"]["note"]
    )


# ------------------------------------------------------------------------------------ KL pairing
def test_kl_pairs_by_stem_when_only_extensions_differ_and_says_so() -> None:
    rng = np.random.default_rng(8)
    logits = [rng.standard_normal((1, 4)) for _ in range(6)]
    emb = rows(rng, 6, 3)
    gen = clip_set(emb, [f"{i}.wav" for i in range(6)], logits)
    ref = clip_set(emb, [f"{i}.flac" for i in range(6)], logits)
    values, skipped = evaluate.compute(settings("kl"), gen, ref, None)
    assert not skipped and values["kl_softmax"]["n_pairs"] == 6 and abs(values["kl_softmax"]["value"]) < 1e-5
    assert "paired by file stem" in values["kl_softmax"]["note"]


# ---------------------------------------------------------------------------------------- FD∞
def test_fd_infinity_equals_per_subset_frechet_and_warns_once(monkeypatch) -> None:
    from audiometric.metrics import extrapolated

    rng = np.random.default_rng(9)
    d = 24
    gen = [rng.standard_normal((1, d)) + 0.2 for _ in range(40)]  # 20..40 rows <= d at the small end
    ref = rng.standard_normal((300, d))
    mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
    ticks = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = extrapolated.fd_infinity(gen, mu, sigma, seed=4, progress=lambda: ticks.append(1))
    assert sum("N <= d" in str(w.message) for w in caught) == 1 and len(ticks) == len(fit.points)
    draw = np.random.default_rng(4)
    for size, n_rows, value in fit.points:
        sub = np.concatenate([gen[i] for i in draw.choice(40, size, replace=False)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            direct = frechet_distance(sub.mean(0), np.cov(sub, rowvar=False), mu, sigma)
        assert n_rows == size and value == pytest.approx(direct, rel=1e-9)


def test_untrustworthy_fd_infinity_is_flagged(monkeypatch) -> None:
    from audiometric.metrics import extrapolated
    from audiometric.metrics import fd as fd_module

    fit = extrapolated.Extrapolation(-0.5, 30.0, 0.4, [(10, 10, 2.0), (20, 20, 1.0)])
    assert "R^2 = 0.400 < 0.95" in extrapolated.fit_problem(fit) and "negative intercept" in extrapolated.fit_problem(
        fit
    )
    assert extrapolated.fit_problem(fit._replace(intercept=0.1, r2=0.99)) == ""
    monkeypatch.setattr(fd_module, "fd_infinity", lambda *a, **k: fit)
    rng = np.random.default_rng(10)
    values, _ = evaluate.compute(
        settings("fd", fd_inf=True), clip_set(rows(rng, 30, 4)), clip_set(rows(rng, 30, 4)), None
    )
    inf = values["fd_inf"]
    assert inf["value"] == -0.5 and inf["slope"] == 30.0 and inf["r2"] == 0.4 and inf["trusted"] is False
    assert "untrustworthy fit" in inf["note"] and inf["min_r2"] == extrapolated.MIN_R2


def test_every_metric_fact_is_read_from_the_registry(monkeypatch) -> None:
    """Labels, stats-file support, per-clip support and defaults follow the entry, with no second list."""
    from audiometric.api import stats_metrics
    from audiometric.metrics import entry_labels
    from audiometric.scoring.per_clip import per_clip_metrics
    from audiometric.scoring.report import table

    assert stats_metrics() == ("fd", "fad") and per_clip_metrics() == ("fd", "fad", "kl")
    assert entry_labels()["fd_inf"] == "FD∞" and entry_labels()["kl_sigmoid"] == "KL (sigmoid)"
    new = MetricInfo(
        name="wide",
        label="WIDE",
        unit="test",
        output="embedding",
        lower_is_better=False,
        defined_on=(),
        source="test",
        reference="moments",
        per_clip=True,
        defaults={"k": 3},
    )
    monkeypatch.setitem(METRICS, "wide", new)
    assert "wide" in stats_metrics() and "wide" in per_clip_metrics() and entry_labels()["wide"] == "WIDE"
    assert new.better == "higher" and new.stats_file
    result = {
        "audiometric": "x",
        "generated": {"scored": 1, "skipped": []},
        "reference": {"scored": 1, "skipped": []},
        "settings": {"confidence": 0.95, "ci_method": "percentile"},
        "metrics": {"wide": {"value": 1.0, "backbone": "b", "better": "higher"}},
        "not_computed": {},
    }
    assert "WIDE" in table(result)
    # IS's splits: the sweep's size check reads the registry default
    monkeypatch.setitem(METRICS, "is", replace(METRICS["is"], defaults={"splits": 4, "seed": 2020}))
    assert METRICS["is"].defaults["splits"] == 4

"""Calibration of ``compare``'s tests: under the null the rejection rate at alpha = 0.05 lies in its binomial 99 %
interval over 200 trials; a known mean shift is detected in at least 95 % of trials (the effect size of
docs/statistics.md); on real clips (aiSFX on the bundled example) halves of one folder do not differ and noise does.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from audiometric.metrics import METRICS, MetricInput
from audiometric.scoring.compare_stats import Plan, SystemInput, pair_test

ROOT = Path(__file__).resolve().parents[1]
TRIALS, ALPHA = 200, 0.05
#: binomial(200, 0.05): P(X <= 2) + P(X >= 20) < 1 %, so [3, 19] is a 99 % interval for the count of rejections
NULL_COUNTS = (3, 19)
PLAN = Plan(permutations=99, bootstrap=0, seed=0)


def _system(metric: str, clips: np.ndarray, ref: np.ndarray) -> SystemInput:
    """A system's input from rows ``(n, d)`` (one row per clip); paired metrics pair clip i with reference clip i."""
    data = MetricInput(
        name=metric,
        gen=[row[None] for row in clips],
        ref=[row[None] for row in ref],
        ref_moments=None,
        n_reference=len(ref),
        params=METRICS[metric].defaults,
    )
    keys = list(range(len(clips))) if METRICS[metric].paired else [f"clip{i}" for i in range(len(clips))]
    return SystemInput(data, METRICS[metric].run(data), keys)


def _p(metric: str, key: str, a: np.ndarray, b: np.ndarray, ref: np.ndarray, seed: int) -> float:
    plan = Plan(permutations=PLAN.permutations, bootstrap=0, seed=seed)
    test = pair_test(METRICS[metric], key, _system(metric, a, ref), _system(metric, b, ref), (None, None), plan)
    assert test.p_value is not None
    return test.p_value


@pytest.mark.parametrize(("metric", "key", "d"), [("fd", "fd", 32), ("kad", "kad", 4), ("kl", "kl_softmax", 4)])
def test_null_rejection_rate_is_nominal(metric: str, key: str, d: int) -> None:
    """Two systems drawn from one Gaussian: rejections at alpha 0.05 within the binomial 99 % interval
    (FD at d = 32 > 2N takes the sample-space Gram path that compare uses at Cnn14's d = 2048)."""
    rng = np.random.default_rng(10)
    n = 12
    p = []
    for t in range(TRIALS):
        a, b, ref = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d))
        p.append(_p(metric, key, a, b, ref, t))
    rejected = int(np.sum(np.array(p) <= ALPHA))
    assert NULL_COUNTS[0] <= rejected <= NULL_COUNTS[1], rejected
    # uniform p-values: each half of [0, 1] holds about half of them (binomial 99 %: 82..118 of 200)
    assert 82 <= int(np.sum(np.array(p) <= 0.5)) <= 118


@pytest.mark.parametrize(("metric", "key", "n"), [("fd", "fd", 12), ("kad", "kad", 12), ("kl", "kl_softmax", 40)])
def test_power_at_the_documented_effect_size(metric: str, key: str, n: int) -> None:
    """A mean shift of 1.5 standard deviations on every dimension (alternating in sign, so softmax sees it too),
    12 clips per system (KL, a per-pair score between independent draws: 40 pairs): detected in >= 95 % of trials."""
    rng = np.random.default_rng(11)
    d, trials = 4, 40
    detected = 0
    for t in range(trials):
        a, ref = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        b = rng.normal(size=(n, d)) + 1.5 * (-1.0) ** np.arange(d)
        detected += _p(metric, key, a, b, ref, t) <= ALPHA
    assert detected >= 0.95 * trials, detected


def _example(folder: Path, seed: int) -> Path:
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_set(folder, seed=seed, dull=0.0, noise=0.01)
    return folder


def test_real_clips_halves_do_not_differ_and_noise_does(tmp_path) -> None:
    """aiSFX on the bundled example: random halves of one folder do not differ (compare), and over 200 random
    splits their permutation p-values are uniform; the folder against its noisy copy (`audiometric corrupt`, 10 dB SNR) differs on FD, CI of Δ above 0."""
    import audiometric
    from audiometric.cli import main

    torch.set_num_threads(1)
    clean, ref = _example(tmp_path / "clean", 0), _example(tmp_path / "ref", 1)
    made = CliRunner().invoke(
        main, ["corrupt", str(clean), str(tmp_path / "noisy"), "-c", "gaussian_noise", "--severity", "0.1"]
    )
    assert made.exit_code == 0, made.output
    options = {"backbone": "aisfx", "device": "cpu", "workers": 0, "progress": False}
    result = audiometric.compare([clean, tmp_path / "noisy"], ref, "fd,kad", **options)
    fd = result["pairs"][0]["metrics"]["fd"]
    assert fd["significant"] and fd["ci"][0] > 0, fd
    files = sorted(clean.glob("*.wav"))
    for i, k in enumerate(np.random.default_rng(0).permutation(len(files))):  # two random halves of one folder
        half = tmp_path / f"half{i % 2}"
        half.mkdir(exist_ok=True)
        shutil.copy(files[k], half / files[k].name)
    halves = audiometric.compare([tmp_path / "half0", tmp_path / "half1"], ref, "fd,kad", **options)
    assert not any(entry["significant"] for entry in halves["pairs"][0]["metrics"].values()), halves["pairs"]
    embedded = audiometric.embed(clean, backbones=["aisfx"], progress=False, workers=0, device="cpu")
    rows = embedded["aisfx:embedding"]
    ref_rows = audiometric.embed(ref, backbones=["aisfx"], progress=False, workers=0, device="cpu")["aisfx:embedding"]
    rng = np.random.default_rng(12)
    p = []
    for t in range(TRIALS):
        order = rng.permutation(len(rows))
        half = len(rows) // 2
        p.append(_p("fd", "fd", rows[order[:half]], rows[order[half:]], ref_rows, t))
    rejected = int(np.sum(np.array(p) <= ALPHA))
    assert NULL_COUNTS[0] <= rejected <= NULL_COUNTS[1], rejected
    assert json.dumps(result)  # the JSON is serialisable as it is

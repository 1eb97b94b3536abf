"""Metric functions against independent reference implementations, hand-checked cases and invariants."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist, pdist

from audiometric.errors import AudiometricError
from audiometric.metrics import (
    METRICS,
    MetricWarning,
    extrapolate,
    fd_infinity,
    frechet_distance,
    frechet_distance_compat,
    frechet_from_features,
    get_metric,
    inception_score,
    kernel_audio_distance,
    kl_sigmoid,
    kl_softmax,
    median_pairwise_distance,
    pair_clips,
    pairing,
)
from audiometric.metrics import kad as kad_module
from audiometric.metrics.bootstrap import ClipRows, draw_replicates, frechet_replicate, interval


def _gaussian(rng: np.random.Generator, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    """``n`` rows of a fixed correlated ``d``-dim Gaussian (the mixing depends on ``d`` only), plus ``shift``."""
    mix = np.eye(d) + 0.3 * np.random.default_rng(d).standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + shift


def _sqrtm_fd(mu1, s1, mu2, s2) -> float:
    """Textbook FD with scipy's general matrix square root (Heusel et al. 2017)."""
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)


# ----------------------------------------------------------------------------------------- Fréchet
@pytest.mark.parametrize("d", [64, 128, 256])
def test_frechet_matches_sqrtm_reference(d: int) -> None:
    rng = np.random.default_rng(d)
    x, y = _gaussian(rng, 4 * d, d), _gaussian(rng, 5 * d, d, shift=0.1) * 1.2
    mu1, s1, mu2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    ours = frechet_distance(mu1, s1, mu2, s2, n1=len(x), n2=len(y))
    assert ours == pytest.approx(_sqrtm_fd(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_identical_and_mean_shift() -> None:
    rng = np.random.default_rng(0)
    x = _gaussian(rng, 300, 16)
    mu, s = x.mean(0), np.cov(x, rowvar=False)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-10 * np.trace(s)
    delta = rng.standard_normal(16)
    assert frechet_distance(mu + delta, s, mu, s) == pytest.approx(delta @ delta, rel=1e-9)


@pytest.mark.parametrize("n1, n2", [(25, 30), (25, 200), (200, 25)])
def test_frechet_singular_covariance_matches_nuclear_norm_identity(n1: int, n2: int) -> None:
    # N <= d for one or both sets (covering the Cholesky-of-either and eigh code paths). With
    # S_i = A_i A_i^T (A_i = centred rows^T / sqrt(n_i - 1)), tr sqrt(S1 S2) is the nuclear norm of A1^T A2.
    rng = np.random.default_rng(1)
    d = 40
    x, y = _gaussian(rng, n1, d), _gaussian(rng, n2, d, shift=0.2)
    xc, yc = x - x.mean(0), y - y.mean(0)
    nuclear = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / math.sqrt((len(x) - 1) * (len(y) - 1))
    diff = x.mean(0) - y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * nuclear
    with pytest.warns(MetricWarning, match=r"N <= d"):
        ours = frechet_from_features(x, y)
    assert ours == pytest.approx(expected, rel=1e-8)


def test_frechet_warns_on_constant_feature_but_never_fails() -> None:
    rng = np.random.default_rng(2)
    x, y = _gaussian(rng, 200, 8), _gaussian(rng, 200, 8)
    x[:, 3] = 1.0  # a dead unit: zero variance
    with pytest.warns(MetricWarning, match="singular"):
        value = frechet_from_features(x, y)
    assert np.isfinite(value)


def test_frechet_never_negative_beyond_rounding() -> None:
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        for trial in range(20):
            d = int(rng.integers(2, 30))
            n = int(rng.integers(3, 60))
            x = _gaussian(rng, n, d)
            y = x[rng.permutation(n)] if trial % 2 else _gaussian(rng, n, d)
            value = frechet_from_features(x, y)
            scale = np.trace(np.cov(x, rowvar=False)) + np.trace(np.cov(y, rowvar=False))
            assert value >= -1e-10 * scale


def test_frechet_compat_equals_straight_audioldm_eval_formula() -> None:
    rng = np.random.default_rng(4)
    x = torch.from_numpy(_gaussian(rng, 400, 32).astype(np.float32))
    y = torch.from_numpy(_gaussian(rng, 300, 32, shift=0.3).astype(np.float32))
    # Straight transcription of the audioldm_eval recipe on float32 torch features.
    mu1, mu2 = np.mean(x.numpy(), axis=0), np.mean(y.numpy(), axis=0)
    s1, s2 = np.cov(x.numpy(), rowvar=False), np.cov(y.numpy(), rowvar=False)
    assert mu1.dtype == np.float32 and s1.dtype == np.float64
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    diff = mu1 - mu2
    expected = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))

    assert frechet_from_features(x.numpy(), y.numpy(), compat=True) == expected
    assert frechet_distance_compat(mu1, s1, mu2, s2) == expected
    # The float64 computation agrees up to the float32 mean and sqrtm drift.
    assert frechet_from_features(x.numpy(), y.numpy()) == pytest.approx(expected, rel=1e-5)


def test_frechet_compat_retries_with_offset_on_singular_product() -> None:
    # sqrtm of a nilpotent product is infinite; the retry adds 1e-6 I to both matrices. By hand:
    # (S1 + eps I)(I + eps I) = [[a, b], [0, a]] with a = eps (1 + eps), whose square root has trace 2 sqrt(a).
    eps = 1e-6
    s1, s2, mu = np.array([[0.0, 1.0], [0.0, 0.0]]), np.eye(2), np.zeros(2)
    with pytest.warns(MetricWarning, match="adding 1e-06"):
        value = frechet_distance_compat(mu, s1, mu, s2)
    assert value == pytest.approx(2.0 - 4.0 * math.sqrt(eps * (1 + eps)), rel=1e-9)


def test_frechet_compat_is_quiet_apart_from_our_warning() -> None:
    rng = np.random.default_rng(14)
    x, y = _gaussian(rng, 10, 16).astype(np.float32), _gaussian(rng, 12, 16).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frechet_from_features(x, y, compat=True)
    assert caught and all(issubclass(w.category, MetricWarning) for w in caught)
    assert any("N <= d" in str(w.message) for w in caught)


def test_frechet_rejects_mismatched_dimensions() -> None:
    with pytest.raises(AudiometricError, match="same backbone"):
        frechet_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(AudiometricError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ----------------------------------------------------------------------------------- Inception score
def _loop_inception_score(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    n, c = logits.shape
    rows = [list(map(float, logits[i])) for i in np.random.RandomState(seed).permutation(n)]
    probs = []
    for row in rows:
        top = max(row)
        z = sum(math.exp(v - top) for v in row)
        probs.append([math.exp(v - top) / z for v in row])
    scores = []
    for k in range(splits):
        part = probs[k * n // splits : (k + 1) * n // splits]
        marginal = [sum(p[j] for p in part) / len(part) for j in range(c)]
        kl = [sum(p[j] * (math.log(p[j]) - math.log(marginal[j])) for j in range(c)) for p in part]
        scores.append(math.exp(sum(kl) / len(kl)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


def test_inception_score_matches_loop_reference() -> None:
    logits = np.random.default_rng(5).standard_normal((53, 7)) * 2.5
    mean, std = inception_score(logits)
    ref_mean, ref_std = _loop_inception_score(logits, 10, 2020)
    assert mean == pytest.approx(ref_mean, rel=1e-12)
    assert std == pytest.approx(ref_std, rel=1e-9)


def test_inception_score_extremes() -> None:
    mean, std = inception_score(np.zeros((40, 5)))
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    classes = 10
    confident = 40.0 * np.eye(classes)[np.arange(2000) % classes]
    assert inception_score(confident, seed=None)[0] == pytest.approx(classes, rel=1e-9)
    assert inception_score(confident)[0] > 0.85 * classes  # shuffled splits are only roughly balanced
    with pytest.raises(AudiometricError, match="at least 10 clips"):
        inception_score(np.zeros((9, 5)))


# ------------------------------------------------------------------------------------------------ KL
def _loop_kl(gen: np.ndarray, ref: np.ndarray, squash: str) -> float:
    total = 0.0
    for g_row, r_row in zip(gen, ref):
        if squash == "softmax":
            zg, zr = sum(math.exp(v) for v in g_row), sum(math.exp(v) for v in r_row)
            pg, pr = [math.exp(v) / zg for v in g_row], [math.exp(v) / zr for v in r_row]
        else:
            pg, pr = [1 / (1 + math.exp(-v)) for v in g_row], [1 / (1 + math.exp(-v)) for v in r_row]
        total += sum(r * (math.log(r) - math.log(g + 1e-6)) for g, r in zip(pg, pr))
    return total / len(gen)


def test_kl_matches_loops_and_torch_kl_div() -> None:
    rng = np.random.default_rng(6)
    gen, ref = rng.standard_normal((12, 9)) * 3, rng.standard_normal((12, 9)) * 3
    assert kl_softmax(gen, ref) == pytest.approx(_loop_kl(gen, ref, "softmax"), rel=1e-12)
    assert kl_sigmoid(gen, ref) == pytest.approx(_loop_kl(gen, ref, "sigmoid"), rel=1e-12)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        g, r = torch.tensor(gen, dtype=dtype), torch.tensor(ref, dtype=dtype)
        soft = torch.nn.functional.kl_div((g.softmax(1) + 1e-6).log(), r.softmax(1), reduction="sum") / len(g)
        sig = torch.nn.functional.kl_div((g.sigmoid() + 1e-6).log(), r.sigmoid(), reduction="sum") / len(g)
        assert kl_softmax(gen, ref) == pytest.approx(float(soft), rel=tol)
        assert kl_sigmoid(gen, ref) == pytest.approx(float(sig), rel=tol)


def test_kl_direction_is_reference_against_generated() -> None:
    # Reference sure of class 0, generated uniform: KL(ref||gen) ~ log C; KL(gen||ref) is far larger.
    ref = np.array([[30.0, 0.0, 0.0, 0.0]])
    gen = np.zeros((1, 4))
    assert kl_softmax(gen, ref) == pytest.approx(math.log(4), rel=1e-5)
    assert kl_softmax(ref, gen) > 5 * kl_softmax(gen, ref)
    assert abs(kl_softmax(gen, gen)) < 1e-5


def test_pairing_by_clip_name_including_subfolders() -> None:
    gen = ["b.wav", "a.wav", "sub/c.wav", "other/c.wav"]  # clip names are paths relative to the set's folder
    ref = ["other/c.wav", "sub/c.wav", "a.wav", "b.wav"]
    pairs = pairing(gen, ref)
    assert isinstance(pairs, list) and len(pairs) == 4
    assert all(gen[i] == ref[j] for i, j in pairs)


def test_pair_clips_falls_back_to_stems_only_when_they_match_one_to_one() -> None:
    gen = [f"{i}.wav" for i in range(5)]
    pairs, note = pair_clips(gen, [f"{i}.flac" for i in range(5)])
    assert [(gen[i], j) for i, j in pairs] == [(f"{k}.wav", k) for k in range(5)]
    assert "differ only by their extensions" in note and "0.wav with 0.flac" in note
    assert pair_clips(gen, list(gen)) == ([(k, k) for k in range(5)], "")
    with pytest.raises(AudiometricError, match="match once extensions are ignored.*more than once"):
        pair_clips(gen, [f"{i}.flac" for i in range(5)] + ["0.mp3"])  # stem '0' twice in the reference
    with pytest.raises(AudiometricError, match="only 0 of 5") as err:
        pair_clips(gen, [f"x{i}.flac" for i in range(5)])
    assert "extensions" not in str(err.value)


def test_pairing_99_percent_rule_both_ways() -> None:
    names = [f"{i:04d}.wav" for i in range(1000)]
    assert len(pairing(names, names[:995])) == 995  # 995/1000 and 995/995 both exceed 99 %
    assert len(pairing(names[:995], names)) == 995
    assert isinstance(pairing(names, names[:990]), str)  # 990/1000 is not > 99 %
    assert isinstance(pairing(names[:990], names), str)
    hundred = names[:100]
    assert isinstance(pairing(hundred, hundred[:99] + ["other.wav"]), str)  # exactly 99 % is not enough


def test_pairing_reason_strings() -> None:
    gen = [f"g{i}.wav" for i in range(10)] + [f"s{i}.wav" for i in range(40)]
    ref = [f"r{i}.wav" for i in range(20)] + [f"s{i}.wav" for i in range(40)]
    reason = pairing(gen, ref)
    assert isinstance(reason, str)
    assert "only 40 of 50 generated names match the 60 reference names" in reason
    assert "more than once" in pairing(["x.wav", "x.wav"], ["x.wav"])
    assert "non-empty" in pairing([], ["x.wav"])


# ----------------------------------------------------------------------------------------------- KAD
def _dense_kad(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    k = lambda a, b: np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2))  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    mmd = (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return 100.0 * (mmd - 2 * kxy.mean())


def test_kad_blockwise_equals_dense_and_uses_reference_bandwidth() -> None:
    rng = np.random.default_rng(7)
    x, y = _gaussian(rng, 57, 6, shift=0.4) * 2.0, _gaussian(rng, 43, 6)
    ref_distances = np.sort(pdist(y))
    sigma = ref_distances[(len(ref_distances) - 1) // 2]  # lower median over the reference pairs
    assert median_pairwise_distance(y) == pytest.approx(sigma, rel=1e-12)
    dense = _dense_kad(x, y, sigma)
    assert kernel_audio_distance(x, y) == pytest.approx(dense, rel=1e-10)
    assert kernel_audio_distance(x, y, block_size=5) == pytest.approx(dense, rel=1e-10)
    # sigma comes from the reference only: the generated set's spread does not enter it.
    assert kernel_audio_distance(x * 3, y, bandwidth=sigma) == pytest.approx(kernel_audio_distance(x * 3, y), rel=1e-12)
    assert kernel_audio_distance(x, y, scale=1.0) == pytest.approx(dense / 100.0, rel=1e-10)


def test_kad_unbiased_and_grows_with_shift() -> None:
    rng = np.random.default_rng(8)
    values = [kernel_audio_distance(rng.standard_normal((60, 4)), rng.standard_normal((60, 4))) for _ in range(40)]
    assert min(values) < 0  # unbiased: the estimate scatters around zero
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(len(values))
    ref = rng.standard_normal((200, 4))
    shifted = [kernel_audio_distance(rng.standard_normal((200, 4)) + s, ref) for s in (0.5, 1.0, 2.0)]
    assert shifted[0] < shifted[1] < shifted[2]


def test_median_histogram_path_is_exact(monkeypatch) -> None:
    monkeypatch.setattr(kad_module, "_EXACT_SELECT_MAX", 50)
    monkeypatch.setattr(kad_module, "_HIST_BINS", 8)
    rng = np.random.default_rng(9)
    for x in (rng.standard_normal((80, 3)), np.repeat(rng.standard_normal((4, 3)), 25, axis=0)):
        dist = np.sort(pdist(x))
        expected = dist[(len(dist) - 1) // 2]
        assert median_pairwise_distance(x, block_size=16) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_kad_rejects_degenerate_reference() -> None:
    with pytest.raises(AudiometricError, match="identical"):
        kernel_audio_distance(np.random.default_rng(0).standard_normal((5, 3)), np.ones((5, 3)))


# --------------------------------------------------------------------------------------------- FD-inf
def test_extrapolation_recovers_exact_intercept() -> None:
    clips = [np.zeros((1, 2)) for _ in range(300)]
    fit = extrapolate(clips, lambda rows: 2.5 + 40.0 / len(rows), seed=0)
    assert fit.intercept == pytest.approx(2.5, rel=1e-9)
    assert fit.slope == pytest.approx(40.0, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    sizes = [p[0] for p in fit.points]
    assert sizes[0] == 150 and sizes[-1] == 300 and len(sizes) == 15


def test_fd_infinity_removes_sample_size_bias() -> None:
    rng = np.random.default_rng(10)
    d = 4
    clips = [row[None, :] for row in rng.standard_normal((4000, d))]
    fit = fd_infinity(clips, np.zeros(d), np.eye(d), min_clips=400, seed=1)
    smallest = fit.points[0][2]
    assert fit.slope > 0 and smallest > 0
    assert abs(fit.intercept) < 0.25 * smallest  # same distribution: the bias/N part is extrapolated away


def test_extrapolation_is_seeded_and_moves_whole_clips() -> None:
    rng = np.random.default_rng(11)
    frames = rng.integers(1, 9, size=60)
    clips = [np.full((k, 1), float(i)) for i, k in enumerate(frames)]

    def whole_clips_only(rows: np.ndarray) -> float:
        ids, counts = np.unique(rows[:, 0].astype(int), return_counts=True)
        assert np.array_equal(counts, frames[ids])  # every drawn clip arrives with all of its frames
        return float(len(ids))

    a = extrapolate(clips, whole_clips_only, min_clips=10, seed=3)
    b = extrapolate(clips, whole_clips_only, min_clips=10, seed=3)
    c = extrapolate(clips, lambda rows: float(rows.sum()), min_clips=10, seed=4)
    assert a.points == b.points
    assert all(n_clips == value for n_clips, _, value in a.points)
    assert a.points != [(n, f, v) for n, f, v in c.points]


# ---------------------------------------------------------------------------------------- bootstrap
def _clips(rng: np.random.Generator, n: int, d: int, shift: float, max_frames: int = 1) -> list[np.ndarray]:
    return [_gaussian(rng, int(rng.integers(1, max_frames + 1)), d, shift) for _ in range(n)]


def _boot(replicate, gen, ref=None, n_boot=200, seed=0, paired=False, resample_reference=True) -> np.ndarray:
    """Replicate values from the package's one bootstrap loop (``draw_replicates``)."""
    n_ref = None if ref is None or not resample_reference else len(ref)
    return draw_replicates({"m": replicate}, len(gen), n_ref, n_boot, seed, paired=paired)["m"]


def _gathered(metric, gen, ref=None):
    """A replicate that stacks the resampled clips' rows and calls ``metric(gen_rows, ref_rows)``."""
    g_rows = ClipRows(gen, "generated")
    r_rows = ClipRows(ref, "reference") if ref is not None else None
    return lambda g, r: metric(
        g_rows.gather(g), None if r_rows is None else r_rows.rows if r is None else r_rows.gather(r)
    )


def test_bootstrap_frechet_fast_path_equals_generic_bootstrap() -> None:
    rng = np.random.default_rng(12)
    gen, ref = _clips(rng, 40, 3, 0.5, max_frames=4), _clips(rng, 50, 3, 0.0, max_frames=4)
    fast = _boot(frechet_replicate(ClipRows(gen, "g"), ClipRows(ref, "r")), gen, ref, n_boot=20, seed=5)
    slow = _boot(_gathered(frechet_from_features, gen, ref), gen, ref, n_boot=20, seed=5)
    np.testing.assert_allclose(fast, slow, rtol=1e-9)
    assert interval(fast, 0.0) == pytest.approx(interval(slow, 0.0), rel=1e-9)


def test_bootstrap_seeded_covers_point_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(13)
    widths = []
    for n in (100, 1600):
        gen, ref = _clips(rng, n, 3, 1.0), _clips(rng, n, 3, 0.0)
        point = frechet_from_features(np.concatenate(gen), np.concatenate(ref))
        replicate = frechet_replicate(ClipRows(gen, "g"), ClipRows(ref, "r"))
        values = _boot(replicate, gen, ref, n_boot=100, seed=0)
        low, high = interval(values, point)
        assert low <= point <= high
        widths.append(high - low)
        np.testing.assert_array_equal(values, _boot(replicate, gen, ref, n_boot=100, seed=0))
        assert not np.array_equal(values, _boot(replicate, gen, ref, n_boot=100, seed=1))
    assert widths[1] < 0.5 * widths[0]


def test_bootstrap_paired_and_fixed_reference() -> None:
    ids = [np.full((1, 2), float(i)) for i in range(30)]
    seen = []

    def check_paired(g: np.ndarray, r: np.ndarray) -> float:
        np.testing.assert_array_equal(g, r)  # same clip indices on both sides
        seen.append(len(np.unique(g[:, 0])))
        return float(g.mean())

    paired = _boot(_gathered(check_paired, ids, ids), ids, ids, n_boot=10, paired=True)
    assert len(paired) == 10 and min(seen) < 30  # resampled with replacement
    full = np.concatenate(ids)
    fixed = _boot(
        _gathered(lambda g, r: float(np.array_equal(r, full)), ids, ids), ids, ids, 5, resample_reference=False
    )
    assert interval(fixed, 1.0) == (1.0, 1.0)
    gen_only = _boot(_gathered(lambda g, r: float(r is None), ids), ids, n_boot=3)
    assert gen_only.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(AudiometricError, match="confidence"):
        interval(gen_only, 1.0, confidence=95)
    with pytest.raises(AudiometricError, match="index-aligned"):
        draw_replicates({"m": lambda g, r: 0.0}, 30, 29, 3, paired=True)


# ---------------------------------------------------------------------------------------- registry
def test_registry_entries() -> None:
    assert {"fd", "fad", "is", "kl", "kad", "kid", "density_coverage"} <= set(METRICS)
    assert get_metric("fd").lower_is_better and not get_metric("is").lower_is_better
    assert get_metric("fad").defined_on == ("vggish",) and get_metric("kad").defined_on == ()
    assert get_metric("is").output == "logits" and get_metric("fd").output == "embedding"
    with pytest.raises(AudiometricError, match="unknown metric"):
        get_metric("fid")


def test_low_rank_frechet_equals_covariance_path_and_weights_equal_repeats() -> None:
    from audiometric.metrics.frechet import frechet_from_rows

    rng = np.random.default_rng(11)
    d = 96
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal((40, d)) @ mix + 0.3
    y = rng.standard_normal((55, d)) @ mix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        dense = frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
        low = frechet_from_rows(x, y)
        assert low == pytest.approx(dense, rel=1e-9)
        assert frechet_from_features(x, y) == pytest.approx(dense, rel=1e-9)  # N < d takes this path
        w = rng.integers(0, 3, len(x))
        w[:2] = 1
        repeated = np.repeat(x, w, axis=0)
        assert frechet_from_rows(x, y, wx=w) == pytest.approx(frechet_from_rows(repeated, y), rel=1e-10)
    with pytest.warns(MetricWarning, match="N <= d"):
        frechet_from_rows(x, y)


def test_bootstrap_low_rank_path_gives_the_covariance_path_replicates() -> None:
    import audiometric.metrics.bootstrap as boot

    rng = np.random.default_rng(12)
    gen = [rng.standard_normal((2, 80)) for _ in range(12)]
    ref = [rng.standard_normal((1, 80)) + 0.2 for _ in range(15)]
    # 24 and 15 rows < 80 dims: low-rank path
    fast = _boot(boot.frechet_replicate(boot.ClipRows(gen, "g"), boot.ClipRows(ref, "r")), gen, ref, n_boot=8, seed=4)
    generic = _boot(_gathered(_fd_cov, gen, ref), gen, ref, n_boot=8, seed=4)
    np.testing.assert_allclose(fast, generic, rtol=1e-8)


def _fd_cov(g: np.ndarray, r: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return frechet_distance(g.mean(0), np.cov(g, rowvar=False), r.mean(0), np.cov(r, rowvar=False))


def test_special_functions_match_scipy():
    """The numpy softmax family (metrics/special.py) equals scipy.special's to float64 rounding, extremes included."""
    import scipy.special as sp

    from audiometric.metrics import special

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 5, (20, 527)), np.full((1, 527), 800.0), np.full((1, 527), -800.0)])
    x[0, :3] = [-1e4, 1e4, 0.0]
    for axis in (0, 1):
        np.testing.assert_allclose(special.logsumexp(x, axis=axis), sp.logsumexp(x, axis=axis), rtol=1e-13)
        np.testing.assert_allclose(
            special.log_softmax(x, axis=axis), sp.log_softmax(x, axis=axis), rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(special.softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(special.expit(x), sp.expit(x), rtol=1e-14, atol=1e-300)
    p = special.softmax(x, axis=1)
    np.testing.assert_allclose(special.xlogy(p, p), sp.xlogy(p, p), rtol=1e-14, atol=1e-300)
    assert special.xlogy(np.zeros(2), np.zeros(2)).tolist() == [0.0, 0.0]

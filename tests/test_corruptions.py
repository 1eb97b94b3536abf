"""Properties of the corruption library: identity at severity 0, exact SNRs and mask fractions,
exactly-k permutations, interference class rules, seeding, and mel resynthesis fidelity."""

from __future__ import annotations

import json
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import corruptions
from corruptions import ClipTooShortError, CorruptionError, Pool, PoolError, SilentTargetError
from corruptions._mel import MelConfig, apply_mel_gains, n_frames, stft
from corruptions.event_permutation import compose, event_permutation
from corruptions.gaussian_noise import realised_snr_db, snr_db_to_severity
from corruptions.interference import fit_length, match_channels
from corruptions.interference_fraction import select
from corruptions.mel_mask import mask_from_record
from corruptions.mel_noise import noise_field_db

SR = 16000
FAST = settings(max_examples=25, deadline=None)
CLASSES = ("bell", "car", "cat", "dog", "rain", "wind")


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _clip(seed: int, samples: int = SR, channels: int | None = None) -> np.ndarray:
    shape = (samples,) if channels is None else (channels, samples)
    return (0.1 * _rng(seed).standard_normal(shape)).astype(np.float32)


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory):
    """Six classes, two clips each: one at 16 kHz (shorter than targets), one at 22.05 kHz (longer)."""
    root = tmp_path_factory.mktemp("pool")
    for i, label in enumerate(CLASSES):
        (root / label).mkdir()
        sf.write(root / label / "a.wav", _clip(10 + i, 6000), SR, subtype="FLOAT")
        sf.write(root / label / "b.wav", _clip(20 + i, 30000), 22050, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def pool(pool_dir):
    return Pool.from_path(pool_dir)


def _events(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = _rng(seed)
    return [(rng.standard_normal(int(rng.integers(200, 600))) * 0.1).astype(np.float32) for _ in range(n)]


def _apply_all(audio, rng_seed, severity_of, pool):
    """(name, output, record) for every registered corruption at the given severity."""
    events = _events(4)
    reference, _ = compose(events, SR)
    out = []
    for name in corruptions.names():
        entry = corruptions.get(name)
        kwargs = {}
        target = audio
        if name in ("interference", "interference_fraction"):
            kwargs = {"pool": pool, "target_label": "dog"}
        if name == "event_permutation":
            kwargs, target = {"events": events}, reference
        result, record = entry.apply(target, SR, _rng(rng_seed), severity_of(name), **kwargs)
        out.append((name, target, result, record))
    return out


def test_import_without_torch():
    code = "import sys, corruptions; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_entries_document_severity_and_params():
    for name in corruptions.names():
        entry = corruptions.get(name)
        assert entry.name == name and entry.severity.unit in ("ratio", "dB", "fraction", "count")
        text = entry.describe()
        assert name in text and all(p.name in text for p in entry.params + entry.inputs)
        assert set(entry.defaults()) == {p.name for p in entry.params}
    with pytest.raises(CorruptionError, match="choose one of"):
        corruptions.get("nope")


@pytest.mark.parametrize("channels", [None, 2])
def test_severity_zero_is_identity(pool, channels):
    audio = _clip(1, SR, channels)
    for name, target, result, record in _apply_all(audio, 0, lambda n: 0, pool):
        assert result.dtype == target.dtype and result.shape == target.shape, name
        assert result.tobytes() == target.tobytes(), name
        json.dumps(record)


@pytest.mark.parametrize("channels", [None, 3])
def test_outputs_keep_layout_and_records_are_json(pool, channels):
    severities = {
        "gaussian_noise": 0.1,
        "mel_noise": 3.0,
        "mel_mask": 0.2,
        "interference": 2,
        "interference_fraction": 0.5,
        "event_permutation": 2,
    }
    audio = _clip(2, SR, channels)
    for name, target, result, record in _apply_all(audio, 0, severities.__getitem__, pool):
        assert result.dtype == np.float32 and result.ndim == target.ndim, name
        if name != "event_permutation":
            assert result.shape == target.shape, name
        assert not np.array_equal(result, target), name
        json.dumps(record)


def test_same_seed_same_bytes_different_seed_different_draws(pool):
    severities = {
        "gaussian_noise": 0.1,
        "mel_noise": 3.0,
        "mel_mask": 0.2,
        "interference": 2,
        "interference_fraction": 0.5,
        "event_permutation": 3,
    }
    audio = _clip(3, SR)
    first = _apply_all(audio, 7, severities.__getitem__, pool)
    again = _apply_all(audio, 7, severities.__getitem__, pool)
    other = [_apply_all(audio, s, severities.__getitem__, pool) for s in (8, 9)]
    for i, (name, _, result, record) in enumerate(first):
        assert result.tobytes() == again[i][2].tobytes() and record == again[i][3], name
        assert any(o[i][2].tobytes() != result.tobytes() for o in other), name


# --- waveform noise -------------------------------------------------------------------------


@FAST
@given(
    snr=st.floats(-20.0, 60.0),
    samples=st.integers(16, 4000),
    channels=st.integers(1, 3),
    level=st.floats(1e-4, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_gaussian_noise_realised_snr_within_tenth_db(snr, samples, channels, level, seed):
    clean = (level * _rng(seed).uniform(-1, 1, (channels, samples))).astype(np.float32)
    noisy, record = corruptions.get("gaussian_noise").apply(clean, SR, _rng(seed), snr_db_to_severity(snr))
    measured = 10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum((noisy.astype(np.float64) - clean) ** 2))
    assert abs(measured - snr) < 0.1
    assert abs(record["realised_snr_db"] - measured) < 1e-9


def test_gaussian_noise_snr_matches_audiomentations_convention():
    """Our SNR measure agrees with audiomentations' AddGaussianSNR definition (noise RMS = signal RMS / 10^(snr/20))."""
    audiomentations = pytest.importorskip("audiomentations")
    import random

    clean = _clip(4, 200000)
    random.seed(0)
    np.random.seed(0)
    noisy = audiomentations.AddGaussianSNR(min_snr_db=12.0, max_snr_db=12.0, p=1.0)(clean, SR)
    assert abs(realised_snr_db(clean, noisy) - 12.0) < 0.05


def test_snr_corruptions_reject_silent_target(pool):
    silent = np.zeros(SR, dtype=np.float32)
    with pytest.raises(SilentTargetError, match="silent"):
        corruptions.get("gaussian_noise").apply(silent, SR, _rng(), 0.1)
    with pytest.raises(SilentTargetError, match="silent"):
        corruptions.get("interference").apply(silent, SR, _rng(), 1, pool=pool, target_label="dog")


# --- mel domain -----------------------------------------------------------------------------


def _librosa_log_mel(y: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Independent log-mel (dB) of a mono clip on the corruptions' default grid."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float64),
        sr=SR,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        window="hann",
        center=True,
        pad_mode="constant",
        power=2.0,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=SR / 2,
        htk=False,
        norm="slaney",
    )
    return 10 * np.log10(np.maximum(mel, 1e-10))


def test_stft_matches_librosa_and_unit_gains_reconstruct():
    x = _clip(5, 5000, 2).astype(np.float64)
    cfg = MelConfig()
    ours = stft(x, cfg)
    ref = librosa.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, window="hann", center=True, pad_mode="constant")
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    back = apply_mel_gains(x, SR, np.ones((cfg.n_mels, n_frames(x.shape[-1], cfg))), cfg)
    np.testing.assert_allclose(back, x, atol=1e-12)


def test_smooth_mel_gains_are_realised_on_the_mel_grid():
    """A time-invariant gain field (+-6 dB across bands) is met within 0.05 dB median, 0.3 dB p95."""
    x = _clip(6, 2 * SR)
    cfg = MelConfig()
    gain_db = 6 * np.sin(np.arange(cfg.n_mels) / cfg.n_mels * 6 * np.pi)[:, None] * np.ones((1, n_frames(x.size, cfg)))
    y = apply_mel_gains(x[None].astype(np.float64), SR, 10 ** (gain_db / 10), cfg)[0]
    err = np.abs(_librosa_log_mel(y) - _librosa_log_mel(x) - gain_db)
    assert np.median(err) < 0.05 and np.percentile(err, 95) < 0.3


@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_mel_noise_matches_intended_log_mel(sigma):
    """Realised log-mel change vs the drawn noise field: median |err| <= 0.5 sigma, p95 <= 1.7 sigma, corr >= 0.6.

    The overlap of STFT frames (75 %) smooths noise drawn independently per cell, so the match is
    statistical; cells more than 50 dB below the clip's peak are excluded.
    """
    x = _clip(7, 2 * SR)
    y, record = corruptions.get("mel_noise").apply(x, SR, _rng(1), sigma)
    field = noise_field_db(record, sigma)
    before = _librosa_log_mel(x)
    change = _librosa_log_mel(y) - before
    active = before > before.max() - 50
    err = np.abs(change - field)[active]
    assert np.median(err) <= 0.5 * sigma and np.percentile(err, 95) <= 1.7 * sigma
    assert np.corrcoef(change[active], field[active])[0, 1] >= 0.6


@pytest.mark.parametrize("mode", ["time", "freq", "patch"])
def test_mel_mask_silences_masked_cells_and_keeps_the_rest(mode):
    """Masked cells drop >= 20 dB on average; cells 3+ frames/1+ band away from a mask move < 0.1 dB (median)."""
    from scipy.ndimage import binary_dilation

    x = _clip(8, 2 * SR)
    y, record = corruptions.get("mel_mask").apply(x, SR, _rng(2), 0.3, mode=mode)
    mask = mask_from_record(record)
    change = _librosa_log_mel(y) - _librosa_log_mel(x)
    structure = np.ones((3, 7), dtype=bool)
    far = ~binary_dilation(mask, structure=structure)
    assert change[mask].mean() <= -20.0
    assert np.median(np.abs(change[far])) < 0.1 and np.percentile(np.abs(change[far]), 95) < 0.5


@FAST
@given(
    severity=st.floats(0.01, 0.95),
    mode=st.sampled_from(["time", "freq", "patch"]),
    max_frames=st.integers(1, 40),
    max_bands=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_mel_mask_fraction_within_one_percent(severity, mode, max_frames, max_bands, seed):
    x = _clip(9, 2 * SR)
    y, record = corruptions.get("mel_mask").apply(
        x, SR, _rng(seed), severity, mode=mode, max_frames=max_frames, max_bands=max_bands
    )
    mask = mask_from_record(record)
    assert mask.shape == (64, n_frames(x.size, MelConfig()))
    assert abs(mask.mean() - severity) <= 0.01
    assert record["masked_cells"] == mask.sum()
    if mode != "patch":
        limit = max_frames if mode == "time" else max_bands
        assert all(1 <= w <= limit for _, w in record["blocks"])
        # no block overlaps another, so the recorded widths add up to the masked rows/columns
        assert sum(w for _, w in record["blocks"]) * (64 if mode == "time" else mask.shape[1]) == mask.sum()


def test_mel_corruptions_reject_short_clips_and_bad_grids():
    short = _clip(10, 1000)
    for name in ("mel_noise", "mel_mask"):
        with pytest.raises(ClipTooShortError, match="n_fft=1024"):
            corruptions.get(name).apply(short, SR, _rng(), 0.5)
        corruptions.get(name).apply(short, SR, _rng(), 0.5, n_fft=512, hop_length=128)
        with pytest.raises(CorruptionError, match="hop_length"):
            corruptions.get(name).apply(_clip(10), SR, _rng(), 0.5, hop_length=600)


# --- interference ---------------------------------------------------------------------------


def _replay_interference(target: np.ndarray, record: dict, pool: Pool) -> np.ndarray:
    """Rebuild the mixture from the record alone: reload, place, match channels, scale, add."""
    x = np.atleast_2d(target).astype(np.float64)
    mix = x.copy()
    for item in record["interferers"]:
        clip, _ = pool.load(pool.find(item["path"]), SR)
        n = x.shape[-1]
        seg = clip[:, np.arange(n) % clip.shape[-1]] if item["looped"] else clip[:, item["offset"] : item["offset"] + n]
        seg, _ = match_channels(seg, x.shape[0])
        mix += item["gain"] * seg
    return mix


@pytest.mark.parametrize("channels", [None, 2])
def test_interference_classes_snr_and_replay(pool, channels):
    target = _clip(11, SR, channels)
    for seed in range(12):
        k = 1 + seed % 5
        snr = [-6.0, 0.0, 10.0][seed % 3]
        out, record = corruptions.get("interference").apply(
            target, SR, _rng(seed), k, pool=pool, target_label="dog", snr_db=snr
        )
        classes = [item["class"] for item in record["interferers"]]
        assert len(classes) == k == len(set(classes)) and "dog" not in classes
        mix = _replay_interference(target, record, pool)
        np.testing.assert_allclose(np.atleast_2d(out), mix, atol=1e-6)
        p_target = np.mean(np.atleast_2d(target).astype(np.float64) ** 2)
        for item in record["interferers"]:
            clip, info = pool.load(pool.find(item["path"]), SR)
            assert item["sample_rate"] == info["sample_rate"]
            assert ("resampled_to" in item) == (info["sample_rate"] != SR)
            assert abs(item["realised_snr_db"] - snr) < 0.1
        single = mix - np.atleast_2d(target)
        if k == 1:
            assert abs(10 * np.log10(p_target / np.mean(single**2)) - snr) < 0.1


def test_interference_skips_silent_interferers(tmp_path):
    (tmp_path / "dog").mkdir()
    (tmp_path / "quiet").mkdir()
    (tmp_path / "mixed").mkdir()
    sf.write(tmp_path / "dog" / "a.wav", _clip(1, 4000), SR)
    sf.write(tmp_path / "quiet" / "a.wav", np.zeros(4000, np.float32), SR)
    sf.write(tmp_path / "mixed" / "silent.wav", np.zeros(4000, np.float32), SR)
    sf.write(tmp_path / "mixed" / "sound.wav", _clip(2, 40000), SR)
    pool = Pool.from_path(tmp_path)
    seen_silent = False
    for seed in range(8):
        out, record = corruptions.get("interference").apply(_clip(3), SR, _rng(seed), 1, pool=pool, target_label="cat")
        assert [i["path"] for i in record["interferers"]] in (["mixed/sound.wav"], ["dog/a.wav"])
        for skip in record["skipped"]:
            assert skip.get("path") in ("quiet/a.wav", "mixed/silent.wav", None)
            seen_silent = True
    assert seen_silent
    with pytest.raises(PoolError, match="only 2 classes"):
        corruptions.get("interference").apply(_clip(3), SR, _rng(), 3, pool=pool, target_label="cat")


def test_interference_needs_enough_other_classes(pool):
    with pytest.raises(PoolError, match="5 classes other than 'dog', need 6"):
        corruptions.get("interference").apply(_clip(4), SR, _rng(), 6, pool=pool, target_label="dog")
    with pytest.raises(CorruptionError, match="count"):
        corruptions.get("interference").apply(_clip(4), SR, _rng(), 1.5, pool=pool, target_label="dog")


def test_fit_length_crops_and_loops():
    clip = np.arange(10, dtype=np.float64)[None]
    seg, info = fit_length(clip, 4, _rng(0))
    assert seg.tolist() == [list(range(info["offset"], info["offset"] + 4))] and not info["looped"]
    seg, info = fit_length(clip, 23, _rng(0))
    assert seg[0].tolist() == [i % 10 for i in range(23)] and info["looped"]


def test_pool_from_csv_matches_folder(pool_dir, tmp_path):
    csv_path = tmp_path / "pool.csv"
    rows = ["path,label"] + [f"{pool_dir / c / 'a.wav'},{c}" for c in CLASSES]
    csv_path.write_text("\n".join(rows) + "\n")
    pool = Pool.from_path(csv_path)
    assert pool.classes() == sorted(CLASSES) and all(len(pool.clips(c)) == 1 for c in CLASSES)
    csv_path.write_text("missing.wav,dog\n")
    with pytest.raises(PoolError, match="does not exist"):
        Pool.from_path(csv_path)


@FAST
@given(n=st.integers(1, 60), fraction=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_set_selection_exact_count_and_order_free(n, fraction, seed):
    names = [f"clip{i:03d}.wav" for i in range(n)]
    chosen = select(names, fraction, _rng(seed))
    assert len(chosen) == round(fraction * n) and chosen <= set(names)
    assert select(list(reversed(names)), fraction, _rng(seed)) == chosen


def test_set_selection_differs_across_seeds():
    names = [f"clip{i:03d}.wav" for i in range(20)]
    assert len({frozenset(select(names, 0.5, _rng(s))) for s in range(5)}) > 1


# --- event permutation ----------------------------------------------------------------------


def test_compose_hand_checked_layout():
    a, b = np.array([1, 2, 3], np.float32), np.array([4, 5, 6, 7, 8], np.float32)
    out, record = compose([a, b], 1000, gap_s=0.002)
    assert out.tolist() == [1, 2, 3, 0, 0, 4, 5, 6, 7, 8]
    assert record["boundaries"] == [[0, 3], [5, 10]]
    out, record = compose([np.ones(6, np.float32), np.ones(6, np.float32)], 1000, crossfade_s=0.002)
    assert record["boundaries"] == [[0, 6], [4, 10]]
    np.testing.assert_allclose(out, np.ones(10), atol=1e-7)  # complementary fades sum to one
    with pytest.raises(CorruptionError, match="not both"):
        compose([a, b], 1000, gap_s=0.001, crossfade_s=0.001)


@FAST
@given(n=st.integers(2, 8), data=st.data(), seed=st.integers(0, 2**32 - 1), gap=st.sampled_from([0.0, 0.01]))
def test_permutation_displaces_exactly_k_and_keeps_samples(n, data, seed, gap):
    k = data.draw(st.sampled_from([0] + list(range(2, n + 1))))
    events = _events(n, seed % 1000)
    reference, _ = compose(events, SR, gap_s=gap)
    out, record = event_permutation(reference, SR, _rng(seed), k, events=events, gap_s=gap)
    if k == 0:
        assert out is reference
        return
    order = record["order"]
    assert sorted(order) == list(range(n))
    assert sum(i != j for i, j in enumerate(order)) == k == len(record["displaced"])
    assert out.shape == reference.shape
    np.testing.assert_array_equal(np.sort(out), np.sort(reference))
    for slot, (start, end) in enumerate(record["boundaries"]):
        np.testing.assert_array_equal(out[start:end], events[order[slot]])


def test_permutation_with_crossfade_keeps_event_cores():
    events = _events(5, 3)
    reference, _ = compose(events, SR, crossfade_s=0.005)
    out, record = event_permutation(reference, SR, _rng(1), 5, events=events, crossfade_s=0.005)
    fade = record["crossfade_samples"]
    assert fade == 80 and out.shape == reference.shape
    for slot, (start, end) in enumerate(record["boundaries"]):
        np.testing.assert_array_equal(out[start + fade : end - fade], events[record["order"][slot]][fade:-fade])


def test_permutation_rejects_impossible_severities():
    events = _events(4)
    reference, _ = compose(events, SR)
    for k in (1, 5, 2.5):
        with pytest.raises(CorruptionError, match="severity"):
            event_permutation(reference, SR, _rng(), k, events=events)
    with pytest.raises(CorruptionError, match="not the composition"):
        event_permutation(reference[:-1], SR, _rng(), 2, events=events)


def test_multichannel_events_compose():
    stereo = [_clip(i, 300, 2) for i in range(3)]
    out, _ = compose(stereo + [_clip(9, 200)], SR)
    assert out.shape == (2, 1100)
    np.testing.assert_array_equal(out[:, 900:], np.repeat(_clip(9, 200)[None], 2, axis=0))


def test_severity_facts_come_from_the_registry_entry() -> None:
    """Help text, the bound check and the sweep's levels agree with each corruption's entry."""
    import corruptions as lib
    from audiometric.sweep.spec import SCALES

    for name, entry in lib.registry.REGISTRY.items():
        low, high = entry.severity.bounds
        scale = SCALES[name]
        assert (scale.low, scale.high, scale.levels, scale.label) == (low, high, entry.levels, entry.axis)
        assert all(low <= v <= high for v in entry.levels) and entry.levels[0] == 0
        assert entry.severity.span().split(" ")[0] in entry.describe()
        assert entry.check(high) == high
        with pytest.raises(CorruptionError, match=f"{name}: severity must be"):
            entry.check(high * 2 + 1)

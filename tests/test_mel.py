"""AudioLDM's mel front end: filterbank against librosa, frame count, log floor, waveform fitting."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from conftest import write_wav

from audiometric.errors import AudiometricError
from audiometric.ldm import mel


def test_filterbank_matches_librosa_slaney():
    ours = mel.mel_filterbank().numpy()
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=64, fmin=0, fmax=8000, htk=False, norm="slaney")
    assert ours.shape == (64, 513)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-8)


def test_log_mel_matches_librosa_magnitude_mel():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    wave = (0.3 * rng.standard_normal(20480)).astype(np.float32)
    ours = mel.log_mel(torch.from_numpy(wave)[None], duration=1.28)[0].numpy()
    spec = librosa.feature.melspectrogram(
        y=wave,
        sr=16000,
        n_fft=1024,
        hop_length=160,
        win_length=1024,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=1.0,
        n_mels=64,
        fmin=0,
        fmax=8000,
        htk=False,
        norm="slaney",
    )
    ref = np.log(np.clip(spec, 1e-5, None)).T
    assert ref.shape == (20480 // 160 + 1, 64)  # centred frames: N / hop + 1
    assert ours.shape == (128, 64)  # cut to duration · 100 frames
    np.testing.assert_allclose(ours, ref[:128], atol=2e-4)


def test_log_floor_and_padding_of_short_input():
    out = mel.log_mel(torch.zeros(2, 8000), duration=1.28)
    assert out.shape == (2, 128, 64)
    assert torch.allclose(out[:, :51], torch.full_like(out[:, :51], np.log(1e-5)))
    assert torch.all(out[:, 51:] == 0)  # AudioLDM pads missing frames with zeros


def test_fit_waveform_normalises_pads_and_crops():
    wave = np.linspace(-1, 3, 1000, dtype=np.float32)
    short = mel.fit_waveform(wave, 1600)
    assert short.shape == (1600,) and np.all(short[1000:] == 0)
    assert abs(short[:1000].mean()) < 1e-6 and np.isclose(np.abs(short).max(), 0.5, atol=1e-6)
    long = mel.fit_waveform(wave, 400, offset=100)
    expected = wave[100:500] - wave[100:500].mean()
    np.testing.assert_allclose(long, 0.5 * expected / np.abs(expected).max(), atol=1e-6)


def test_crop_offset_seeded_and_in_range():
    offsets = {mel.crop_offset(5000, 1000, seed, "clip") for seed in range(20)}
    assert len(offsets) > 5 and all(0 <= o <= 4000 for o in offsets)
    assert mel.crop_offset(5000, 1000, 3, "clip") == mel.crop_offset(5000, 1000, 3, "clip")
    assert mel.crop_offset(900, 1000, 3, "clip") == 0


def test_clip_for_training_resamples_and_names_bad_files(tmp_path):
    t = np.arange(44100 * 2) / 44100
    path = write_wav(tmp_path / "a.wav", (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100)
    wave, sha, offset = mel.clip_for_training(path, duration=1.28, seed=0)
    assert wave.shape == (20480,) and len(sha) == 64 and 0 <= offset <= 32000 - 20480
    assert np.isclose(np.abs(wave).max(), 0.5, atol=1e-3)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(AudiometricError, match="bad.wav"):
        mel.clip_for_training(bad, duration=1.28, seed=0)
